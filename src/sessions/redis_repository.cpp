#include "sessions/redis_repository.h"

#include <algorithm>
#include <unordered_set>

#include "telemetry/metrics.h"

namespace suoke::sessions {

std::string session_key(std::string_view session_id) {
  return "session:" + std::string(session_id);
}
std::string user_index_key(std::string_view user_id) {
  return "user_sessions:" + std::string(user_id);
}

namespace {

// The index updates run as scripts on the index key alone (one slot, so also in a cluster):
// several commands pipelined may travel on different connections and run out of order, and
// "give a new index a TTL, only ever lengthen an existing one" needs the key's current TTL.
// KEYS[1] index; ARGV: score, session id, ttl ms, max entries (0: unbounded).
constexpr const char* kIndexAdd = R"lua(
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
local cap = tonumber(ARGV[4])
if cap > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -cap - 1) end
return 1
)lua";
// KEYS[1] index; ARGV: ttl ms. PTTL is -1 for a key without TTL (given one) and -2 for none.
constexpr const char* kIndexExtend = R"lua(
local ttl = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left == -2 then return 0 end
if left < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
)lua";

// A reply is a success only if the server did not answer with an error.
Result<redis::Value> checked(Result<redis::Value> r, std::string_view what) {
  if (!r)
    return Error::make(std::string(what) + ": " + r.error().message,
                       r.error().kind.empty() ? "io" : r.error().kind);
  if (r->is_error()) return Error::make(std::string(what) + ": redis replied " + r->str, "redis");
  return r;
}

class RedisSessionRepository final : public SessionRepository {
 public:
  RedisSessionRepository(std::shared_ptr<redis::Client> client, const SessionOptions& options)
      : SessionRepository(client->is_cluster() ? "redis-cluster" : "redis", options),
        client_(std::move(client)),
        active_(&telemetry::Registry::global().gauge("active_sessions",
                                                     "Sessions currently stored.",
                                                     {{"backend", std::string(backend())}})) {
    write_opts_.timeout = options.redis_timeout;
    write_opts_.retry = redis::CommandOptions::Retry::kIdempotent;
    read_opts_.timeout = options.redis_timeout;
    once_opts_.timeout = options.redis_timeout;
    once_opts_.retry = redis::CommandOptions::Retry::kNever;
  }

 protected:
  Result<void> do_save(const Session& s, const std::string& stored, int64_t ttl_seconds) override {
    const std::string ttl = std::to_string(ttl_seconds);
    // The session is written before its index entry, never in parallel: prune_index relies
    // on an index entry never preceding its session (see there).
    auto set =
        checked(client_->exec({"SET", session_key(s.session_id), stored, "EX", ttl}, write_opts_),
                "save: SET session");
    if (!set) return set.error();
    auto ix = checked(client_->exec({"EVAL", kIndexAdd, "1", user_index_key(s.user_id),
                                     std::to_string(s.last_active), s.session_id,
                                     std::to_string(ttl_seconds * 1000),
                                     std::to_string(options().max_user_index)},
                                    write_opts_),
                      "save: user index");
    if (!ix) return ix.error();
    return Ok();
  }

  Result<std::optional<Session>> do_get(std::string_view session_id) override {
    auto r = checked(client_->exec({"GET", session_key(session_id)}, read_opts_), "get");
    if (!r) return r.error();
    if (r->is_null()) return std::optional<Session>();
    if (!r->is_string()) return Error::make("get: unexpected reply type to GET", "redis");
    auto parsed = parse_session(r->str);
    if (!parsed)
      return Error::make("session \"" + std::string(session_id) + "\": " + parsed.error().message,
                         "parse");
    return std::optional<Session>(std::move(*parsed));
  }

  Result<bool> do_remove(std::string_view session_id) override {
    const std::string key = session_key(session_id);
    // GETDEL learns the user (for the index) and deletes in one command. Not retried: a
    // retry after it ran would report "absent".
    auto r = client_->exec({"GETDEL", key}, once_opts_);
    if (!r)
      return Error::make("remove: " + r.error().message,
                         r.error().kind.empty() ? "io" : r.error().kind);
    if (r->is_error()) {
      // Something that is not a string under a session key (WRONGTYPE): still removable.
      auto del = checked(client_->exec({"DEL", key}, write_opts_), "remove: DEL");
      if (!del) return del.error();
      return del->integer > 0;
    }
    if (r->is_null()) return false;
    if (auto parsed = parse_session(r->str); parsed && !parsed->user_id.empty()) {
      prune_index(parsed->user_id, {std::string(session_id)});
    }
    return true;
  }

