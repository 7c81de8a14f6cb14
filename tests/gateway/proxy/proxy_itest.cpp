#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <regex>
#include <thread>

#include "gateway/plugins/chain.h"
#include "gateway/proxy/one_route_proxy.h"
#include "gateway/proxy/proxy_server.h"
#include "gateway/router/router.h"
#include "http/raw_client.h"
#include "http/server.h"
#include "support/loopback_upstream.h"

namespace suoke::gateway::proxy {
namespace {

using namespace std::chrono_literals;
using suoke::testing::get_request;
using suoke::testing::header_of;
using suoke::testing::RawClient;
using suoke::testing::serve_on_loopback;

// Echoes the request as the upstream saw it: "METHOD TARGET\n" + headers + "\n" + body.
http::Response echo(const http::Request& req) {
  if (req.path() == "/slow") std::this_thread::sleep_for(500ms);
  std::string body = req.method + " " + req.target + "\n";
  for (const auto& [k, v] : req.headers) body += k + ": " + v + "\n";
  body += "\n" + req.body;
  auto r = http::Response::text(200, body);
  r.set_header("X-Upstream", "echo");
  r.set_header("Connection", "keep-alive");
  return r;
}

// A socket server run by a test thread, for upstream behaviours http::Server cannot produce
// (closing mid-request, streaming events on cue).
class RawUpstream {
 public:
  explicit RawUpstream(std::function<void(int fd)> on_conn) : on_conn_(std::move(on_conn)) {
    auto listener = suoke::testing::listen_on_loopback(64);
    fd_ = listener.fd;
    port_ = listener.port;
    thread_ = std::thread([this] {
      for (;;) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++connections;
        std::lock_guard<std::mutex> lock(mutex_);
        handlers_.emplace_back([this, c] {
          on_conn_(c);
          ::close(c);
        });
      }
    });
  }
  ~RawUpstream() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : handlers_) t.join();
  }
  uint16_t port() const { return port_; }
  std::atomic<int> connections{0};

  static std::string read_head(int fd) {
    std::string data;
    char buf[4096];
    while (data.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    return data;
  }
  static void send_all(int fd, std::string_view s) { ::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }
  // A connection handler answering any request with 200 and `body` (Content-Length framed);
  // `body` must outlive the upstream.
  static std::function<void(int)> answer_with(const std::string& body) {
    return [&body](int fd) {
      read_head(fd);
      send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) +
                       "\r\n\r\n" + body);
    };
  }

 private:
  std::function<void(int)> on_conn_;
  int fd_;
  uint16_t port_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::thread> handlers_;
};

struct RouteSpec {
  std::vector<std::string> paths;
  uint16_t upstream_port = 0;  // 0: route without service
  bool strip_path = true;
  bool preserve_host = false;
  std::string service_path;
  int read_timeout_ms = 60000;
  int retries = 5;
  std::string host = "127.0.0.1";
};

