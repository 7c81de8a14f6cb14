#include "sessions/repository.h"

#include <array>

#include "sessions/memory_repository.h"
#include "sessions/redis_repository.h"
#include "telemetry/metrics.h"

namespace suoke::sessions {
namespace {

enum Op { kSave, kGet, kRemove, kTouch, kCountActive, kListUserSessions, kOpCount };
enum Status { kOk, kNotFound, kError, kStatusCount };
constexpr std::array<const char*, kOpCount> kOpNames = {
    "save", "get", "remove", "touch", "count_active", "list_user_sessions"};
constexpr std::array<const char*, kStatusCount> kStatusNames = {"ok", "not_found", "error"};

}  // namespace

// Series handles are looked up once: Registry lookups take a lock, updates do not.
struct SessionRepository::Instruments {
  std::array<std::array<telemetry::Counter*, kStatusCount>, kOpCount> total{};
  std::array<telemetry::Histogram*, kOpCount> duration{};

  static std::shared_ptr<const Instruments> get() {
    static const std::shared_ptr<const Instruments> instance = [] {
      auto in = std::make_shared<Instruments>();
      auto& reg = telemetry::Registry::global();
      const std::vector<double> buckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                           0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
      for (int op = 0; op < kOpCount; ++op) {
        for (int st = 0; st < kStatusCount; ++st) {
          in->total[op][st] =
              &reg.counter("sessions_total", "Session repository operations by outcome.",
                           {{"operation", kOpNames[op]}, {"status", kStatusNames[st]}});
        }
        in->duration[op] = &reg.histogram("session_operation_duration_seconds",
                                          "Session repository operation latency.", buckets,
                                          {{"operation", kOpNames[op]}});
      }
      return in;
    }();
    return instance;
  }
};

namespace {

// Times one operation and counts its outcome when it goes out of scope.
class OpScope {
 public:
  OpScope(const Clock& clock, telemetry::Histogram& duration,
          const std::array<telemetry::Counter*, kStatusCount>& total)
      : clock_(clock), duration_(duration), total_(total), start_(clock.steady_now()) {}
  ~OpScope() {
    total_[status_]->inc();
    duration_.observe(std::chrono::duration<double>(clock_.steady_now() - start_).count());
  }
  void set(Status s) { status_ = s; }

 private:
  const Clock& clock_;
  telemetry::Histogram& duration_;
  const std::array<telemetry::Counter*, kStatusCount>& total_;
  std::chrono::steady_clock::time_point start_;
  Status status_ = kError;
};

Result<void> check_id(std::string_view session_id) {
  if (session_id.empty()) return Error::make("session_id must not be empty", "invalid");
  return Ok();
}

Result<void> check_ttl(int64_t ttl_seconds) {
  // Redis refuses EX values that overflow milliseconds; refuse them the same way everywhere.
  if (ttl_seconds <= 0 || ttl_seconds > (int64_t{1} << 40)) {
    return Error::make(
        "ttl_seconds must be positive and at most 2^40, got " + std::to_string(ttl_seconds),
        "invalid");
  }
  return Ok();
}

}  // namespace

SessionRepository::SessionRepository(std::string backend, const SessionOptions& options)
    : backend_(std::move(backend)), options_(options), instruments_(Instruments::get()) {
  if (options_.clock == nullptr) options_.clock = &Clock::system();
}

#define SUOKE_SESSION_OP(op) \
  OpScope scope(*options_.clock, *instruments_->duration[op], instruments_->total[op])

Result<void> SessionRepository::save(const Session& session, int64_t ttl_seconds) {
  SUOKE_SESSION_OP(kSave);
  if (auto r = check_id(session.session_id); !r) return r;
  if (auto r = check_ttl(ttl_seconds); !r) return r;
  const Session* to_store = &session;
  Session trimmed;
  if (session.history.size() > options_.max_history_turns) {
    trimmed = session;
    trim_history(trimmed, options_.max_history_turns);
    to_store = &trimmed;
  }
  auto r = do_save(*to_store, serialize_session(*to_store), ttl_seconds);
  if (r) scope.set(kOk);
  return r;
}

Result<std::optional<Session>> SessionRepository::get(std::string_view session_id) {
  SUOKE_SESSION_OP(kGet);
  if (auto r = check_id(session_id); !r) return r.error();
  auto r = do_get(session_id);
  if (!r) return r;
  if (r->has_value() && (*r)->session_id != session_id) {
    // Copied or migrated under the wrong key: handing it out would mix up two conversations.
    return Error::make("session \"" + std::string(session_id) +
                           "\": stored session is invalid: it holds session_id \"" +
                           (*r)->session_id + "\"",
                       "parse");
  }
  scope.set(r->has_value() ? kOk : kNotFound);
  return r;
}

Result<bool> SessionRepository::remove(std::string_view session_id) {
  SUOKE_SESSION_OP(kRemove);
  if (auto r = check_id(session_id); !r) return r.error();
  auto r = do_remove(session_id);
  if (r) scope.set(*r ? kOk : kNotFound);
  return r;
}

Result<bool> SessionRepository::touch(std::string_view session_id, int64_t ttl_seconds) {
  SUOKE_SESSION_OP(kTouch);
  if (auto r = check_id(session_id); !r) return r.error();
  if (auto r = check_ttl(ttl_seconds); !r) return r.error();
  auto r = do_touch(session_id, ttl_seconds);
  if (r) scope.set(*r ? kOk : kNotFound);
  return r;
}

Result<std::size_t> SessionRepository::count_active() {
  SUOKE_SESSION_OP(kCountActive);
  auto r = do_count_active();
  if (r) scope.set(kOk);
  return r;
}

Result<std::vector<Session>> SessionRepository::list_user_sessions(std::string_view user_id,
                                                                   std::size_t limit) {
  SUOKE_SESSION_OP(kListUserSessions);
  if (limit == 0) {
    scope.set(kOk);
    return std::vector<Session>{};
  }
  auto r = do_list_user_sessions(user_id, limit);
  if (r) scope.set(kOk);
  return r;
}

#undef SUOKE_SESSION_OP

Result<std::unique_ptr<SessionRepository>> open_session_repository(std::string_view url,
                                                                   const SessionOptions& options) {
  auto scheme_end = url.find("://");
  std::string_view scheme = scheme_end == std::string_view::npos ? url : url.substr(0, scheme_end);
  if (url.empty() || url == "memory" || scheme == "memory") {
    return std::unique_ptr<SessionRepository>(std::make_unique<MemorySessionRepository>(options));
  }
  if (scheme_end == std::string_view::npos ||
      (scheme != "redis" && scheme != "rediss" && scheme != "redis-cluster")) {
    return Error::make("unsupported session store URL \"" + std::string(url) +
                           "\": expected memory://, redis://host:port, rediss://host:port or "
                           "redis-cluster://host:port[,host:port...]",
                       "config");
  }
  auto client = redis::Client::connect(url, options.redis);
  if (!client) {
    return Error::make("session store " + std::string(scheme) + ": " + client.error().message,
                       client.error().kind.empty() ? "io" : client.error().kind);
  }
  std::shared_ptr<redis::Client> shared(std::move(*client));
  return make_redis_session_repository(std::move(shared), options);
}

}  // namespace suoke::sessions