  Result<bool> do_touch(std::string_view session_id, int64_t ttl_seconds) override {
    const std::string key = session_key(session_id);
    const std::string ttl = std::to_string(ttl_seconds);
    // The session's user is needed to keep the index alive at least as long as the session.
    auto replies = client_->exec_pipeline({{"EXPIRE", key, ttl}, {"GET", key}}, write_opts_);
    auto expired = checked(std::move(replies[0]), "touch: EXPIRE");
    if (!expired) return expired.error();
    if (expired->integer == 0) return false;
    auto got = checked(std::move(replies[1]), "touch: GET");
    if (!got) return got.error();
    if (got->is_string()) {
      if (auto parsed = parse_session(got->str); parsed && !parsed->user_id.empty()) {
        auto ix = checked(client_->exec({"EVAL", kIndexExtend, "1", user_index_key(parsed->user_id),
                                         std::to_string(ttl_seconds * 1000)},
                                        write_opts_),
                          "touch: user index");
        if (!ix) return ix.error();
      }
    }
    return true;
  }

  Result<std::size_t> do_count_active() override {
    std::size_t n = 0;
    auto r = client_->scan("session:*", 1000, [&n](const std::vector<std::string>& keys) {
      n += keys.size();
      return true;
    });
    if (!r)
      return Error::make("count_active: " + r.error().message,
                         r.error().kind.empty() ? "io" : r.error().kind);
    active_->set(static_cast<int64_t>(n));
    return n;
  }

  Result<std::vector<Session>> do_list_user_sessions(std::string_view user_id,
                                                     std::size_t limit) override {
    const std::string index = user_index_key(user_id);
    std::vector<Session> out;
    std::vector<std::string> stale;
    std::unordered_set<std::string> seen;  // ranks shift under concurrent writes
    std::size_t start = 0;
    while (out.size() < limit) {
      std::size_t page = std::clamp<std::size_t>(
          limit - out.size(), 1, std::max<std::size_t>(1, options().list_page_size));
      auto members = checked(client_->exec({"ZREVRANGE", index, std::to_string(start),
                                            std::to_string(start + page - 1)},
                                           read_opts_),
                             "list_user_sessions: ZREVRANGE");
      if (!members) return members.error();
      if (!members->is_array() || members->elements.empty()) break;
      start += members->elements.size();
      std::vector<redis::Command> gets;
      std::vector<std::string> ids;
      for (auto& m : members->elements) {
        if (!seen.insert(m.str).second) continue;
        gets.push_back({"GET", session_key(m.str)});
        ids.push_back(std::move(m.str));
      }
      auto replies = client_->exec_pipeline(std::move(gets), read_opts_);
      for (std::size_t i = 0; i < replies.size() && out.size() < limit; ++i) {
        auto r = checked(std::move(replies[i]), "list_user_sessions: GET");
        if (!r) return r.error();
        if (r->is_null()) {
          stale.push_back(ids[i]);
          continue;
        }
        auto parsed = parse_session(r->str);
        if (!parsed)
          return Error::make("session \"" + ids[i] + "\": " + parsed.error().message, "parse");
        if (parsed->user_id != user_id || parsed->session_id != ids[i]) {
          stale.push_back(ids[i]);
          continue;
        }
        out.push_back(std::move(*parsed));
      }
      if (members->elements.size() < page) break;
    }
    prune_index(user_id, stale);
    return out;
  }

  // Drops index entries whose session was seen gone, without losing one that a concurrent
  // save re-created: ZREM, then read the sessions again and ZADD back any that now exist for
  // this user. Since save applies SET before ZADD, a save whose ZADD our ZREM removed has its
  // session visible to the second read. Best effort: a failure leaves stale entries, which
  // readers skip anyway.
  void prune_index(std::string_view user_id, const std::vector<std::string>& stale) {
    if (stale.empty()) return;
    const std::string index = user_index_key(user_id);
    redis::Command zrem{"ZREM", index};
    zrem.insert(zrem.end(), stale.begin(), stale.end());
    auto removed = checked(client_->exec(std::move(zrem), write_opts_), "prune: ZREM");
    if (!removed || removed->integer == 0) return;
    std::vector<redis::Command> gets;
    for (const auto& id : stale) gets.push_back({"GET", session_key(id)});
    auto replies = client_->exec_pipeline(std::move(gets), read_opts_);
    std::vector<redis::Command> readd;
    for (std::size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i] || !replies[i]->is_string()) continue;
      auto parsed = parse_session(replies[i]->str);
      if (parsed && parsed->user_id == user_id && parsed->session_id == stale[i]) {
        readd.push_back({"ZADD", index, "GT", std::to_string(parsed->last_active), stale[i]});
      }
    }
    if (!readd.empty()) (void)client_->exec_pipeline(std::move(readd), write_opts_);
  }

 private:
  std::shared_ptr<redis::Client> client_;
  telemetry::Gauge* active_;
  redis::CommandOptions write_opts_;
  redis::CommandOptions read_opts_;
  redis::CommandOptions once_opts_;
};

}  // namespace

std::unique_ptr<SessionRepository> make_redis_session_repository(
    std::shared_ptr<redis::Client> client, const SessionOptions& options) {
  return std::make_unique<RedisSessionRepository>(std::move(client), options);
}

}  // namespace suoke::sessions
