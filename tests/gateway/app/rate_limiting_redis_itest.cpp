// Three `suoke gateway` processes share one route limited to 1000 per hour through a Redis
// Cluster (policy redis, redis_host/redis_port naming one cluster node, as the seed does); 3000
// requests spread across the three over many connections admit exactly 1000.
//
// Deterministic without a fake clock: limit_by header with a value new for each run; a run
// that straddles an hour boundary is repeated once with a fresh value.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "core/clock.h"
#include "gateway/app/limited_route_load.h"
#include "http/server.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"
#include "support/redis_servers.h"

namespace suoke::testing {
namespace {

constexpr int kLimit = 1000;
constexpr int kGateways = 3;
constexpr int kConnectionsPerGateway = 16;

std::optional<uint16_t> start_gateway(ChildProcess& child, const std::string& data_dir,
                                      const std::string& config) {
  if (!child.start({SUOKE_BINARY, "gateway", "--proxy-listen", "127.0.0.1:0", "--admin-listen",
                    "off", "--status-listen", "off", "--workers", "2", "--data-dir", data_dir,
                    "--config", config, "--log-level", "warn"})) {
    return std::nullopt;
  }
  std::string line;
  auto m = child.wait_for_line(R"(proxy on port (\d+))", std::chrono::seconds(20), &line);
  if (!m) return std::nullopt;
  return static_cast<uint16_t>(std::stoi((*m)[1]));
}

// kConnectionsPerGateway connections to each gateway make 3 x kLimit attempts in all.
LimitedRun run(const std::vector<uint16_t>& proxies, const std::string& run_id) {
  std::vector<uint16_t> connection_ports;
  for (uint16_t proxy : proxies)
    connection_ports.insert(connection_ports.end(), kConnectionsPerGateway, proxy);
  return run_limited_load(
      connection_ports, 3 * kLimit, run_id, [](const HttpReply& reply, LimitedRun& r) {
        if (reply.status == 200) {
          ++r.ok;
        } else if (reply.status == 429) {
          ++r.limited;
          if (reply.header("x-ratelimit-remaining-hour") != "0")
            r.problems.push_back("bad 429 headers");
        } else {
          ++r.other;
          r.problems.push_back("status " + std::to_string(reply.status) + ": " + reply.body);
        }
      });
}

TEST(GatewayRateLimitingRedis, ThreeGatewaysShareOneLimitThroughTheCluster) {
  RedisCluster cluster;
  http::Server upstream("upstream", http::Limits{}, echo_path);
  auto upstream_port = serve_on_loopback(upstream, 2);
  ASSERT_TRUE(upstream_port.ok()) << upstream_port.error().message;

  TempDir dir;
  std::string config_path = dir.path() + "/kong.yml";
  {
    std::ofstream out(config_path);
    out << limited_route_config(*upstream_port, kLimit,
                                "        policy: redis\n"
                                "        redis_host: 127.0.0.1\n"
                                "        redis_port: " +
                                    std::to_string(cluster.ports()[0]) + "\n");
  }
  std::vector<std::unique_ptr<ChildProcess>> gateways;
  std::vector<std::unique_ptr<TempDir>> data_dirs;
  std::vector<uint16_t> proxies;
  for (int g = 0; g < kGateways; ++g) {
    gateways.push_back(std::make_unique<ChildProcess>());
    data_dirs.push_back(std::make_unique<TempDir>());
    auto port = start_gateway(*gateways.back(), data_dirs.back()->path(), config_path);
    ASSERT_TRUE(port) << gateways.back()->output();
    proxies.push_back(*port);
  }

  auto started = std::chrono::steady_clock::now();
  LimitedRun r = run(proxies, "redis-run-1-" + std::to_string(Clock::system().now_ms()));
  if (r.straddled) r = run(proxies, "redis-run-2-" + std::to_string(Clock::system().now_ms()));
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "redis cluster rate limit %d/hour, %d gateways x %d connections, %d attempts: %d x 200, %d x "
      "429, "
      "%d other in %.2fs\n",
      kLimit, kGateways, kConnectionsPerGateway, 3 * kLimit, r.ok, r.limited, r.other, seconds);
  EXPECT_FALSE(r.straddled);
  EXPECT_EQ(r.ok, kLimit);
  EXPECT_EQ(r.limited, 2 * kLimit);
  EXPECT_EQ(r.other, 0);
  for (std::size_t i = 0; i < r.problems.size() && i < 5; ++i) ADD_FAILURE() << r.problems[i];
  for (auto& g : gateways) g->signal(SIGTERM);
  upstream.stop();
}

}  // namespace
}  // namespace suoke::testing
