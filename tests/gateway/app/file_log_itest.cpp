// The file-log plugin through a running gateway: one JSON record per request with Kong's
// serializer fields, and log rotation (rename + reopen) without restarting.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <utility>

#include "gateway/app/gateway_app.h"
#include "gateway/plugins/file_log/writer.h"
#include "http/server.h"
#include "support/gateway_app.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> wait_for_lines(const std::string& path, std::size_t n) {
  std::vector<std::string> lines;
  for (int i = 0; i < 250; ++i) {
    lines.clear();
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    if (lines.size() >= n) break;
    std::this_thread::sleep_for(20ms);
  }
  return lines;
}

class FileLogGatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ =
        std::make_unique<http::Server>("upstream", http::Limits{}, [](const http::Request&) {
          auto r = http::Response::json(200, R"({"ok":true})");
          r.set_header("X-Upstream", "yes");
          return r;
        });
    auto port = serve_on_loopback(*upstream_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    log_path_ = dir_.path() + "/access.log";
    std::string config =
        "_format_version: \"3.0\"\nservices:\n- name: logged\n  url: http://127.0.0.1:" +
        std::to_string(*port) +
        "/base\n  routes:\n  - name: logged-route\n    paths: [/logged]\nplugins:\n"
        "- name: file-log\n  config:\n    path: " +
        log_path_ + "\n";
    auto app =
        gateway::GatewayApp::start(loopback_gateway_options(config, {.admin = true, .workers = 2}));
    ASSERT_TRUE(app.ok()) << app.error().message;
    app_ = std::move(app).value();
  }
  void TearDown() override {
    if (app_) app_->stop();
    if (upstream_) upstream_->stop(1000ms);
  }

  TempDir dir_;
  std::string log_path_;
  std::unique_ptr<http::Server> upstream_;
  std::unique_ptr<gateway::GatewayApp> app_;
};

TEST_F(FileLogGatewayTest, OneKongRecordPerRequest) {
  auto r = http_request(app_->proxy_port(), "GET", "/logged/item?x=1&y", {},
                        {{"Authorization", "Bearer t"}, {"X-Trace", "abc"}});
  ASSERT_TRUE(r && r->status == 200);
  auto r2 = http_request(app_->proxy_port(), "POST", "/logged/post", "hello");
  ASSERT_TRUE(r2 && r2->status == 200);

  auto lines = wait_for_lines(log_path_, 2);
  ASSERT_EQ(lines.size(), 2u);
  // The log phase runs after the response is written, so under load the second request's
  // record can reach the file first: take the records by method, not by position.
  auto first = boost::json::parse(lines[0]).as_object();
  auto second = boost::json::parse(lines[1]).as_object();
  if (first.at("request").at("method").as_string() != "GET") std::swap(first, second);
  auto v = std::move(first);
  const auto& req = v.at("request").as_object();
  EXPECT_EQ(req.at("method").as_string(), "GET");
  EXPECT_EQ(req.at("uri").as_string(), "/logged/item?x=1&y");
  EXPECT_EQ(req.at("url").as_string().subview().substr(0, 7), "http://");
  EXPECT_EQ(req.at("querystring").at("x").as_string(), "1");
  EXPECT_EQ(req.at("querystring").at("y"), true);
  EXPECT_EQ(req.at("headers").at("authorization").as_string(), "REDACTED");
  EXPECT_EQ(req.at("headers").at("x-trace").as_string(), "abc");
  EXPECT_TRUE(req.at("size").is_number());
  EXPECT_EQ(v.at("upstream_uri").as_string(), "/base/item?x=1&y");
  const auto& res = v.at("response").as_object();
  EXPECT_EQ(res.at("status").as_int64(), 200);
  EXPECT_EQ(res.at("headers").at("x-upstream").as_string(), "yes");
  EXPECT_FALSE(res.at("headers").at("x-request-id").as_string().empty());
  EXPECT_EQ(res.at("headers").at("x-request-id").as_string(), r->header("x-request-id"));
  EXPECT_TRUE(res.at("size").is_number());
  const auto& lat = v.at("latencies").as_object();
  EXPECT_GE(lat.at("kong").as_int64(), 0);
  EXPECT_GE(lat.at("proxy").as_int64(), 0);
  EXPECT_GE(lat.at("request").as_int64(), lat.at("proxy").as_int64());
  EXPECT_EQ(v.at("tries").as_array().size(), 1u);
  EXPECT_EQ(v.at("route").at("name").as_string(), "logged-route");
  EXPECT_EQ(v.at("service").at("name").as_string(), "logged");
  EXPECT_EQ(v.at("client_ip").as_string(), "127.0.0.1");
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  EXPECT_LE(v.at("started_at").as_int64(), now_ms);
  EXPECT_GT(v.at("started_at").as_int64(), now_ms - 60000);
  EXPECT_EQ(v.at("source").as_string(), "service");
  EXPECT_EQ(v.find("consumer"), v.end());  // no consumer identified

  EXPECT_EQ(second.at("request").at("method").as_string(), "POST");
}

TEST_F(FileLogGatewayTest, RotationReopensTheFile) {
  ASSERT_TRUE(http_request(app_->proxy_port(), "GET", "/logged/1"));
  ASSERT_EQ(wait_for_lines(log_path_, 1).size(), 1u);
  std::filesystem::rename(log_path_, log_path_ + ".1");
  // What SIGUSR1 does in `suoke gateway` / `suoke up`.
  gateway::plugins::file_log::reopen_all();
  ASSERT_TRUE(http_request(app_->proxy_port(), "GET", "/logged/2"));
  auto fresh = wait_for_lines(log_path_, 1);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(boost::json::parse(fresh[0]).at("request").at("uri").as_string(), "/logged/2");
  std::ifstream old(log_path_ + ".1");
  std::string first;
  std::getline(old, first);
  EXPECT_EQ(boost::json::parse(first).at("request").at("uri").as_string(), "/logged/1");
}

}  // namespace
}  // namespace suoke::testing
