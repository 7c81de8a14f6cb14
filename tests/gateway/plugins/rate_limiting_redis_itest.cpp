// policy redis of the rate-limiting plugin against real servers (tests/support/redis_servers.h):
// exactness across two "gateways" (two PluginRuntimes, so two clients) with many concurrent
// callers, on a standalone server and on a cluster reached through one node's host/port (the
// seed's config); every counter key has a TTL; a refused request increments nothing;
// fault_tolerant fallback to the local policy when the server dies, and recovery after restart.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/plugins/rate_limiting/handler.h"
#include "gateway/plugins/rate_limiting/redis_policy.h"
#include "gateway/plugins/rate_limiting/windows.h"
#include "gateway/plugins/rate_limiting_test_util.h"
#include "gateway/plugins/registry.h"
#include "support/redis_servers.h"
#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::rate_limiting {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using suoke::testing::redis_cli;
using suoke::testing::RedisCluster;
using suoke::testing::RedisServer;

using namespace test_support;
// One gateway's view: its own runtime (so its own redis client) and handler.
using Gateway = HandlerWithRuntime;

// Plays the proxy's part: accepts the suspension and runs the resume's apply on this thread.
struct Waiter final : Suspender {
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  Resumer::Apply apply;
  Resumer make_resumer() override {
    return Resumer([this](Resumer::Apply a) {
      std::lock_guard lock(mu);
      apply = std::move(a);
      fired = true;
      cv.notify_all();
    });
  }
};

struct Outcome {
  bool suspended = false;
  bool resumed = false;
  int status = 200;
  http::HeaderList headers;
  std::string header(std::string_view name) const { return std::string(http::find_header(headers, name)); }
};

Outcome call(const PluginHandler& handler, std::string_view ip = "10.0.0.1", std::string who = "") {
  Headers h;
  if (!who.empty()) h.list.emplace_back("X-Who", who);
  RequestContext ctx;
  ctx.client_ip = ip;
  ctx.path = "/";
  ctx.request_headers = &h;
  Waiter w;
  ctx.suspender = &w;
  handler.access(ctx);
  Outcome o;
  o.suspended = ctx.suspended();
  if (ctx.suspended()) {
    std::unique_lock lock(w.mu);
    o.resumed = w.cv.wait_for(lock, 10s, [&] { return w.fired; });
    ctx.clear_suspended();
    if (w.apply) w.apply(ctx);
  }
  if (ctx.exit) o.status = ctx.exit->status;
  o.headers = ctx.response_headers;
  return o;
}

