// response-transformer through a running gateway: the seed's health-data config (Kong's
// top-level names) and nested paths against records carrying the fields nested, gzip from an
// upstream that ignores Accept-Encoding, non-JSON, invalid JSON, oversize bodies with and
// without Content-Length, and the framing the client receives.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <thread>

#include "gateway/app/gateway_app.h"
#include "gateway/plugins/response_transformer_test_util.h"
#include "http/server.h"
#include "support/gateway_app.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

namespace json = boost::json;

constexpr std::size_t kCap = 4096;

const std::string kHealth =
    R"({"service":"health-data-service",)"
    R"("records":[{"id":1,"type":"heart_rate","value":72,"sensitive_data":{"device":"d1"}},)"
    R"({"id":2,"type":"temperature","value":36.5,"sensitive_data":{"device":"d2"}}],)"
    R"("patient":{"id":"p1","personal_info":{"name":"Li"},"sensitive_data":{"ins":"I"}},)"
    R"("sensitive_data":{"access_level":"clinician"},"personal_info":{"by":"x"},"count":2})";

// An upstream for what http::Server cannot send: chunked bodies without Content-Length.
class ChunkedUpstream {
 public:
  explicit ChunkedUpstream(std::function<std::string(const std::string& head)> respond)
      : respond_(std::move(respond)) {
    auto listener = listen_on_loopback(16);
    fd_ = listener.fd;
    port_ = listener.port;
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          head.append(buf, static_cast<std::size_t>(n));
        }
        std::string out = respond_(head);
        std::size_t sent = 0;
        while (sent < out.size()) {
          ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
          if (n <= 0) break;
          sent += static_cast<std::size_t>(n);
        }
        ::close(c);  // one response per connection ("Connection: close")
      }
    });
  }
  ~ChunkedUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  uint16_t port() const { return port_; }

  static std::string chunked_response(const std::string& body, std::string extra_headers = {}) {
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n" +
        extra_headers + "Connection: close\r\n\r\n";
    for (std::size_t i = 0; i < body.size(); i += 1000) {
      std::string piece = body.substr(i, 1000);
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
      out += size + piece + "\r\n";
    }
    return out + "0\r\n\r\n";
  }

 private:
  std::function<std::string(const std::string&)> respond_;
  int fd_;
  uint16_t port_;
  std::thread thread_;
};

std::string big_json() {
  std::string body = R"({"records":[)";
  for (int i = 0; body.size() < 3 * kCap; ++i) {
    if (i) body += ",";
    body += R"({"id":)" + std::to_string(i) + R"(,"sensitive_data":"secret-)" + std::to_string(i) +
            R"("})";
  }
  return body + "]}";
}

class ResponseTransformerGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<http::Server>(
        "upstream", http::Limits{}, [](const http::Request& request) {
          std::string path(request.path());
          http::Response r;
          if (path == "/health") {
            r = http::Response::json(200, kHealth);
          } else if (path == "/gzip") {
            r = http::Response::json(200, gzip(kHealth));
            r.set_header("Content-Encoding", "gzip");
          } else if (path == "/text") {
            r = http::Response::text(200, "sensitive_data stays in text");
          } else if (path == "/invalid") {
            r = http::Response::json(200, R"({"sensitive_data":"truncated)");
          } else if (path == "/big") {
            r = http::Response::json(200, big_json());
          } else {
            r = http::Response::json(404, R"({"message":"no"})");
          }
          r.set_header("X-Seen-Accept-Encoding", std::string(request.header("accept-encoding")));
          r.set_header("X-Internal", "upstream-detail");
          return r;
        });
    auto port = serve_on_loopback(*upstream_);
    ASSERT_TRUE(port.ok()) << port.error().message;

    chunked_ = std::make_unique<ChunkedUpstream>([](const std::string& head) {
      if (head.find("GET /big ") != std::string::npos)
        return ChunkedUpstream::chunked_response(big_json());
      return ChunkedUpstream::chunked_response(kHealth);
    });

    std::string nested_plugin = R"(
    plugins:
    - name: response-transformer
      config:
        remove:
          json: ["records[*].sensitive_data", "patient.personal_info", "patient.sensitive_data",
                 "sensitive_data", "personal_info"]
          headers: [x-internal]
        add:
          headers: ["x-transformed:true"]
          json: ["count:3"]
)";
    std::string config = R"(_format_version: "3.0"
