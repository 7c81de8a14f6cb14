// SessionRepository: where agents keep conversation sessions. Backends, chosen by URL:
//   ""  or memory://            in-process store (the embedded default), memory_repository.h
//   redis://[user:pass@]host:port, rediss://...   one Redis server       redis_repository.h
//   redis-cluster://host:port[,host:port...]      a Redis Cluster        redis_repository.h
//
// Every operation returns a Result (no exceptions) and is counted in
//   sessions_total{operation,status}            status: ok | not_found | error
//   session_operation_duration_seconds{operation}
// and the stores report active_sessions{backend} (memory: live size; redis: the last
// count_active).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "redis/client.h"
#include "sessions/session.h"

namespace suoke::sessions {

struct SessionOptions {
  // save() keeps only the newest turns of a session's history.
  std::size_t max_history_turns = 50;

  // Memory backend. The store is split into `shards` maps, each with its own lock, and each
  // shard holds at most max_sessions/shards sessions and max_bytes/shards bytes (rounded up):
  // when a shard is full, save() evicts that shard's least recently used sessions (saved,
  // touched or read longest ago). 0 means no bound.
  std::size_t shards = 16;
  std::size_t max_sessions = 1'000'000;
  std::size_t max_bytes = std::size_t{512} << 20;
  // Expired sessions are dropped when accessed and by a background sweep every
  // sweep_interval (0: no sweep thread; sweep_expired() can be called instead).
  std::chrono::milliseconds sweep_interval{1000};
  // TTLs are measured on this clock (tests pass a FakeClock). Must outlive the repository.
  const Clock* clock = &Clock::system();

  // Redis backends.
  redis::ClientOptions redis;
  std::chrono::milliseconds redis_timeout{2000};
  // list_user_sessions reads the per-user index in pages of this many entries.
  std::size_t list_page_size = 64;
  // A user's index keeps at most this many newest sessions (0: unbounded), so entries of
  // sessions that expired are not kept forever for a user who never lists them.
  std::size_t max_user_index = 1000;
};

class SessionRepository {
 public:
  virtual ~SessionRepository() = default;
  SessionRepository(const SessionRepository&) = delete;
  SessionRepository& operator=(const SessionRepository&) = delete;

  // "memory", "redis" or "redis-cluster".
  std::string_view backend() const { return backend_; }

  // Stores the session (history trimmed to max_history_turns) with a TTL set in the same
  // write, replacing any earlier version, and indexes it under its user.
  Result<void> save(const Session& session, int64_t ttl_seconds = 3600);
  // nullopt when there is no such session (never saved, removed or expired); an Error when
  // the store fails or holds something that is not a session under that id.
  Result<std::optional<Session>> get(std::string_view session_id);
  // true when a session was removed.
  Result<bool> remove(std::string_view session_id);
  // Sets the session's TTL to ttl_seconds from now; false when there is no such session.
  Result<bool> touch(std::string_view session_id, int64_t ttl_seconds = 3600);
  // Sessions currently stored. Redis: SCAN of session:* on every master (never KEYS); a
  // key can be counted twice while the keyspace is being rehashed or resharded.
  Result<std::size_t> count_active();
  // The user's live sessions, newest last_active first (ties: greater session_id first), at
  // most `limit`.
  Result<std::vector<Session>> list_user_sessions(std::string_view user_id, std::size_t limit = 20);

 protected:
  SessionRepository(std::string backend, const SessionOptions& options);

  virtual Result<void> do_save(const Session& trimmed, const std::string& stored,
                               int64_t ttl_seconds) = 0;
  virtual Result<std::optional<Session>> do_get(std::string_view session_id) = 0;
  virtual Result<bool> do_remove(std::string_view session_id) = 0;
  virtual Result<bool> do_touch(std::string_view session_id, int64_t ttl_seconds) = 0;
  virtual Result<std::size_t> do_count_active() = 0;
  virtual Result<std::vector<Session>> do_list_user_sessions(std::string_view user_id,
                                                             std::size_t limit) = 0;

  const SessionOptions& options() const { return options_; }

 private:
  struct Instruments;
  std::string backend_;
  SessionOptions options_;
  std::shared_ptr<const Instruments> instruments_;
};

// Picks the backend from the URL (see the top of this file). Redis backends connect (and
// for a cluster load the slot map) before returning.
Result<std::unique_ptr<SessionRepository>> open_session_repository(
    std::string_view url, const SessionOptions& options = {});

// A Redis backend over an existing client (standalone or cluster), e.g. one shared with the
// rate limiter.
std::unique_ptr<SessionRepository> make_redis_session_repository(
    std::shared_ptr<redis::Client> client, const SessionOptions& options = {});

}  // namespace suoke::sessions
