// Three `suoke gateway` processes share one route limited to 1000 per hour through a Redis
// Cluster (policy redis, redis_host/redis_port naming one cluster node, as the seed does); 3000
// requests spread across the three over many connections admit exactly 1000.
//
// Deterministic without a fake clock: limit_by header with a value new for each run; a run
// that straddles an hour boundary is repeated once with a fresh value.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/plugins/rate_limiting/windows.h"
#include "http/server.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/redis_servers.h"

namespace suoke::testing {
namespace {

using gateway::plugins::rate_limiting::Period;
using gateway::plugins::rate_limiting::window_for;

constexpr int kLimit = 1000;
constexpr int kGateways = 3;
constexpr int kConnectionsPerGateway = 16;

std::optional<uint16_t> start_gateway(ChildProcess& child, const std::string& data_dir, const std::string& config) {
  if (!child.start({SUOKE_BINARY, "gateway", "--proxy-listen", "127.0.0.1:0", "--admin-listen", "off",
                    "--status-listen", "off", "--workers", "2", "--data-dir", data_dir, "--config", config,
                    "--log-level", "warn"})) {
    return std::nullopt;
  }
  std::string line;
  auto m = child.wait_for_line(R"(proxy on port (\d+))", std::chrono::seconds(20), &line);
  if (!m) return std::nullopt;
  return static_cast<uint16_t>(std::stoi((*m)[1]));
}

struct RunResult {
  int ok = 0, limited = 0, other = 0;
  std::vector<std::string> problems;
  bool straddled = false;
};

RunResult run(const std::vector<uint16_t>& proxies, const std::string& run_id) {
  RunResult r;
  std::mutex mu;
  std::atomic<int> next{0};
  int64_t hour_before = window_for(Period::kHour, Clock::system().now_ms()).index;
  std::vector<std::thread> clients;
  for (std::size_t g = 0; g < proxies.size(); ++g) {
    for (int c = 0; c < kConnectionsPerGateway; ++c) {
      clients.emplace_back([&, port = proxies[g]] {
        HttpConnection conn("127.0.0.1", port);
        while (next.fetch_add(1) < 3 * kLimit) {
          auto reply = conn.request("GET", "/limited/item", {}, {{"X-Run-Id", run_id}});
          std::lock_guard<std::mutex> lock(mu);
          if (!reply) {
            ++r.other;
            r.problems.push_back("transport failure");
            conn.close();
            continue;
          }
          if (reply->status == 200) {
            ++r.ok;
          } else if (reply->status == 429) {
            ++r.limited;
            if (reply->header("x-ratelimit-remaining-hour") != "0") r.problems.push_back("bad 429 headers");
          } else {
            ++r.other;
            r.problems.push_back("status " + std::to_string(reply->status) + ": " + reply->body);
          }
        }
      });
    }
  }
  for (auto& t : clients) t.join();
  r.straddled = window_for(Period::kHour, Clock::system().now_ms()).index != hour_before;
  return r;
}

TEST(GatewayRateLimitingRedis, ThreeGatewaysShareOneLimitThroughTheCluster) {
  RedisCluster cluster;
  http::Server upstream("upstream", http::Limits{}, [](const http::Request& request) {
    return http::Response::json(200, R"({"path":")" + std::string(request.path()) + R"("})");
  });
  auto upstream_port = upstream.listen({"127.0.0.1", 0});
  ASSERT_TRUE(upstream_port.ok());
  ASSERT_TRUE(upstream.start(2).ok());

  TempDir dir;
  std::string config_path = dir.path() + "/kong.yml";
  {
    std::ofstream out(config_path);
    out << "_format_version: \"3.0\"\n"
           "services:\n"
           "- name: limited\n"
           "  url: http://127.0.0.1:"
        << *upstream_port
        << "\n"
           "  routes:\n"
           "  - name: limited-route\n"
           "    paths: [/limited]\n"
           "    plugins:\n"
           "    - name: rate-limiting\n"
           "      config:\n"
           "        hour: "
        << kLimit
        << "\n"
           "        limit_by: header\n"
           "        header_name: X-Run-Id\n"
           "        policy: redis\n"
           "        redis_host: 127.0.0.1\n"
           "        redis_port: "
        << cluster.ports()[0] << "\n";
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
  RunResult r = run(proxies, "redis-run-1-" + std::to_string(Clock::system().now_ms()));
  if (r.straddled) r = run(proxies, "redis-run-2-" + std::to_string(Clock::system().now_ms()));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("redis cluster rate limit %d/hour, %d gateways x %d connections, %d attempts: %d x 200, %d x 429, "
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
