// A proxy in front of an echoing upstream, for the proxy tests that are about plugin phases
// rather than routing: one catch-all route, and a PluginRunner the test plays.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <regex>
#include <string>

#include "gateway/proxy/proxy_server.h"
#include "gateway/router/router.h"
#include "http/server.h"
#include "support/loopback_upstream.h"

namespace suoke::testing {

// Answers 200 with the request as the upstream saw it: "METHOD TARGET\n" and a "name: value\n"
// line per header, so a test can read what the proxy forwarded (header_of).
inline http::Response echo_request_head(const http::Request& req) {
  std::string body = req.method + " " + req.target + "\n";
  for (const auto& [k, v] : req.headers) body += k + ": " + v + "\n";
  return http::Response::text(200, body);
}

// The value of header `name` in an echoed request, or "<absent>".
inline std::string header_of(const std::string& echoed, const std::string& name) {
  std::regex re("(^|\n)" + name + ": ([^\n]*)\n", std::regex::icase);
  std::smatch m;
  if (std::regex_search(echoed, m, re)) return m[2];
  return "<absent>";
}

// One route for every path, to the upstream on 127.0.0.1:upstream_port.
inline std::shared_ptr<const gateway::Snapshot> one_route(uint16_t upstream_port) {
  auto snap = std::make_shared<gateway::Snapshot>();
  gateway::Service s;
  s.id = "service-0";
  s.name = s.id;
  s.host = "127.0.0.1";
  s.port = upstream_port;
  s.connect_timeout_ms = 1000;
  snap->services.push_back(s);
  gateway::Route r;
  r.id = "route-0";
  r.name = r.id;
  r.paths = {"/"};
  r.service_index = 0;
  snap->routes.push_back(r);
  EXPECT_TRUE(snap->compile_router().ok());
  return snap;
}

// The upstream and the route are ready after SetUp; start_proxy() is left to the test, so it
// can set runner_ up first.
template <class Runner>
class OneRouteProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<http::Server>("upstream", http::Limits{}, echo_request_head);
    auto port = serve_on_loopback(*upstream_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    holder_ = std::make_unique<gateway::SnapshotHolder>(one_route(*port));
  }
  void start_proxy(int workers = 1) {
    gateway::proxy::ProxyOptions options;
    options.plugins = runner_;
    proxy_ = std::make_unique<gateway::proxy::ProxyServer>(options, *holder_);
    auto port = serve_on_loopback(*proxy_, workers);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
  }
  void TearDown() override {
    if (proxy_) proxy_->stop(std::chrono::seconds(1));
    if (upstream_) upstream_->stop(std::chrono::seconds(1));
  }

  std::shared_ptr<Runner> runner_ = std::make_shared<Runner>();
  std::unique_ptr<http::Server> upstream_;
  std::unique_ptr<gateway::SnapshotHolder> holder_;
  std::unique_ptr<gateway::proxy::ProxyServer> proxy_;
  uint16_t port_ = 0;
};

}  // namespace suoke::testing
