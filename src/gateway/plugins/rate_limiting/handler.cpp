#include "gateway/plugins/rate_limiting/handler.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/json_scan.h"
#include "core/log.h"
#include "gateway/plugins/rate_limiting/counters.h"
#include "gateway/plugins/rate_limiting/redis_policy.h"
#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::rate_limiting {
namespace {

namespace json = boost::json;

constexpr std::string_view kUnexpectedError = R"({"message":"An unexpected error occurred"})";

enum class LimitBy { kConsumer, kCredential, kIp, kService, kHeader, kPath, kConsumerGroup };
enum PolicyBit { kRedisBit = 1, kClusterBit = 2 };

// Process-lifetime state of one plugin entity (PluginRuntime, keyed by plugin id).
struct Shared {
  explicit Shared(const std::string& id) : plugin_id(id) {
    auto& registry = telemetry::Registry::global();
    redis_fallback = &registry.gauge(
        "suoke_rate_limiting_policy_fallback",
        "1 when a rate-limiting plugin runs on the local policy instead of its configured one",
        {{"plugin_id", id}, {"policy", "redis"}});
    fallback_decisions = &registry.counter(
        "suoke_rate_limiting_fallback_decisions_total",
        "Requests a rate-limiting plugin with policy redis decided on the local policy because "
        "Redis was unavailable",
        {{"plugin_id", id}, {"policy", "redis"}});
  }

  // Redis failed (or is not connected yet): degraded until a request finds it answering
  // again; such probes are let through at most once per second. Logged once per transition.
  void on_redis_failure(std::string_view error, int64_t now_ms) {
    next_probe_ms.store(now_ms + kProbeIntervalMs, std::memory_order_relaxed);
    if (!degraded.exchange(true)) {
      redis_fallback->set(1);
      log::warn("rate-limiting: redis unavailable; counting with the local policy until it answers",
                {{"plugin_id", plugin_id}, {"error", std::string(error)}});
    }
  }
  void on_redis_ok() {
    if (degraded.load(std::memory_order_relaxed) && degraded.exchange(false)) {
      redis_fallback->set(0);
      log::info("rate-limiting: redis answers again; back on the redis policy",
                {{"plugin_id", plugin_id}});
    }
  }
  // Whether this request may use Redis while degraded (one probe per interval).
  bool may_probe(int64_t now_ms) {
    int64_t next = next_probe_ms.load(std::memory_order_relaxed);
    return now_ms >= next && next_probe_ms.compare_exchange_strong(next, now_ms + kProbeIntervalMs);
  }

  static constexpr int64_t kProbeIntervalMs = 1000;
  std::string plugin_id;
  std::shared_ptr<WindowCounters> counters = WindowCounters::create();
  // Fallback policies already announced (PolicyBit), so the warning is logged once per plugin
  // and policy, not once per snapshot.
  std::atomic<int> announced{0};
  std::atomic<bool> degraded{false};
  std::atomic<int64_t> next_probe_ms{0};
  telemetry::Gauge* redis_fallback = nullptr;
  telemetry::Counter* fallback_decisions = nullptr;
};

struct Config {
  std::array<double, kPeriodCount> limits{};   // 0: period not configured
  std::array<uint64_t, kPeriodCount> admit{};  // requests a window admits: ceil(limit)
  LimitBy limit_by = LimitBy::kConsumer;
  std::string header_name;
  std::string path;
  std::string policy = "local";
  bool fault_tolerant = true;
  bool hide_client_headers = false;
  int error_code = 429;
  std::string error_body;  // {"message": error_message}
  RedisTargetConfig redis;
};

double number_or_zero(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_number()) return 0;
  return it->value().to_number<double>();
}

std::string string_or(const json::object& o, std::string_view key, std::string fallback) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return fallback;
  return std::string(it->value().as_string());
}

bool bool_or(const json::object& o, std::string_view key, bool fallback) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_bool()) return fallback;
  return it->value().as_bool();
}

