#include "gateway/plugins/rate_limiting/redis_policy.h"


#include "core/log.h"
#include "redis/cluster/cluster_client.h"
#include "redis/standalone_client.h"

namespace suoke::gateway::plugins::rate_limiting {

const char* const kCheckAndIncrementScript = R"LUA(
local n = #KEYS
local counts = {}
for i = 1, n do
  counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
end
for i = 1, n do
  if counts[i] >= tonumber(ARGV[2 * i - 1]) then
    local out = {0, i}
    for j = 1, n do out[j + 2] = counts[j] end
    return out
  end
end
local out = {1, 0}
for i = 1, n do
  local v = redis.call('INCR', KEYS[i])
  if v == 1 or redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
  end
  out[i + 2] = v
end
return out
)LUA";

std::string RedisTargetConfig::key() const {
  std::string k = host + ":" + std::to_string(port) + "|" + username + "|" + password + "|" +
                  std::to_string(database) + "|" + std::to_string(timeout_ms) + "|" +
                  (ssl ? "ssl" : "plain");
  for (const auto& e : cluster_nodes) k += "|" + e.to_string();
  return k;
}

std::string RedisTargetConfig::describe() const {
  if (cluster_nodes.empty()) return redis::Endpoint{host, static_cast<uint16_t>(port)}.to_string();
  std::string out = "cluster ";
  for (std::size_t i = 0; i < cluster_nodes.size(); ++i) {
    if (i) out += ",";
    out += cluster_nodes[i].to_string();
  }
  return out;
}

RedisTarget::RedisTarget(RedisTargetConfig config) : config_(std::move(config)) {
  thread_ = std::thread([this] { run(); });
}

RedisTarget::~RedisTarget() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  client_.store(nullptr);
  owned_.reset();
}

void RedisTarget::wait_first_attempt(std::chrono::milliseconds bound) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, bound, [&] { return first_attempt_done_ || stop_; });
}

std::string RedisTarget::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

Result<std::unique_ptr<redis::Client>> RedisTarget::connect_once() {
  if (config_.ssl) {
    return Error::make("config.redis.ssl is not supported yet", "config");
  }
  redis::ClientOptions options;
  auto timeout = std::chrono::milliseconds(std::max(100, config_.timeout_ms));
  options.connect_timeout = timeout;
  options.cluster_retry_deadline = timeout;
  redis::RedisUrl url;
  url.username = config_.username;
  url.password = config_.password;
  if (!config_.cluster_nodes.empty()) {
    url.scheme = redis::RedisUrl::Scheme::kCluster;
    url.endpoints = config_.cluster_nodes;
    return redis::connect_cluster(url, options);
  }
  url.scheme = redis::RedisUrl::Scheme::kRedis;
  url.endpoints = {redis::Endpoint{config_.host, static_cast<uint16_t>(config_.port)}};
  url.db = config_.database;
  auto standalone = redis::StandaloneClient::connect(url, options);
  if (!standalone.ok()) return standalone.error();
  if (!(*standalone)->is_cluster_node()) return std::unique_ptr<redis::Client>(std::move(*standalone));
  // A node of a cluster: use the cluster client, seeded from this node.
  standalone->reset();
  url.scheme = redis::RedisUrl::Scheme::kCluster;
  url.db = 0;
  return redis::connect_cluster(url, options);
}

void RedisTarget::run() {
  std::string reported;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    auto connected = connect_once();
    std::unique_lock lock(mu_);
    first_attempt_done_ = true;
    if (connected.ok()) {
      owned_ = std::move(*connected);
      client_.store(owned_.get(), std::memory_order_release);
      last_error_.clear();
      bool cluster = owned_->is_cluster();
      lock.unlock();
      cv_.notify_all();
      log::info("rate-limiting: connected to redis",
                {{"redis", config_.describe()}, {"mode", cluster ? "cluster" : "standalone"}});
      return;
    }
    last_error_ = connected.error().message;
    if (last_error_ != reported) {
      reported = last_error_;
      log::warn("rate-limiting: cannot connect to redis (retrying every second)",
                {{"redis", config_.describe()}, {"error", last_error_}});
    }
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
  }
}

std::string counter_key(std::string_view plugin_id, std::string_view identifier, Period p,
                        int64_t window_start_ms) {
  std::string key;
  key.reserve(32 + plugin_id.size() + identifier.size());
  key += "ratelimit:{";
  key += plugin_id;
  key += ':';
  key += identifier;
  key += "}:";
  key += period_name(p);
  key += ':';
  key += std::to_string(window_start_ms);
  return key;
}

redis::Command make_check_and_increment(std::string_view plugin_id, std::string_view identifier,
                                        const std::array<uint64_t, kPeriodCount>& admit,
                                        int64_t now_ms) {
  std::vector<std::string> keys, args;
  for (int i = 0; i < kPeriodCount; ++i) {
    if (admit[i] == 0) continue;
    Window w = window_for(static_cast<Period>(i), now_ms);
    keys.push_back(counter_key(plugin_id, identifier, static_cast<Period>(i), w.start_ms));
    args.push_back(std::to_string(admit[i]));
    // Until the window ends, plus a second for gateways whose clocks lag a little.
    args.push_back(std::to_string(std::max<int64_t>(1, w.end_ms - now_ms) + 1000));
  }
  redis::Command cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.emplace_back("EVAL");
  cmd.emplace_back(kCheckAndIncrementScript);
  cmd.push_back(std::to_string(keys.size()));
  for (auto& k : keys) cmd.push_back(std::move(k));
  for (auto& a : args) cmd.push_back(std::move(a));
  return cmd;
}

Result<RedisDecision> parse_check_and_increment(const redis::Value& reply,
                                                const std::array<uint64_t, kPeriodCount>& admit) {
  if (reply.is_error()) return Error::make("redis: " + reply.str, "redis");
  std::size_t n = 0;
  for (auto a : admit) n += a > 0 ? 1 : 0;
  if (!reply.is_array() || reply.elements.size() != n + 2) {
    return Error::make("redis: unexpected reply to the rate-limiting script", "redis");
  }
  for (const auto& e : reply.elements) {
    if (e.type != redis::Value::Type::kInteger) {
      return Error::make("redis: unexpected reply to the rate-limiting script", "redis");
    }
  }
  RedisDecision d;
  d.admitted = reply.elements[0].integer == 1;
  int64_t stop_index = reply.elements[1].integer;  // 1-based among configured periods
  std::size_t k = 0;
  for (int i = 0; i < kPeriodCount; ++i) {
    if (admit[i] == 0) continue;
    d.counts[i] = static_cast<uint64_t>(std::max<int64_t>(0, reply.elements[k + 2].integer));
    if (!d.admitted && static_cast<int64_t>(k + 1) == stop_index) d.stop = i;
    ++k;
  }
  return d;
}

}  // namespace suoke::gateway::plugins::rate_limiting
