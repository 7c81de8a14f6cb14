// CORS through a running gateway: the seed's global plugin (origins "*" with credentials),
// a route with a list + regex origins, and a route that hands preflights to the upstream.
#include <gtest/gtest.h>

#include <atomic>

#include "gateway/app/gateway_app.h"
#include "http/server.h"
#include "support/gateway_app.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

class CorsGateway : public ::testing::Test {
 protected:
  using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

  void SetUp() override {
    upstream_ = std::make_unique<http::Server>(
        "upstream", http::Limits{}, [this](const http::Request& request) {
          ++upstream_hits_;
          auto r = http::Response::json(200, R"({"method":")" + request.method + R"("})");
          if (request.method == "OPTIONS") r.set_header("X-Upstream-Preflight", "yes");
          return r;
        });
    auto port = serve_on_loopback(*upstream_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    std::string url = "http://127.0.0.1:" + std::to_string(*port);

    std::string config = R"(_format_version: "3.0"
services:
- name: api
  url: )" + url + R"(
  routes:
  - name: seed-route
    paths: [/api]
  - name: listed
    paths: [/listed]
    plugins:
    - name: cors
      config:
        origins: ["https://a.example.com", "(.*\\.)?suoke\\.life"]
        exposed_headers: ["X-Request-Id"]
  - name: continued
    paths: [/continued]
    plugins:
    - name: cors
      config:
        origins: ["https://a.example.com", "https://b.example.com"]
        preflight_continue: true
plugins:
- name: cors
  config:
    origins: ["*"]
    methods: [GET, POST, PUT, DELETE, OPTIONS]
    headers: [Accept, Accept-Version, Content-Length, Content-MD5, Content-Type, Date, X-Auth-Token]
    exposed_headers: [X-Auth-Token]
    credentials: true
    max_age: 3600
)";
    auto app = gateway::GatewayApp::start(loopback_gateway_options(config));
    ASSERT_TRUE(app.ok()) << app.error().message;
    app_ = std::move(app).value();
  }

  void TearDown() override {
    if (app_) app_->stop();
    if (upstream_) upstream_->stop();
  }

  std::optional<HttpReply> send(const std::string& method, const std::string& path,
                                HeaderPairs headers = {}) {
    return http_request(app_->proxy_port(), method, path, {}, headers);
  }

  std::unique_ptr<http::Server> upstream_;
  std::unique_ptr<gateway::GatewayApp> app_;
  std::atomic<int> upstream_hits_{0};
};

TEST_F(CorsGateway, SeedGlobalPluginEchoesTheOriginWithCredentials) {
  auto r = send("GET", "/api/x", {{"Origin", "https://app.suoke.life"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("access-control-allow-origin"), "https://app.suoke.life");
  EXPECT_EQ(r->header("access-control-allow-credentials"), "true");
  EXPECT_EQ(r->header("access-control-expose-headers"), "X-Auth-Token");
  EXPECT_EQ(r->header("vary"), "Origin");
  EXPECT_EQ(r->body, R"({"method":"GET"})");
}

TEST_F(CorsGateway, PreflightIsAnsweredByTheGateway) {
  int before = upstream_hits_.load();
  auto r = send("OPTIONS", "/api/x",
                {{"Origin", "https://app.suoke.life"},
                 {"Access-Control-Request-Method", "PUT"},
                 {"Access-Control-Request-Headers", "X-Ignored"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(r->header("content-length"), "0");
  EXPECT_EQ(r->header("access-control-allow-origin"), "https://app.suoke.life");
  EXPECT_EQ(r->header("access-control-allow-credentials"), "true");
  EXPECT_EQ(r->header("access-control-allow-methods"), "GET,POST,PUT,DELETE,OPTIONS");
  EXPECT_EQ(r->header("access-control-allow-headers"),
            "Accept,Accept-Version,Content-Length,Content-MD5,Content-Type,Date,X-Auth-Token");
  EXPECT_EQ(r->header("access-control-max-age"), "3600");
  EXPECT_EQ(r->header("vary"), "Origin");
  EXPECT_EQ(upstream_hits_.load(), before) << "the upstream never sees a preflight";
}

TEST_F(CorsGateway, ListAndRegexOrigins) {
  auto exact = send("GET", "/listed/x", {{"Origin", "https://a.example.com"}});
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->header("access-control-allow-origin"), "https://a.example.com");
  EXPECT_EQ(exact->header("access-control-allow-credentials"), "");
  EXPECT_EQ(exact->header("access-control-expose-headers"), "X-Request-Id");
  EXPECT_EQ(exact->header("vary"), "Origin");

  auto regex = send("GET", "/listed/x", {{"Origin", "https://app.suoke.life"}});
  ASSERT_TRUE(regex);
  EXPECT_EQ(regex->header("access-control-allow-origin"), "https://app.suoke.life");

  for (const char* denied :
       {"https://evil.org", "https://suoke.life.evil.org", "https://b.example.com"}) {
    auto r = send("GET", "/listed/x", {{"Origin", denied}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "CORS never blocks; the browser does";
    EXPECT_EQ(r->header("access-control-allow-origin"), "") << denied;
    EXPECT_EQ(r->header("vary"), "Origin") << denied;
  }

  auto preflight =
      send("OPTIONS", "/listed/x",
           {{"Origin", "https://x.suoke.life"}, {"Access-Control-Request-Method", "GET"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 200);
  EXPECT_EQ(preflight->header("access-control-allow-origin"), "https://x.suoke.life");
  EXPECT_EQ(preflight->header("access-control-allow-methods"),
            "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT");
  EXPECT_EQ(preflight->header("access-control-allow-credentials"), "");
}

TEST_F(CorsGateway, PreflightContinueReachesTheUpstream) {
  int before = upstream_hits_.load();
  auto r = send("OPTIONS", "/continued/x",
                {{"Origin", "https://a.example.com"}, {"Access-Control-Request-Method", "GET"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-upstream-preflight"), "yes");
  EXPECT_EQ(r->header("access-control-allow-origin"), "");
  EXPECT_EQ(upstream_hits_.load(), before + 1);

  auto normal = send("GET", "/continued/x", {{"Origin", "https://b.example.com"}});
  ASSERT_TRUE(normal);
  EXPECT_EQ(normal->header("access-control-allow-origin"), "https://b.example.com");
}

TEST_F(CorsGateway, NoOriginNoCorsHeaders) {
  auto r = send("GET", "/api/x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("access-control-allow-origin"), "");
  EXPECT_EQ(r->header("vary"), "");
}

}  // namespace
}  // namespace suoke::testing