std::string metrics() { return telemetry::Registry::global().render(); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

// Every ratelimit key on the node at `port` has a positive PTTL; returns how many there are.
int check_ttls(int port) {
  int n = 0;
  for (const auto& key : lines(redis_cli(port, "KEYS", "ratelimit:*"))) {
    ++n;
    long long ttl = std::stoll(lines(redis_cli(port, "PTTL", key)).at(0));
    EXPECT_GT(ttl, 0) << key;
  }
  return n;
}

json::object redis_config(int port, json::object extra) {
  json::object c{{"policy", "redis"}, {"redis_host", "127.0.0.1"}, {"redis_port", port}, {"redis_timeout", 500}};
  for (auto& [k, v] : extra) c[k] = v;
  return c;
}

// `attempts` calls spread over `threads` threads and both gateways; returns the admitted count.
int hammer(Gateway& a, Gateway& b, int threads, int per_thread, std::vector<std::string> who = {}) {
  std::atomic<int> admitted{0}, refused{0}, other{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        Gateway& g = (t + i) % 2 ? a : b;
        std::string id = who.empty() ? "" : who[static_cast<std::size_t>(t * per_thread + i) % who.size()];
        Outcome o = call(*g.handler, "10.0.0.1", id);
        if (!o.suspended || !o.resumed) ++other;
        if (o.status == 200) {
          ++admitted;
        } else if (o.status == 429) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(admitted.load() + refused.load(), threads * per_thread);
  return admitted.load();
}

TEST(RateLimitingRedis, StandaloneIsExactAcrossGatewaysAndEveryKeyExpires) {
  RedisServer server;
  json::object c = redis_config(server.port(), {{"minute", 50}, {"hour", 1000}, {"limit_by", "ip"}});
  Gateway a(c, "rl-shared"), b(c, "rl-shared");
  EXPECT_EQ(hammer(a, b, 16, 25), 50);
  Outcome refused = call(*a.handler);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.header("X-RateLimit-Remaining-Minute"), "0");
  EXPECT_EQ(refused.header("X-RateLimit-Remaining-Hour"), "950");
  EXPECT_EQ(refused.header("Retry-After"), "40");
  EXPECT_EQ(check_ttls(server.port()), 2);
  EXPECT_EQ(metrics().find(R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-shared",policy="redis"} 1)"),
            std::string::npos);
}

TEST(RateLimitingRedis, TheScriptRefusesWithoutIncrementing) {
  RedisServer server;
  Gateway g(redis_config(server.port(), {{"minute", 2}, {"hour", 3}, {"limit_by", "ip"}}), "rl-refuse");
  auto key = [&](Period p) {
    return counter_key("rl-refuse", "10.0.0.1", p, window_for(p, g.clock.now_ms()).start_ms);
  };
  EXPECT_EQ(call(*g.handler).status, 200);
  Outcome second = call(*g.handler);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.header("X-RateLimit-Remaining-Minute"), "0");
  EXPECT_EQ(second.header("X-RateLimit-Remaining-Hour"), "1");
  EXPECT_EQ(call(*g.handler).status, 429);  // minute full: the hour is not counted
  EXPECT_EQ(lines(server.cli("GET", key(Period::kHour))).at(0), "2");
  g.clock.advance_ms(60'000);
  EXPECT_EQ(call(*g.handler).status, 200);  // new minute, hour now 3
  EXPECT_EQ(call(*g.handler).status, 429);  // hour full: the new minute stays at 1
  EXPECT_EQ(lines(server.cli("GET", key(Period::kMinute))).at(0), "1");
  EXPECT_EQ(lines(server.cli("GET", key(Period::kHour))).at(0), "3");
  EXPECT_EQ(check_ttls(server.port()), 3);
}

TEST(RateLimitingRedis, ClusterNodeAsHostPortIsUsedAsACluster) {
  RedisCluster cluster;
  // The seed's shape: redis_host/redis_port name one node of the cluster.
  json::object c = redis_config(cluster.ports()[0], {{"minute", 5}, {"limit_by", "header"}, {"header_name", "X-Who"}});
  Gateway a(c, "rl-cluster-shared"), b(c, "rl-cluster-shared");
  std::vector<std::string> who;
  for (int i = 0; i < 20; ++i) who.push_back("user-" + std::to_string(i));
  // 20 identifiers (spread over the slots of all masters) x 12 attempts, limit 5 each.
  EXPECT_EQ(hammer(a, b, 24, 10, who), 20 * 5);
  int keys = 0, nodes_with_keys = 0;
  for (int port : cluster.master_ports()) {
    int n = check_ttls(port);
    keys += n;
    nodes_with_keys += n > 0;
  }
  EXPECT_EQ(keys, 20);
  EXPECT_GE(nodes_with_keys, 2);
  EXPECT_EQ(metrics().find(
                R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-cluster-shared",policy="redis"} 1)"),
            std::string::npos);
}

TEST(RateLimitingRedis, ClusterNodesListIsAccepted) {
  RedisCluster cluster;
  json::object c = redis_config(cluster.ports()[1], {{"minute", 3}, {"limit_by", "ip"}});
  c["redis"] = json::object{{"host", "127.0.0.1"},
                            {"port", cluster.ports()[1]},
                            {"cluster_nodes", json::array{json::object{{"ip", "127.0.0.1"}, {"port", cluster.ports()[2]}}}}};
  c.erase("redis_host");
  c.erase("redis_port");
  c.erase("redis_timeout");
  Gateway g(c, "rl-cluster-nodes");
  EXPECT_EQ(call(*g.handler).status, 200);
  EXPECT_EQ(call(*g.handler).status, 200);
  EXPECT_EQ(call(*g.handler).status, 200);
  Outcome o = call(*g.handler);
  EXPECT_TRUE(o.suspended);
  EXPECT_EQ(o.status, 429);
}

TEST(RateLimitingRedis, FallsBackToLocalWhenRedisDiesAndComesBack) {
  RedisServer server;
  Gateway g(redis_config(server.port(), {{"minute", 100}, {"limit_by", "ip"}}), "rl-fallback");
  const std::string gauge_on = R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-fallback",policy="redis"} 1)";
  const std::string gauge_off = R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-fallback",policy="redis"} 0)";
  Outcome first = call(*g.handler);
  EXPECT_TRUE(first.suspended);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.header("X-RateLimit-Remaining-Minute"), "99");

  server.kill9();
  Outcome failed = call(*g.handler);  // this one finds out: answered from the local counters
  EXPECT_TRUE(failed.suspended);
  EXPECT_EQ(failed.status, 200);
  EXPECT_EQ(failed.header("X-RateLimit-Remaining-Minute"), "99");  // local: its first request
  EXPECT_NE(metrics().find(gauge_on), std::string::npos);
  // While degraded, requests within the probe interval do not wait for Redis at all.
  for (int i = 0; i < 5; ++i) {
    Outcome o = call(*g.handler);
    EXPECT_FALSE(o.suspended);
    EXPECT_EQ(o.status, 200);
  }
  EXPECT_NE(metrics().find(R"(suoke_rate_limiting_fallback_decisions_total{plugin_id="rl-fallback",policy="redis"} 6)"),
            std::string::npos)
      << metrics();

  server.restart();
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    g.clock.advance_ms(1100);  // past the probe interval
    Outcome o = call(*g.handler);
    EXPECT_EQ(o.status, 200);
    back = metrics().find(gauge_off) != std::string::npos;
    if (!back) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(back);
  Outcome after = call(*g.handler);
  EXPECT_TRUE(after.suspended);
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(check_ttls(server.port()), 1);
}

TEST(RateLimitingRedis, WithoutFaultToleranceAFailureIs500) {
  RedisServer server;
  Gateway g(redis_config(server.port(), {{"minute", 100}, {"limit_by", "ip"}, {"fault_tolerant", false}}),
            "rl-strict-redis");
  EXPECT_EQ(call(*g.handler).status, 200);
  server.kill9();
  Outcome o = call(*g.handler);
  EXPECT_EQ(o.status, 500);
  server.restart();
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    ok = call(*g.handler).status == 200;
    if (!ok) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ok);
}

TEST(RateLimitingRedis, UnreachableAtStartRunsLocallyUntilConnected) {
  int port = suoke::testing::redis_detail::free_port();
  Gateway g(redis_config(port, {{"minute", 2}, {"limit_by", "ip"}}), "rl-unreachable");
  Outcome o = call(*g.handler);
  EXPECT_FALSE(o.suspended);
  EXPECT_EQ(o.status, 200);
  EXPECT_NE(metrics().find(R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-unreachable",policy="redis"} 1)"),
            std::string::npos);
}

}  // namespace
}  // namespace suoke::gateway::plugins::rate_limiting
