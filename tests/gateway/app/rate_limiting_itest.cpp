// Rate-limit exactness through a running gateway: 64 concurrent keep-alive connections make
// 3 x N attempts against a route limited to N per hour; exactly N get 200 and the rest get
// Kong's 429 with its headers and body.
//
// Deterministic without a fake clock: requests are limited by a header whose value is new for
// each run, and a run that straddles an hour boundary (seen by comparing the hour before and
// after) is repeated once with a fresh value, which cannot straddle again.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/app/gateway_app.h"
#include "gateway/plugins/rate_limiting/windows.h"
#include "http/server.h"
#include "support/http_client.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

using gateway::plugins::rate_limiting::Period;
using gateway::plugins::rate_limiting::window_for;

constexpr int kLimit = 500;
constexpr int kConnections = 64;

struct RunResult {
  int ok = 0, limited = 0, other = 0;
  std::set<int> remaining_seen;  // X-RateLimit-Remaining-Hour of every 200
  std::vector<std::string> problems;
  bool straddled = false;
};

RunResult run(uint16_t proxy, const std::string& run_id) {
  RunResult r;
  std::mutex mu;
  std::atomic<int> next{0};
  int64_t hour_before = window_for(Period::kHour, Clock::system().now_ms()).index;
  std::vector<std::thread> clients;
  for (int c = 0; c < kConnections; ++c) {
    clients.emplace_back([&] {
      HttpConnection conn("127.0.0.1", proxy);
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
          r.remaining_seen.insert(std::stoi(reply->header("x-ratelimit-remaining-hour")));
          if (reply->header("x-ratelimit-limit-hour") != std::to_string(kLimit) ||
              reply->header("ratelimit-limit") != std::to_string(kLimit) ||
              reply->header("ratelimit-reset").empty() || reply->body != R"({"path":"/item"})") {
            r.problems.push_back("bad 200: " + reply->body);
          }
        } else if (reply->status == 429) {
          ++r.limited;
          std::string reset = reply->header("ratelimit-reset");
          if (reply->body != R"({"message":"API rate limit exceeded"})" ||
              reply->header("x-ratelimit-limit-hour") != std::to_string(kLimit) ||
              reply->header("x-ratelimit-remaining-hour") != "0" ||
              reply->header("ratelimit-remaining") != "0" || reset.empty() ||
              std::stoi(reset) < 1 || std::stoi(reset) > 3600 ||
              reply->header("retry-after") != reset ||
              reply->header("content-type").find("application/json") != 0) {
            r.problems.push_back("bad 429: " + reply->body +
                                 " retry-after=" + reply->header("retry-after"));
          }
        } else {
          ++r.other;
          r.problems.push_back("status " + std::to_string(reply->status));
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  r.straddled = window_for(Period::kHour, Clock::system().now_ms()).index != hour_before;
  return r;
}

TEST(GatewayRateLimiting, ExactlyNPassWithSixtyFourConnections) {
  http::Server upstream("upstream", http::Limits{}, [](const http::Request& request) {
    return http::Response::json(200, R"({"path":")" + std::string(request.path()) + R"("})");
  });
  auto upstream_port = upstream.listen({"127.0.0.1", 0});
  ASSERT_TRUE(upstream_port.ok());
  ASSERT_TRUE(upstream.start(2).ok());

  TempDir dir;
  gateway::GatewayOptions options;
  options.proxy_listen = {"127.0.0.1", 0};
  options.admin_listen = {"127.0.0.1", 0};
  options.status_enabled = false;
  options.workers = 4;
  options.data_dir = dir.path();
  options.config_text =
      "_format_version: \"3.0\"\n"
      "services:\n"
      "- name: limited\n"
      "  url: http://127.0.0.1:" +
      std::to_string(*upstream_port) +
      "\n"
      "  routes:\n"
      "  - name: limited-route\n"
      "    paths: [/limited]\n"
      "    plugins:\n"
      "    - name: rate-limiting\n"
      "      config:\n"
      "        hour: " +
      std::to_string(kLimit) +
      "\n"
      "        limit_by: header\n"
      "        header_name: X-Run-Id\n";
  auto app = gateway::GatewayApp::start(options);
  ASSERT_TRUE(app.ok()) << app.error().message;
  uint16_t proxy = (*app)->proxy_port();

  auto started = std::chrono::steady_clock::now();
  RunResult r = run(proxy, "run-1");
  if (r.straddled) r = run(proxy, "run-2");
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "rate limit %d/hour, %d connections, %d attempts: %d x 200, %d x 429, %d other in %.2fs\n",
      kLimit, kConnections, 3 * kLimit, r.ok, r.limited, r.other, seconds);

  EXPECT_FALSE(r.straddled);
  EXPECT_EQ(r.ok, kLimit);
  EXPECT_EQ(r.limited, 2 * kLimit);
  EXPECT_EQ(r.other, 0);
  // Every admitted request saw its own count: remaining took each value 0..N-1 once.
  EXPECT_EQ(r.remaining_seen.size(), static_cast<std::size_t>(kLimit));
  if (!r.remaining_seen.empty()) {
    EXPECT_EQ(*r.remaining_seen.begin(), 0);
    EXPECT_EQ(*r.remaining_seen.rbegin(), kLimit - 1);
  }
  for (std::size_t i = 0; i < r.problems.size() && i < 5; ++i) ADD_FAILURE() << r.problems[i];

  // Another identifier has its own budget.
  auto other = http_request(proxy, "GET", "/limited/item", {}, {{"X-Run-Id", "someone-else"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->header("x-ratelimit-remaining-hour"), std::to_string(kLimit - 1));

  (*app)->stop();
  upstream.stop();
}

}  // namespace
}  // namespace suoke::testing