Result<Config> parse(const json::object& c) {
  Config cfg;
  bool any = false;
  for (int i = 0; i < kPeriodCount; ++i) {
    double v = number_or_zero(c, period_name(static_cast<Period>(i)));
    if (v < 0 || !std::isfinite(v))
      return Error::make("invalid limit for " + std::string(period_name(static_cast<Period>(i))),
                         "schema");
    cfg.limits[i] = v;
    // Kong stops when limit - usage <= 0, so a fractional limit admits ceil(limit) requests.
    cfg.admit[i] = v > 0 ? static_cast<uint64_t>(std::min(std::ceil(v), 1.8e19)) : 0;
    any |= v > 0;
  }
  if (!any)
    return Error::make(
        "at least one of these fields must be non-empty: 'config.second', 'config.minute', "
        "'config.hour', 'config.day', 'config.month', 'config.year'",
        "schema");
  std::string by = string_or(c, "limit_by", "consumer");
  if (by == "consumer")
    cfg.limit_by = LimitBy::kConsumer;
  else if (by == "credential")
    cfg.limit_by = LimitBy::kCredential;
  else if (by == "ip")
    cfg.limit_by = LimitBy::kIp;
  else if (by == "service")
    cfg.limit_by = LimitBy::kService;
  else if (by == "header")
    cfg.limit_by = LimitBy::kHeader;
  else if (by == "path")
    cfg.limit_by = LimitBy::kPath;
  else if (by == "consumer-group")
    cfg.limit_by = LimitBy::kConsumerGroup;
  else
    return Error::make("unknown limit_by: " + by, "schema");
  cfg.header_name = string_or(c, "header_name", "");
  cfg.path = string_or(c, "path", "");
  cfg.policy = string_or(c, "policy", "local");
  if (cfg.policy.empty()) cfg.policy = "local";
  cfg.fault_tolerant = bool_or(c, "fault_tolerant", true);
  cfg.hide_client_headers = bool_or(c, "hide_client_headers", false);
  double code = number_or_zero(c, "error_code");
  cfg.error_code = code >= 100 && code <= 999 ? static_cast<int>(code) : 429;
  cfg.error_body = json::serialize(
      json::object{{"message", string_or(c, "error_message", "API rate limit exceeded")}});
  if (auto r = c.find("redis"); r != c.end() && r->value().is_object()) {
    const json::object& ro = r->value().as_object();
    cfg.redis.host = string_or(ro, "host", "");
    if (double port = number_or_zero(ro, "port"); port > 0) cfg.redis.port = static_cast<int>(port);
    cfg.redis.username = string_or(ro, "username", "");
    cfg.redis.password = string_or(ro, "password", "");
    cfg.redis.database = static_cast<int>(number_or_zero(ro, "database"));
    if (double t = number_or_zero(ro, "timeout"); t > 0) cfg.redis.timeout_ms = static_cast<int>(t);
    cfg.redis.ssl = bool_or(ro, "ssl", false);
    if (auto n = ro.find("cluster_nodes"); n != ro.end() && n->value().is_array()) {
      for (const auto& node : n->value().as_array()) {
        if (!node.is_object()) continue;
        std::string ip = string_or(node.as_object(), "ip", "");
        double port = number_or_zero(node.as_object(), "port");
        if (ip.empty()) continue;
        cfg.redis.cluster_nodes.push_back(
            redis::Endpoint{ip, static_cast<uint16_t>(port > 0 ? port : 6379)});
      }
    }
  }
  if (cfg.policy == "redis" && cfg.redis.host.empty() && cfg.redis.cluster_nodes.empty())
    return Error::make("policy redis needs config.redis.host or config.redis.cluster_nodes",
                       "schema");
  return cfg;
}

// A header value as Lua's tostring prints a number: integers without a fraction.
std::string number_text(double v) {
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    // to_chars, not snprintf: two of these per request, and snprintf cost ~750 instructions
    // each (callgrind).
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(v));
    return std::string(buf, r.ptr);
  } else {
    std::snprintf(buf, sizeof buf, "%.14g", v);
  }
  return buf;
}

// Whether the first eight bytes of `name`, lower-cased, are `prefix8` (ASCII, lower case).
bool starts_with_word(std::string_view name, const char (&prefix8)[9]) {
  if (name.size() < 8) return false;
  uint64_t have, want;
  std::memcpy(&have, name.data(), 8);
  std::memcpy(&want, prefix8, 8);
  return json_scan::lower_ascii_word(have) == want;
}

// X-RateLimit-*, RateLimit-* and Retry-After, case-insensitively. Checked for every response
// header: eight bytes at once and a short tail instead of three string compares.
bool is_rate_limit_header(std::string_view name) {
  if (starts_with_word(name, "x-rateli")) {
    return name.size() >= 12 && http::iequals(name.substr(8, 4), "mit-");
  }
  if (starts_with_word(name, "ratelimi")) {
    return name.size() >= 10 && http::iequals(name.substr(8, 2), "t-");
  }
  return name.size() == 11 && starts_with_word(name, "retry-af") &&
         http::iequals(name.substr(8), "ter");
}

class Handler final : public PluginHandler {
 public:
  Handler(const gateway::Plugin& entity, Config config, std::shared_ptr<Shared> shared,
          std::shared_ptr<RedisTarget> target, const Clock& clock)
      : PluginHandler(entity),
        cfg_(std::move(config)),
        shared_(std::move(shared)),
        target_(std::move(target)),
        clock_(&clock) {
    for (int i = 0; i < kPeriodCount; ++i) {
      limit_names_[i] = "X-RateLimit-Limit-" + std::string(period_title(static_cast<Period>(i)));
      remaining_names_[i] =
          "X-RateLimit-Remaining-" + std::string(period_title(static_cast<Period>(i)));
      limit_text_[i] = number_text(cfg_.limits[i]);
    }
  }