std::shared_ptr<const Snapshot> make_snapshot(const std::vector<RouteSpec>& specs) {
  auto snap = std::make_shared<Snapshot>();
  int n = 0;
  for (const auto& spec : specs) {
    Route r;
    r.id = "route-" + std::to_string(n);
    r.name = r.id;
    r.paths = spec.paths;
    r.strip_path = spec.strip_path;
    r.preserve_host = spec.preserve_host;
    if (spec.upstream_port != 0) {
      Service s;
      s.id = "service-" + std::to_string(n);
      s.name = s.id;
      s.host = spec.host;
      s.port = spec.upstream_port;
      s.path = spec.service_path;
      s.read_timeout_ms = spec.read_timeout_ms;
      s.connect_timeout_ms = 1000;
      s.retries = spec.retries;
      r.service_index = snap->services.size();
      snap->services.push_back(s);
    }
    snap->routes.push_back(r);
    ++n;
  }
  auto compiled = snap->compile_router();
  EXPECT_TRUE(compiled.ok()) << (compiled.ok() ? "" : compiled.error().message);
  return snap;
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    http::Limits ul;
    ul.keepalive_timeout = upstream_keepalive_;
    upstream_ = std::make_unique<http::Server>("upstream", ul, echo);
    auto port = serve_on_loopback(*upstream_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    upstream_port_ = *port;
  }
  void start_proxy(const std::vector<RouteSpec>& specs, int workers = 1) {
    holder_ = std::make_unique<SnapshotHolder>(make_snapshot(specs));
    ProxyOptions options;
    options.limits.max_body_bytes = 1 << 20;
    proxy_ = std::make_unique<ProxyServer>(options, *holder_);
    auto port = serve_on_loopback(*proxy_, workers);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
  }
  // A proxy on the snapshot already in holder_, its plugin phases played by `plugins`.
  void start_plugin_proxy(std::shared_ptr<PluginRunner> plugins) {
    ProxyOptions options;
    options.plugins = std::move(plugins);
    proxy_ = std::make_unique<ProxyServer>(options, *holder_);
    auto port = serve_on_loopback(*proxy_);
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
  }
  void TearDown() override {
    if (proxy_) proxy_->stop(1s);
    if (upstream_) upstream_->stop(1s);
  }

  std::chrono::milliseconds upstream_keepalive_{60000};
  std::unique_ptr<http::Server> upstream_;
  uint16_t upstream_port_ = 0;
  std::unique_ptr<SnapshotHolder> holder_;
  std::unique_ptr<ProxyServer> proxy_;
  uint16_t port_ = 0;
};