services:
- name: health-data-service
  url: http://127.0.0.1:)" +
                         std::to_string(*port) + R"(
  routes:
  - name: seed
    paths: [/seed]
    plugins:
    - name: response-transformer
      config:
        remove:
          json: [sensitive_data, personal_info]
  - name: nested
    paths: [/nested])" + nested_plugin +
                         R"(
  - name: deep
    paths: [/deep]
    plugins:
    - name: response-transformer
      config:
        remove:
          json: ["**.sensitive_data", "**.personal_info"]
- name: chunked
  url: http://127.0.0.1:)" +
                         std::to_string(chunked_->port()) + R"(
  routes:
  - name: chunked-route
    paths: [/chunked])" + nested_plugin;
    auto app = start_gateway(config, false);
    ASSERT_TRUE(app.ok()) << app.error().message;
    app_ = std::move(app).value();
  }

  // A proxy-only gateway on `config`, its transformer capped at kCap bytes (the cap and the
  // oversize policy are read when plugin instances are created, so at start).
  static Result<std::unique_ptr<gateway::GatewayApp>> start_gateway(const std::string& config,
                                                                    bool pass_through_oversize) {
    ::setenv("SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES", std::to_string(kCap).c_str(), 1);
    if (pass_through_oversize) ::setenv("SUOKE_RESPONSE_TRANSFORMER_OVERSIZE", "pass-through", 1);
    auto app = gateway::GatewayApp::start(loopback_gateway_options(config));
    ::unsetenv("SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES");
    ::unsetenv("SUOKE_RESPONSE_TRANSFORMER_OVERSIZE");
    return app;
  }

  void TearDown() override {
    if (app_) app_->stop();
    if (upstream_) upstream_->stop();
  }

  std::optional<HttpReply> get(const std::string& path,
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
    return http_request(app_->proxy_port(), "GET", path, {}, headers);
  }

  // The body is framed correctly: chunked without a stale Content-Length, or a
  // Content-Length equal to what arrived.
  static void expect_framing(const HttpReply& r) {
    std::string cl = r.header("content-length");
    if (cl.empty()) {
      EXPECT_EQ(r.header("transfer-encoding"), "chunked");
    } else {
      EXPECT_EQ(cl, std::to_string(r.body.size()));
    }
  }

  std::unique_ptr<http::Server> upstream_;
  std::unique_ptr<ChunkedUpstream> chunked_;
  std::unique_ptr<gateway::GatewayApp> app_;
};