  void access(RequestContext& ctx) const override {
    const int64_t now_ms = clock_->now_ms();
    if (!target_) return local(ctx, now_ms);
    // policy redis.
    Shared& shared = *shared_;
    redis::Client* client = target_->client();
    bool use_redis = client != nullptr;
    if (use_redis && cfg_.fault_tolerant && shared.degraded.load(std::memory_order_relaxed)) {
      use_redis = shared.may_probe(now_ms);
    }
    if (!use_redis) {
      if (!client) shared.on_redis_failure("not connected to " + cfg_.redis.describe(), now_ms);
      return redis_failed(ctx, now_ms);
    }
    Resumer resume = ctx.suspend();
    if (!resume) return local(ctx, now_ms);  // a caller that cannot wait (not the proxy)
    redis::CommandOptions options;
    options.timeout = std::chrono::milliseconds(std::max(1, cfg_.redis.timeout_ms));
    options.retry = redis::CommandOptions::Retry::kNever;  // EVAL increments: never resent
    // Runs on a redis IO thread: it must not touch `this` (the snapshot may be gone) nor the
    // request; the apply closure runs on the request's worker, only while the request (and
    // so its snapshot, which owns this handler) is alive.
    client->exec_async(
        make_check_and_increment(entity().id, identifier(ctx), cfg_.admit, now_ms),
        [this, shared = shared_, admit = cfg_.admit, resume = std::move(resume),
         now_ms](Result<redis::Value> reply) {
          Result<RedisDecision> d = reply.ok() ? parse_check_and_increment(*reply, admit)
                                               : Result<RedisDecision>(reply.error());
          if (d.ok()) {
            shared->on_redis_ok();
          } else {
            shared->on_redis_failure(d.error().message, now_ms);
          }
          resume(
              [this, d = std::move(d), now_ms](RequestContext& c) { apply_redis(c, d, now_ms); });
        },
        options);
  }