TEST_F(ProxyTest, RoutesToUpstreamWithStripPathAndQuery) {
  start_proxy({{{"/api"}, upstream_port_}});
  RawClient c(port_);
  c.send(get_request("/api/users?x=1&y=2"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-upstream"), "echo");
  EXPECT_EQ(r->body.substr(0, r->body.find('\n')), "GET /users?x=1&y=2");
}

TEST_F(ProxyTest, StripPathFalseAndServicePath) {
  RouteSpec a{{"/keep"}, upstream_port_};
  a.strip_path = false;
  RouteSpec b{{"/svc"}, upstream_port_};
  b.service_path = "/base";
  start_proxy({a, b});
  RawClient c(port_);
  c.send(get_request("/keep/x"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.substr(0, r->body.find('\n')), "GET /keep/x");
  c.send(get_request("/svc/y"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.substr(0, r->body.find('\n')), "GET /base/y");
}

TEST_F(ProxyTest, SetsForwardedHeadersAndHost) {
  RouteSpec plain{{"/p"}, upstream_port_};
  RouteSpec preserve{{"/h"}, upstream_port_};
  preserve.preserve_host = true;
  start_proxy({plain, preserve});
  RawClient c(port_);
  c.send(
      "GET /p/a?q=1 HTTP/1.1\r\nHost: example.com:8000\r\nX-Forwarded-For: 1.2.3.4\r\n"
      "X-Forwarded-Proto: https\r\nX-Real-IP: 9.9.9.9\r\nConnection: keep-alive, X-Hop\r\n"
      "X-Hop: secret\r\nKeep-Alive: timeout=5\r\nX-Custom: kept\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  const std::string& e = r->body;
  EXPECT_EQ(header_of(e, "Host"), "127.0.0.1:" + std::to_string(upstream_port_));
  EXPECT_EQ(header_of(e, "X-Forwarded-For"), "1.2.3.4, 127.0.0.1");
  EXPECT_EQ(header_of(e, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(header_of(e, "X-Forwarded-Host"), "example.com");
  EXPECT_EQ(header_of(e, "X-Forwarded-Port"), std::to_string(port_));
  EXPECT_EQ(header_of(e, "X-Forwarded-Path"), "/p/a");
  EXPECT_EQ(header_of(e, "X-Forwarded-Prefix"), "/p");
  EXPECT_EQ(header_of(e, "X-Real-IP"), "127.0.0.1");
  EXPECT_EQ(header_of(e, "X-Custom"), "kept");
  EXPECT_EQ(header_of(e, "X-Hop"), "<absent>");
  EXPECT_EQ(header_of(e, "Keep-Alive"), "<absent>");
  EXPECT_EQ(header_of(e, "Connection"), "<absent>");

  c.send("GET /h HTTP/1.1\r\nHost: example.com:8000\r\n\r\n");
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(header_of(r->body, "Host"), "example.com:8000");
}

TEST_F(ProxyTest, RequestIdIsGeneratedOrPassedThrough) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  c.send(get_request("/"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  std::string id = r->header("x-request-id");
  EXPECT_TRUE(std::regex_match(
      id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(header_of(r->body, "X-Request-Id"), id);
  c.send(get_request("/", "X-Request-Id: abc-123\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-request-id"), "abc-123");
  EXPECT_EQ(header_of(r->body, "X-Request-Id"), "abc-123");
  c.send(get_request("/"));
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->header("x-request-id"), id);
}

TEST_F(ProxyTest, NoRouteIs404AndRouteWithoutServiceIs503) {
  start_proxy({{{"/api"}, upstream_port_}, {{"/orphan"}, 0}});
  RawClient c(port_);
  c.send(get_request("/nothing"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"message":"no Route matched with those values"})");
  EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8");
  c.send(get_request("/orphan"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"message":"no Service found with those values"})");
  // The connection survives both errors.
  c.send(get_request("/api"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ProxyTest, UnreachableUpstreamIs503AfterRetries) {
  uint16_t dead_port;
  {
    RawUpstream gone([](int) {});
    dead_port = gone.port();
  }
  RouteSpec spec{{"/"}, dead_port};
  spec.retries = 2;
  start_proxy({spec});
  RawClient c(port_);
  c.send(get_request("/"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"message":"The upstream server is currently unavailable"})");
}

TEST_F(ProxyTest, ServiceHostNamesAreResolved) {
  RouteSpec spec{{"/"}, upstream_port_};
  spec.host = "localhost";
  RouteSpec bad{{"/bad"}, upstream_port_};
  bad.host = "no-such-host.invalid";
  start_proxy({spec, bad});
  RawClient c(port_);
  for (int i = 0; i < 3; ++i) {
    c.send(get_request("/"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(header_of(r->body, "Host"), "localhost:" + std::to_string(upstream_port_));
  }
  c.send(get_request("/bad"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->body, R"({"message":"name resolution failed"})");
}

TEST_F(ProxyTest, SlowUpstreamIs504) {
  RouteSpec spec{{"/"}, upstream_port_};
  spec.read_timeout_ms = 100;
  start_proxy({spec});
  RawClient c(port_);
  auto begin = std::chrono::steady_clock::now();
  c.send(get_request("/slow"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(r->body, R"({"message":"The upstream server is timing out"})");
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 450ms);
}

TEST_F(ProxyTest, UpstreamFailureAfterSendIs502WithoutRetry) {
  RawUpstream rude([](int fd) { RawUpstream::read_head(fd); });
  RouteSpec spec{{"/"}, rude.port()};
  spec.retries = 5;
  start_proxy({spec});
  RawClient c(port_);
  c.send(get_request("/"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->body, R"({"message":"An invalid response was received from the upstream server"})");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rude.connections.load(), 1);

  RawUpstream garbage([](int fd) {
    RawUpstream::read_head(fd);
    RawUpstream::send_all(fd, "NOT HTTP AT ALL\r\n\r\n");
  });
  holder_->publish(make_snapshot({{{"/"}, garbage.port()}}));
  c.send(get_request("/"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
}

TEST_F(ProxyTest, UpstreamConnectionsAreKeptAlive) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  for (int i = 0; i < 20; ++i) {
    c.send(get_request("/n" + std::to_string(i)));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  EXPECT_EQ(upstream_->counters().connections_accepted, 1u);
  EXPECT_EQ(upstream_->counters().total_requests, 20u);
}

class StaleProxyTest : public ProxyTest {
 protected:
  StaleProxyTest() { upstream_keepalive_ = 100ms; }
};

TEST_F(StaleProxyTest, StalePooledConnectionIsReplacedTransparently) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  for (int i = 0; i < 3; ++i) {
    c.send(get_request("/"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i;
    std::this_thread::sleep_for(300ms);  // the upstream closes its idle side meanwhile
  }
  EXPECT_EQ(upstream_->counters().connections_accepted, 3u);
}

TEST_F(ProxyTest, SlowReaderGetsALargeResponseIntact) {
  // 8 MiB the client does not read for a while: the proxy's writes to it stop part-way
  // (full socket buffers) and must finish asynchronously, in order, with nothing lost.
  std::string big;
  big.reserve(8 << 20);
  for (int i = 0; big.size() < (8u << 20); ++i) big += std::to_string(i) + ",";
  RawUpstream up(RawUpstream::answer_with(big));
  start_proxy({{{"/"}, up.port()}});
  RawClient c(port_);
  c.send(get_request("/big"));
  std::this_thread::sleep_for(300ms);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-length"), std::to_string(big.size()));
  EXPECT_TRUE(r->body == big);
}

TEST_F(ProxyTest, RequestBodiesAreForwardedIncludingChunked) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  c.send("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.substr(r->body.find("\n\n") + 2), "hello");
  c.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
  std::this_thread::sleep_for(50ms);
  c.send("4\r\ndefg\r\n0\r\n\r\n");
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.substr(r->body.find("\n\n") + 2), "abcdefg");
  std::string big(300000, 'z');
  c.send("PUT /big HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  c.send(big);
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.substr(r->body.find("\n\n") + 2), big);
}

TEST_F(ProxyTest, PipelinedRequestsThroughTheProxyStayInOrder) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  std::string batch;
  for (int i = 0; i < 8; ++i) batch += get_request("/pipe" + std::to_string(i));
  c.send(batch);
  for (int i = 0; i < 8; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body.substr(0, r->body.find('\n')), "GET /pipe" + std::to_string(i));
  }
}

TEST_F(ProxyTest, ServerSentEventsAreStreamedEventByEvent) {
  std::promise<void> first_seen;
  auto first_seen_future = first_seen.get_future().share();
  RawUpstream sse([first_seen_future](int fd) {
    RawUpstream::read_head(fd);
    RawUpstream::send_all(fd,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                          "Cache-Control: no-cache\r\n\r\ndata: one\n\n");
    first_seen_future.wait_for(5s);
    RawUpstream::send_all(fd, "data: two\n\n");
  });
  start_proxy({{{"/events"}, sse.port()}});
  RawClient c(port_);
  c.send(get_request("/events"));
  auto until = std::chrono::steady_clock::now() + 3s;
  while (c.buffer().find("data: one") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    c.fill(100ms);
  }
  ASSERT_NE(c.buffer().find("data: one"), std::string::npos) << c.buffer();
  EXPECT_EQ(c.buffer().find("data: two"), std::string::npos);
  EXPECT_NE(c.buffer().find("Transfer-Encoding: chunked"), std::string::npos);
  first_seen.set_value();
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "data: one\n\ndata: two\n\n");
}

TEST_F(ProxyTest, LargeResponsesStreamIntact) {
  std::string big;
  for (int i = 0; i < 200000; ++i) big += static_cast<char>('a' + i % 26);
  RawUpstream up(RawUpstream::answer_with(big));
  start_proxy({{{"/"}, up.port()}});
  RawClient c(port_);
  c.send(get_request("/big"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-length"), std::to_string(big.size()));
  EXPECT_TRUE(r->body == big);
}

TEST_F(ProxyTest, SnapshotSwapsUnderLoadLoseNoRequest) {
  start_proxy({{{"/a"}, upstream_port_}}, 2);
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, ok{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      RawClient c(port_);
      while (!done) {
        c.send(get_request("/a/x"));
        auto r = c.read_response();
        if (!r || r->status != 200) {
          ++failures;
          return;
        }
        ++ok;
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    std::vector<RouteSpec> specs{{{"/a"}, upstream_port_},
                                 {{"/b" + std::to_string(i)}, upstream_port_}};
    holder_->publish(make_snapshot(specs));
    std::this_thread::sleep_for(2ms);
  }
  done = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(ok.load(), 100);
  RawClient c(port_);
  c.send(get_request("/b99"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(ProxyTest, BadRequestsAreRejectedBeforeRouting) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  c.send(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: "
      "chunked\r\n\r\n0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(upstream_->counters().total_requests, 0u);
}

class CountingRunner : public PluginRunner {
 public:
  void access(ProxyContext& ctx) override {
    ++accessed;
    if (ctx.request_headers->get("x-deny") == "1") {
      ctx.exit = http::Response::json(403, R"({"message":"denied"})");
      return;
    }
    ctx.upstream_headers.emplace_back("X-Plugin", "yes");
    ctx.response_headers.emplace_back("X-Plugin-Response", "yes");
  }
  void header_filter(ProxyContext&, ResponseHead& head) override { ++headers; }
  void body_filter(ProxyContext&, std::string& chunk, bool eof) override {}
  void log(const ProxyContext& ctx) override {
    ++logged;
    last_status = ctx.status;
  }
  std::atomic<int> accessed{0}, headers{0}, logged{0}, last_status{0};
};

TEST_F(ProxyTest, PluginRunnerPhasesRunInOrder) {
  holder_ = std::make_unique<SnapshotHolder>(make_snapshot({{{"/"}, upstream_port_}}));
  auto runner = std::make_shared<CountingRunner>();
  ASSERT_NO_FATAL_FAILURE(start_plugin_proxy(runner));
  RawClient c(port_);
  c.send(get_request("/"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(header_of(r->body, "X-Plugin"), "yes");
  EXPECT_EQ(r->header("x-plugin-response"), "yes");
  c.send(get_request("/", "X-Deny: 1\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, R"({"message":"denied"})");
  EXPECT_EQ(runner->accessed.load(), 2);
  // Exits go through header_filter too (Kong), so both requests reached it.
  EXPECT_EQ(runner->headers.load(), 2);
  // The log phase runs after the response is written, so it may trail the client's read.
  for (int i = 0; i < 200 && runner->logged.load() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(runner->logged.load(), 2);
  EXPECT_EQ(runner->last_status.load(), 403);
}

// Records what the log phase sees, and marks responses in header_filter.
class RecordingRunner : public PluginRunner {
 public:
  struct Seen {
    int status = 0;
    int64_t started_at_ms = 0, request_ms = -2, proxy_ms = -2, upstream_ms = -2;
    std::string upstream_uri, request_id;
    int tries = 0;
    http::HeaderList head;
    bool exited = false;
  };
  void access(ProxyContext& ctx) override {
    ++accessed;
    if (ctx.request_headers->get("x-deny") == "1") {
      ctx.exit = http::Response::json(401, R"({"message":"Unauthorized"})");
    }
  }
  void header_filter(ProxyContext&, ResponseHead& head) override {
    head.headers.emplace_back("X-Filtered", "yes");
  }
  void body_filter(ProxyContext&, std::string&, bool) override {}
  void log(const ProxyContext& ctx) override {
    Seen s;
    s.status = ctx.status;
    s.started_at_ms = ctx.started_at_ms;
    s.request_ms = ctx.request_latency_ms;
    s.proxy_ms = ctx.proxy_latency_ms;
    s.upstream_ms = ctx.upstream_latency_ms;
    s.upstream_uri = ctx.upstream_uri;
    s.request_id = std::string(ctx.request_id);
    s.tries = ctx.tries;
    s.head = ctx.response_head;
    s.exited = ctx.exit.has_value();
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(std::move(s));
  }
  std::vector<Seen> wait_for(std::size_t n) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (seen.size() >= n) break;
      }
      std::this_thread::sleep_for(10ms);
    }
    std::this_thread::sleep_for(50ms);  // a second log call for the same request would show up
    std::lock_guard<std::mutex> lock(mu);
    return seen;
  }
  std::atomic<int> accessed{0};
  std::mutex mu;
  std::vector<Seen> seen;
};

TEST_F(ProxyTest, ContextCarriesLatenciesUriTriesAndHeadAndExitsAreFiltered) {
  uint16_t dead_port = 0;
  {
    RawUpstream gone([](int) {});
    dead_port = gone.port();
  }
  RouteSpec api{{"/api"}, upstream_port_};
  RouteSpec dead{{"/dead"}, dead_port};
  dead.retries = 1;
  holder_ = std::make_unique<SnapshotHolder>(make_snapshot({api, dead}));
  auto runner = std::make_shared<RecordingRunner>();
  ASSERT_NO_FATAL_FAILURE(start_plugin_proxy(runner));
  int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();

  RawClient c(port_);
  c.send(get_request("/api/x?q=1"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-filtered"), "yes");

  c.send(get_request("/api/x", "X-Deny: 1\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("x-filtered"), "yes");  // the exit went through header_filter
  EXPECT_FALSE(r->header("x-request-id").empty());
  EXPECT_EQ(r->body, R"({"message":"Unauthorized"})");

  RawClient d(port_);
  d.send(get_request("/dead"));
  r = d.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);

  auto seen = runner->wait_for(3);
  ASSERT_EQ(seen.size(), 3u);  // exactly one log call per request
  const auto& ok = seen[0];
  EXPECT_EQ(ok.status, 200);
  EXPECT_GE(ok.started_at_ms, before - 1000);
  EXPECT_EQ(ok.upstream_uri, "/x?q=1");
  EXPECT_EQ(ok.tries, 1);
  EXPECT_GE(ok.upstream_ms, 0);
  EXPECT_GE(ok.request_ms, ok.upstream_ms);
  EXPECT_EQ(ok.proxy_ms, ok.request_ms - ok.upstream_ms);
  EXPECT_EQ(http::find_header(ok.head, "x-upstream"), "echo");
  EXPECT_EQ(http::find_header(ok.head, "x-filtered"), "yes");
  EXPECT_EQ(http::find_header(ok.head, "x-request-id"), ok.request_id);

  const auto& exited = seen[1];
  EXPECT_TRUE(exited.exited);
  EXPECT_EQ(exited.status, 401);
  EXPECT_EQ(exited.upstream_ms, -1);
  EXPECT_EQ(exited.tries, 0);
  EXPECT_EQ(http::find_header(exited.head, "x-request-id"), exited.request_id);

  const auto& failed = seen[2];
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(failed.tries, 2);  // retries = 1
  EXPECT_EQ(failed.upstream_ms, -1);
}

TEST_F(ProxyTest, RouteWithoutPluginStepsSkipsTheRunner) {
  auto snap = std::const_pointer_cast<Snapshot>(make_snapshot({{{"/"}, upstream_port_}}));
  plugins::PluginRuntime runtime;
  ASSERT_TRUE(plugins::attach_plan(*snap, runtime).ok());
  holder_ = std::make_unique<SnapshotHolder>(snap);
  auto runner = std::make_shared<RecordingRunner>();
  ASSERT_NO_FATAL_FAILURE(start_plugin_proxy(runner));
  RawClient c(port_);
  c.send(get_request("/"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(runner->accessed.load(), 0);
  EXPECT_TRUE(runner->wait_for(1).empty());
}

TEST_F(ProxyTest, GracefulStopFinishesInFlightProxiedRequest) {
  start_proxy({{{"/"}, upstream_port_}});
  RawClient c(port_);
  c.send(get_request("/slow"));
  std::this_thread::sleep_for(100ms);
  std::thread stopper([&] { proxy_->stop(5s); });
  auto r = c.read_response();
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  proxy_.reset();
}

}  // namespace
}  // namespace suoke::gateway::proxy
