// The embedded session store: sessions kept in this process, in their stored form (the same
// JSON as the Redis backends, so a copy is what a caller gets and memory use is measured in
// real bytes).
//
// Concurrency: sessions are spread over SessionOptions::shards shards by a hash of the
// session id, each shard with its own mutex; the per-user index has its own shards. No
// operation holds two session-shard locks; where an index lock and a session-shard lock are
// both held, the index lock is taken first.
//
// Bounds: each shard holds at most ceil(max_sessions / shards) sessions and
// ceil(max_bytes / shards) bytes (key + stored form + user id + fixed overhead). A save that
// would exceed them evicts the shard's least recently used sessions (saved, touched or read
// longest ago) rather than failing: a session store that refuses new conversations is worse
// than one that forgets the stalest. Only a session larger than a whole shard's byte budget
// is refused (Error kind "too_large"). Evictions are counted in
// sessions_evicted_total{backend="memory"}.
//
// Expiry: a session past its TTL is dropped when accessed, preferred as an eviction victim, and
// dropped by a background sweep (every sweep_interval, each shard scanned under its own lock
// in turn, so other shards stay available).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sessions/repository.h"

namespace suoke::telemetry {
class Gauge;
class Counter;
}  // namespace suoke::telemetry

namespace suoke::sessions {

class MemorySessionRepository final : public SessionRepository {
 public:
  explicit MemorySessionRepository(const SessionOptions& options = {});
  ~MemorySessionRepository() override;

  // Drops expired sessions now; returns how many.
  std::size_t sweep_expired();

  // Milliseconds the session has left, nullopt when absent or expired.
  std::optional<int64_t> ttl_ms(std::string_view session_id);

  // Stores bytes under a session id as they are, without parsing (loading from another store;
  // tests store garbage to see get() fail cleanly). Not indexed under any user.
  Result<void> store_raw(std::string_view session_id, std::string stored, int64_t ttl_seconds);

  // Bytes and sessions currently held, summed over shards (expired but unswept included).
  std::size_t bytes_used() const;
  std::size_t size() const;
  std::size_t shard_count() const { return shards_.size(); }
  std::size_t shard_of(std::string_view session_id) const;
  std::size_t evictions() const;

 protected:
  Result<void> do_save(const Session& trimmed, const std::string& stored,
                       int64_t ttl_seconds) override;
  Result<std::optional<Session>> do_get(std::string_view session_id) override;
  Result<bool> do_remove(std::string_view session_id) override;
  Result<bool> do_touch(std::string_view session_id, int64_t ttl_seconds) override;
  Result<std::size_t> do_count_active() override;
  Result<std::vector<Session>> do_list_user_sessions(std::string_view user_id,
                                                     std::size_t limit) override;

 private:
  // Lets maps be searched with a string_view, without building a std::string per lookup.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <class V>
  using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

  struct Entry {
    std::string stored;
    std::string user_id;  // empty for store_raw entries
    int64_t last_active = 0;
    int64_t expires_at_ms = 0;
    std::size_t bytes = 0;
    std::list<const std::string*>::iterator lru;  // points at this entry's key in the map
  };
  struct alignas(64) Shard {
    mutable std::mutex mu;
    StringMap<Entry> map;
    std::list<const std::string*> lru;  // front: most recently used
    std::size_t bytes = 0;
    std::size_t evictions = 0;
  };
  // user id -> (session id -> last_active). Entries may be stale for a moment (a session
  // dropped, its index entry not yet): readers check every entry against the session.
  struct alignas(64) IndexShard {
    std::mutex mu;
    StringMap<StringMap<int64_t>> users;
  };
  // A session that left a shard: its index entry is removed after the shard lock is released.
  using Dropped = std::vector<std::pair<std::string, std::string>>;  // (user_id, session_id)

  Shard& shard_for(std::string_view session_id);
  IndexShard& index_for(std::string_view user_id);
  Result<void> put(std::string_view session_id, std::string stored, std::string user_id,
                   int64_t last_active, int64_t ttl_seconds);
  // Shard lock held.
  void erase_locked(Shard& shard, StringMap<Entry>::iterator it, Dropped& dropped);
  void unindex(const Dropped& dropped);
  void sweep_loop();

  const Clock& clock_;
  std::size_t shard_max_sessions_;
  std::size_t shard_max_bytes_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::unique_ptr<IndexShard>> index_;
  telemetry::Gauge* active_;
  telemetry::Counter* evicted_;
  std::atomic<int64_t> live_{0};  // what this repository has added to the shared gauge

  std::mutex sweep_mu_;
  std::condition_variable sweep_cv_;
  bool stopping_ = false;
  std::thread sweeper_;
};

}  // namespace suoke::sessions