  // The proxy adds ctx.response_headers after the upstream's headers; like Kong's
  // set_header, ours replace any the upstream sent with the same names.
  void header_filter(RequestContext& ctx, ResponseHead& head) const override {
    if (cfg_.hide_client_headers) return;
    auto& h = head.headers;
    for (std::size_t i = 0; i < h.size();) {
      bool shadowed = false;
      if (is_rate_limit_header(h[i].first)) {
        for (std::size_t j = i + 1; j < h.size() && !shadowed; ++j)
          shadowed =
              h[i].first.size() == h[j].first.size() && http::iequals(h[i].first, h[j].first);
      }
      if (shadowed) {
        h.erase(h.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

 private:
  void local(RequestContext& ctx, int64_t now_ms) const {
    WindowCounters& counters = *shared_->counters;
    WindowCounters::Decision d =
        counters.acquire(counters.fingerprint(identifier(ctx)), cfg_.admit, now_ms);
    emit(ctx, d, now_ms);
  }

  // Redis unavailable or failing: the local policy (fault_tolerant) or Kong's 500.
  void redis_failed(RequestContext& ctx, int64_t now_ms) const {
    if (!cfg_.fault_tolerant) {
      ctx.exit = http::Response::json(500, std::string(kUnexpectedError));
      return;
    }
    shared_->fallback_decisions->inc();
    local(ctx, now_ms);
  }

  void apply_redis(RequestContext& ctx, const Result<RedisDecision>& r, int64_t now_ms) const {
    if (!r.ok()) return redis_failed(ctx, clock_->now_ms());
    WindowCounters::Decision d;
    d.admitted = r->admitted;
    d.stop = r->stop;
    d.counts = r->counts;
    for (int i = 0; i < kPeriodCount; ++i) {
      if (cfg_.admit[i] > 0) d.windows[i] = window_for(static_cast<Period>(i), now_ms);
    }
    emit(ctx, d, now_ms);
  }

  void emit(RequestContext& ctx, const WindowCounters::Decision& d, int64_t now_ms) const {
    // Kong computes RateLimit-Reset (and so Retry-After) only when headers are shown.
    int64_t reset = -1;
    if (!cfg_.hide_client_headers) {
      const int64_t now_s = now_ms / 1000;
      double best_remaining = 0;
      int best = -1;
      for (int i = 0; i < kPeriodCount; ++i) {
        if (cfg_.admit[i] == 0) continue;
        double remaining = std::max(0.0, cfg_.limits[i] - static_cast<double>(d.counts[i]));
        // The most restrictive window: least remaining, then the longest (Kong's rule).
        if (best < 0 || remaining < best_remaining ||
            (remaining == best_remaining && nominal_seconds(static_cast<Period>(i)) >
                                                nominal_seconds(static_cast<Period>(best)))) {
          best = i;
          best_remaining = remaining;
          reset = std::max<int64_t>(1, d.windows[i].end_ms / 1000 - now_s);
        }
        ctx.response_headers.emplace_back(limit_names_[i], limit_text_[i]);
        ctx.response_headers.emplace_back(remaining_names_[i], number_text(remaining));
      }
      ctx.response_headers.emplace_back("RateLimit-Limit", limit_text_[best]);
      ctx.response_headers.emplace_back("RateLimit-Remaining", number_text(best_remaining));
      ctx.response_headers.emplace_back("RateLimit-Reset", std::to_string(reset));
    }
    if (!d.admitted) {
      if (reset > 0) ctx.response_headers.emplace_back("Retry-After", std::to_string(reset));
      ctx.exit = http::Response::json(cfg_.error_code, cfg_.error_body);
    }
  }

  // kong/plugins/rate-limiting/handler.lua get_identifier: a missing identifier falls back
  // to the client's (forwarded) IP.
  std::string_view identifier(const RequestContext& ctx) const {
    std::string_view id;
    switch (cfg_.limit_by) {
      case LimitBy::kConsumer:
        if (ctx.consumer) id = ctx.consumer->id;
        if (id.empty()) id = ctx.credential_id;
        break;
      case LimitBy::kCredential:
        id = ctx.credential_id;
        break;
      case LimitBy::kService:
        if (ctx.service) id = ctx.service->id;
        break;
      case LimitBy::kHeader:
        if (ctx.request_headers && !cfg_.header_name.empty())
          id = ctx.request_headers->get(cfg_.header_name);
        break;
      case LimitBy::kPath:
        if (ctx.path == cfg_.path) id = ctx.path;
        break;
      case LimitBy::kIp:
      case LimitBy::kConsumerGroup:
        break;
    }
    return id.empty() ? ctx.client_ip : id;
  }

  Config cfg_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<RedisTarget> target_;  // policy redis only
  const Clock* clock_;
  std::array<std::string, kPeriodCount> limit_names_, remaining_names_, limit_text_;
};

// Announces (once per plugin and policy) that a policy runs on local counters, and keeps
// the fallback gauge in step with the current config.
void announce_policy(const gateway::Plugin& entity, const Config& cfg, Shared& shared) {
  int bit = cfg.policy == "cluster" ? kClusterBit : 0;
  auto& registry = telemetry::Registry::global();
  auto gauge = [&](const char* policy) -> telemetry::Gauge& {
    return registry.gauge(
        "suoke_rate_limiting_policy_fallback",
        "1 when a rate-limiting plugin runs on the local policy instead of its configured one",
        {{"plugin_id", entity.id}, {"policy", policy}});
  };
  if ((shared.announced.load() & kClusterBit) && bit == 0) gauge("cluster").set(0);
  if (cfg.policy != "redis" && shared.degraded.exchange(false)) gauge("redis").set(0);
  if (bit == 0) return;
  gauge("cluster").set(1);
  if (!(shared.announced.fetch_or(bit) & bit)) {
    log::warn("rate-limiting: policy 'cluster' is not available; counting with the local policy",
              {{"plugin_id", entity.id}, {"policy", cfg.policy}});
  }
}

}  // namespace

Result<std::unique_ptr<PluginHandler>> create(const gateway::Plugin& entity,
                                              const Snapshot& snapshot, PluginRuntime& runtime) {
  (void)snapshot;
  auto cfg = parse(entity.config);
  if (!cfg.ok()) return cfg.error();
  auto shared = runtime.shared<Shared>("rate-limiting:" + entity.id,
                                       [&] { return std::make_shared<Shared>(entity.id); });
  announce_policy(entity, *cfg, *shared);
  std::shared_ptr<RedisTarget> target;
  if (cfg->policy == "redis") {
    // One client per connection target, for the process (PluginRuntime). The first time, give
    // the background connect a short moment so a fresh gateway starts on Redis, not on the
    // fallback; a slow or dead server does not hold the snapshot build up for longer.
    bool created = false;
    target = runtime.shared<RedisTarget>("rate-limiting-redis:" + cfg->redis.key(), [&] {
      created = true;
      return std::make_shared<RedisTarget>(cfg->redis);
    });
    if (created) {
      target->wait_first_attempt(
          std::chrono::milliseconds(std::clamp(cfg->redis.timeout_ms, 100, 1000)));
    }
  }
  return std::unique_ptr<PluginHandler>(std::make_unique<Handler>(
      entity, std::move(cfg).value(), std::move(shared), std::move(target), runtime.clock()));
}

}  // namespace suoke::gateway::plugins::rate_limiting