TEST_F(ResponseTransformerGateway, SeedConfigStripsTopLevelLikeKong) {
  auto r = get("/seed/health", {{"Accept-Encoding", "gzip, br"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // The gateway holds the head until the transformed body is complete, so the client gets
  // its exact length instead of chunks (Kong re-chunks here).
  EXPECT_EQ(r->header("content-length"), std::to_string(r->body.size()));
  EXPECT_EQ(r->header("transfer-encoding"), "");
  EXPECT_EQ(r->header("x-seen-accept-encoding"), "identity");
  json::value body = json::parse(r->body);
  EXPECT_EQ(body.as_object().if_contains("sensitive_data"), nullptr);
  EXPECT_EQ(body.as_object().if_contains("personal_info"), nullptr);
  // Plain names keep Kong's top-level meaning: nested copies need paths (next test).
  EXPECT_NE(body.at("records").at(0).as_object().if_contains("sensitive_data"), nullptr);
  EXPECT_NE(body.at("patient").as_object().if_contains("personal_info"), nullptr);
  EXPECT_EQ(body.at("records").at(1).at("value"), 36.5);
}

TEST_F(ResponseTransformerGateway, NestedPathsStripRecordsAndPatient) {
  auto r = get("/nested/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_framing(*r);
  EXPECT_EQ(r->header("x-transformed"), "true");
  EXPECT_EQ(r->header("x-internal"), "");
  EXPECT_EQ(json::parse(r->body), json::parse(R"({"service":"health-data-service",
      "records":[{"id":1,"type":"heart_rate","value":72},{"id":2,"type":"temperature","value":36.5}],
      "patient":{"id":"p1"},"count":2})"))
      << r->body;
  EXPECT_EQ(r->body.find("sensitive_data"), std::string::npos);
}

TEST_F(ResponseTransformerGateway, DeepPathsStripEverywhere) {
  auto r = get("/deep/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find("sensitive_data"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("personal_info"), std::string::npos) << r->body;
  EXPECT_EQ(json::parse(r->body).at("patient").at("id"), "p1");
}

TEST_F(ResponseTransformerGateway, GzipFromTheUpstreamIsDecodedAndTransformed) {
  auto r = get("/nested/gzip", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_framing(*r);
  EXPECT_EQ(r->header("content-encoding"), "");
  EXPECT_EQ(r->body.find("sensitive_data"), std::string::npos) << r->body;
  EXPECT_EQ(json::parse(r->body).at("records").as_array().size(), 2u);
}

TEST_F(ResponseTransformerGateway, NonJsonAndInvalidJsonPassThrough) {
  auto text = get("/nested/text");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->body, "sensitive_data stays in text");
  EXPECT_EQ(text->header("content-length"), std::to_string(text->body.size()));
  EXPECT_EQ(text->header("x-transformed"), "true") << "header operations apply to every response";

  auto invalid = get("/nested/invalid");
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 200);
  expect_framing(*invalid);
  EXPECT_EQ(invalid->body, R"({"sensitive_data":"truncated)");
}

TEST_F(ResponseTransformerGateway, OversizeWithContentLengthIs502) {
  auto r = get("/nested/big");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  expect_framing(*r);
  EXPECT_EQ(r->body, R"x({"message":"response body too large to transform (limit 4096 bytes)"})x");
  EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8");
}

TEST_F(ResponseTransformerGateway, ChunkedBodiesTransformAndOversizeNeverLeaks) {
  auto small = get("/chunked/health");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 200);
  expect_framing(*small);
  EXPECT_EQ(small->body.find("sensitive_data"), std::string::npos) << small->body;

  EXPECT_EQ(small->header("content-length"), std::to_string(small->body.size()));
  EXPECT_EQ(small->header("transfer-encoding"), "");

  // Without Content-Length the body turns out too large only as it arrives; the head waits
  // for the body, so that is still a clean 502 with the message, never the data.
  HttpConnection conn("127.0.0.1", app_->proxy_port());
  ASSERT_TRUE(conn.connect());
  ASSERT_TRUE(conn.send_raw("GET /chunked/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  while (conn.fill()) {
  }
  std::string received = conn.buffer();
  EXPECT_EQ(received.find("secret-"), std::string::npos) << received;
  EXPECT_EQ(received.find("HTTP/1.1 502"), 0u) << received;
  EXPECT_NE(
      received.find(R"x({"message":"response body too large to transform (limit 4096 bytes)"})x"),
      std::string::npos)
      << received;
}

TEST_F(ResponseTransformerGateway, OversizeChunkedPassThroughReleasesTheHeldHead) {
  // SUOKE_RESPONSE_TRANSFORMER_OVERSIZE=pass-through: the transformer gives up buffering, so
  // the held head goes out framed by what is known and the body arrives untouched.
  std::string config = R"(_format_version: "3.0"
services:
- name: chunked
  url: http://127.0.0.1:)" +
                       std::to_string(chunked_->port()) + R"(
  routes:
  - name: chunked-route
    paths: [/chunked]
    plugins:
    - name: response-transformer
      config:
        remove:
          json: [sensitive_data]
)";
  auto app = start_gateway(config, true);
  ASSERT_TRUE(app.ok()) << app.error().message;
  auto r = http_request((*app)->proxy_port(), "GET", "/chunked/big", {}, {});
  (*app)->stop();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  expect_framing(*r);
  EXPECT_EQ(r->body, big_json());
}

}  // namespace
}  // namespace suoke::testing
