// Rate-limit exactness through a running gateway: 64 concurrent keep-alive connections make
// 3 x N attempts against a route limited to N per hour; exactly N get 200 and the rest get
// Kong's 429 with its headers and body.
//
// Deterministic without a fake clock: requests are limited by a header whose value is new for
// each run, and a run that straddles an hour boundary (seen by comparing the hour before and
// after) is repeated once with a fresh value, which cannot straddle again.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "gateway/app/gateway_app.h"
#include "gateway/app/limited_route_load.h"
#include "http/server.h"
#include "support/gateway_app.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

constexpr int kLimit = 500;
constexpr int kConnections = 64;

// kConnections connections make 3 x kLimit attempts; every reply must carry Kong's headers.
LimitedRun run(uint16_t proxy, const std::string& run_id) {
  return run_limited_load(
      std::vector<uint16_t>(kConnections, proxy), 3 * kLimit, run_id,
      [](const HttpReply& reply, LimitedRun& r) {
        if (reply.status == 200) {
          ++r.ok;
          r.remaining_seen.insert(std::stoi(reply.header("x-ratelimit-remaining-hour")));
          if (reply.header("x-ratelimit-limit-hour") != std::to_string(kLimit) ||
              reply.header("ratelimit-limit") != std::to_string(kLimit) ||
              reply.header("ratelimit-reset").empty() || reply.body != R"({"path":"/item"})") {
            r.problems.push_back("bad 200: " + reply.body);
          }
        } else if (reply.status == 429) {
          ++r.limited;
          std::string reset = reply.header("ratelimit-reset");
          if (reply.body != R"({"message":"API rate limit exceeded"})" ||
              reply.header("x-ratelimit-limit-hour") != std::to_string(kLimit) ||
              reply.header("x-ratelimit-remaining-hour") != "0" ||
              reply.header("ratelimit-remaining") != "0" || reset.empty() || std::stoi(reset) < 1 ||
              std::stoi(reset) > 3600 || reply.header("retry-after") != reset ||
              reply.header("content-type").find("application/json") != 0) {
            r.problems.push_back("bad 429: " + reply.body +
                                 " retry-after=" + reply.header("retry-after"));
          }
        } else {
          ++r.other;
          r.problems.push_back("status " + std::to_string(reply.status));
        }
      });
}

TEST(GatewayRateLimiting, ExactlyNPassWithSixtyFourConnections) {
  http::Server upstream("upstream", http::Limits{}, echo_path);
  auto upstream_port = serve_on_loopback(upstream, 2);
  ASSERT_TRUE(upstream_port.ok()) << upstream_port.error().message;

  TempDir dir;
  auto app = gateway::GatewayApp::start(
      loopback_gateway_options(limited_route_config(*upstream_port, kLimit),
                               {.admin = true, .workers = 4, .data_dir = dir.path()}));
  ASSERT_TRUE(app.ok()) << app.error().message;
  uint16_t proxy = (*app)->proxy_port();

  auto started = std::chrono::steady_clock::now();
  LimitedRun r = run(proxy, "run-1");
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
