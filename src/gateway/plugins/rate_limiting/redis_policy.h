// policy "redis" of the rate-limiting plugin: the connection targets (one redis::Client per
// distinct server or cluster, shared through PluginRuntime) and the atomic check-and-increment
// script.
//
// Connecting never blocks a snapshot build for long: a RedisTarget connects on its own
// background thread (retrying every second until it succeeds); the plugin factory waits for
// the first attempt for at most a short bound, and requests that arrive before the client
// exists run on the local policy (fault_tolerant) or get 500.
//
// A plain host/port that turns out to be a node of a cluster (cluster_enabled:1, as in the
// seed: redis_host redis-cluster, redis_port 7001) is reconnected as a cluster client seeded
// from that node; config.redis.cluster_nodes gives the seeds explicitly.
//
// Key layout: ratelimit:{<plugin id>:<identifier>}:<period>:<window start ms>. The hash tag
// puts every window of one identifier in one cluster slot, so one script sees them all.
// Script (EVAL, never resent after a timeout): reads every window's counter; if one is at its
// limit it returns {0, i, counts...} without incrementing anything; otherwise INCRs all, sets
// PEXPIRE (window end + 1 s) on every key that has no expiry (so every key it creates), and
// returns {1, 0, counts...}.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/result.h"
#include "gateway/plugins/rate_limiting/windows.h"
#include "redis/client.h"
#include "redis/url.h"

namespace suoke::gateway::plugins::rate_limiting {

struct RedisTargetConfig {
  std::string host;
  int port = 6379;
  std::string username;
  std::string password;
  int database = 0;
  int timeout_ms = 2000;
  bool ssl = false;
  std::vector<redis::Endpoint> cluster_nodes;  // config.redis.cluster_nodes

  // Identifies the connection target (PluginRuntime key).
  std::string key() const;
  // host:port or the cluster seeds, for logs (no password).
  std::string describe() const;
};

class RedisTarget {
 public:
  explicit RedisTarget(RedisTargetConfig config);
  ~RedisTarget();
  RedisTarget(const RedisTarget&) = delete;
  RedisTarget& operator=(const RedisTarget&) = delete;

  // Waits until the first connection attempt has finished (or `bound` passed). Control plane.
  void wait_first_attempt(std::chrono::milliseconds bound);
  // The connected client; null until a connection attempt has succeeded. Lock-free.
  redis::Client* client() const { return client_.load(std::memory_order_acquire); }
  const RedisTargetConfig& config() const { return config_; }
  // The last connection error (empty once connected). Control plane / tests.
  std::string last_error() const;

 private:
  void run();
  Result<std::unique_ptr<redis::Client>> connect_once();

  RedisTargetConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool first_attempt_done_ = false;
  std::string last_error_;
  std::unique_ptr<redis::Client> owned_;
  std::atomic<redis::Client*> client_{nullptr};
  std::thread thread_;
};

// The script's reply, decoded.
struct RedisDecision {
  bool admitted = false;
  int stop = -1;  // the period that refused, -1 when admitted
  std::array<uint64_t, kPeriodCount> counts{};
};

extern const char* const kCheckAndIncrementScript;

// The counter key of one window.
std::string counter_key(std::string_view plugin_id, std::string_view identifier, Period p,
                        int64_t window_start_ms);

// EVAL of the script for the periods with admit[p] > 0, at `now_ms`.
redis::Command make_check_and_increment(std::string_view plugin_id, std::string_view identifier,
                                        const std::array<uint64_t, kPeriodCount>& admit,
                                        int64_t now_ms);

// Decodes the script's reply; an error reply or an unexpected shape is an error.
Result<RedisDecision> parse_check_and_increment(const redis::Value& reply,
                                                const std::array<uint64_t, kPeriodCount>& admit);

}  // namespace suoke::gateway::plugins::rate_limiting
