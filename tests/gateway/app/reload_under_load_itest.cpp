// 100 route changes applied while load runs through the proxy: zero failed requests, because
// every change builds a new snapshot off the request path and in-flight requests finish on
// the snapshot they started with.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "gateway/app/gateway_app.h"
#include "http/server.h"
#include "support/gateway_app.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

TEST(GatewayReload, HundredRouteChangesUnderLoadFailNoRequest) {
  http::Server upstream("upstream", http::Limits{}, echo_path);
  auto upstream_port = serve_on_loopback(upstream);
  ASSERT_TRUE(upstream_port.ok()) << upstream_port.error().message;

  TempDir dir;
  std::string config =
      "_format_version: \"3.0\"\nservices:\n- name: stable\n  url: http://127.0.0.1:" +
      std::to_string(*upstream_port) +
      "\n  routes:\n  - name: stable-route\n    paths: [/stable]\n";
  auto app = gateway::GatewayApp::start(
      loopback_gateway_options(config, {.admin = true, .workers = 2, .data_dir = dir.path()}));
  ASSERT_TRUE(app.ok()) << app.error().message;
  uint16_t proxy = (*app)->proxy_port(), admin = (*app)->admin_port();

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      HttpConnection conn("127.0.0.1", proxy);
      while (!stop.load()) {
        auto reply = conn.request("GET", "/stable/item");
        if (reply && reply->status == 200 && reply->body == R"({"path":"/item"})") {
          ++ok;
        } else {
          ++failed;
          conn.close();
        }
      }
    });
  }
  // Let the load start before changing anything.
  while (ok.load() < 100) std::this_thread::sleep_for(std::chrono::milliseconds(5));

  HttpConnection admin_conn("127.0.0.1", admin);
  int changes = 0;
  for (int i = 0; i < 50; ++i) {
    auto created = admin_conn.request(
        "POST", "/services/stable/routes",
        R"({"name":"r)" + std::to_string(i) + R"(","paths":["/r)" + std::to_string(i) + R"("]})");
    ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no reply");
    ++changes;
    auto patched = admin_conn.request("PATCH", "/routes/r" + std::to_string(i),
                                      R"({"paths":["/changed)" + std::to_string(i) + R"("]})");
    ASSERT_TRUE(patched && patched->status == 200) << (patched ? patched->body : "no reply");
    ++changes;
  }
  // The new routes are live: a changed path now reaches the upstream.
  auto through_new = http_request(proxy, "GET", "/changed7/x");
  ASSERT_TRUE(through_new);
  EXPECT_EQ(through_new->status, 200);
  EXPECT_EQ(through_new->body, R"({"path":"/x"})");

  stop = true;
  for (auto& t : clients) t.join();
  std::printf("route changes: %d, proxied requests: %d ok, %d failed\n", changes, ok.load(),
              failed.load());
  EXPECT_EQ(changes, 100);
  EXPECT_EQ(failed.load(), 0) << "requests failed while routes changed";
  EXPECT_GT(ok.load(), 100);
  (*app)->stop();
  upstream.stop();
}

}  // namespace
}  // namespace suoke::testing
