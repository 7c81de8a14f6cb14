#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http/raw_client.h"
#include "http/server.h"

namespace suoke::http {
namespace {

using namespace std::chrono_literals;
using testing::get_request;
using testing::RawClient;

Response echo(const Request& req) {
  if (req.path() == "/slow") std::this_thread::sleep_for(300ms);
  Response r = Response::text(200, req.method + " " + req.target + " " + req.body);
  r.set_header("X-Body-Length", std::to_string(req.body.size()));
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void start(Limits limits = {}, int workers = 1) {
    server_ = std::make_unique<Server>("test", limits, echo);
    auto port = server_->listen({"127.0.0.1", 0});
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    ASSERT_TRUE(server_->start(workers).ok());
  }
  void TearDown() override {
    if (server_) server_->stop(1s);
  }
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.send(get_request("/k" + std::to_string(i))));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "GET /k" + std::to_string(i) + " ");
  }
  EXPECT_EQ(server_->counters().total_requests, 5u);
  EXPECT_EQ(server_->counters().connections_accepted, 1u);
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawClient c(port_);
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += get_request(i == 3 ? "/slow" : "/p" + std::to_string(i));
  batch += "POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
  ASSERT_TRUE(c.send(batch));
  for (int i = 0; i < 10; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "GET " + (i == 3 ? std::string("/slow") : "/p" + std::to_string(i)) + " ");
  }
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "POST /post abc");
}

TEST_F(ServerTest, ChunkedRequestBodyIsDecoded) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(
      c.send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /c hello, world");
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponseBeforeBody) {
  start();
  RawClient c(port_);
  ASSERT_TRUE(
      c.send("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("data"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "PUT /e data");
}

TEST_F(ServerTest, ExpectContinueWithTooLargeBodyIsRefusedUpFront) {
  Limits l;
  l.max_body_bytes = 10;
  start(l);
  RawClient c(port_);
  ASSERT_TRUE(
      c.send("PUT /e HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\nExpect: 100-continue\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(ServerTest, OversizedHeadersGet431AndClose) {
  start();
  RawClient c(port_);
  std::string big =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n";
  c.send(big);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->body, R"({"message":"Request header or cookie too large"})");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ServerTest, OversizedBodyGets413) {
  Limits l;
  l.max_body_bytes = 1000;
  start(l);
  {
    RawClient c(port_);
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->header("content-type"), "application/json; charset=utf-8");
    EXPECT_TRUE(c.wait_closed());
  }
  {
    RawClient c(port_);
    std::string chunk(600, 'y');
    c.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk +
           "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
  }
}

TEST_F(ServerTest, SlowlorisGets408ThenClose) {
  Limits l;
  l.header_timeout = 300ms;
  start(l);
  RawClient c(port_);
  auto begin = std::chrono::steady_clock::now();
  c.send("GET / HTTP/1.1\r\n");
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(50ms);
    c.send("X-a: b\r\n");
  }
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->body, R"({"message":"Request timeout"})");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 2s);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosed) {
  Limits l;
  l.keepalive_timeout = 200ms;
  start(l);
  RawClient c(port_);
  c.send(get_request("/"));
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(ServerTest, ContentLengthWithTransferEncodingIsRejected) {
  start();
  for (const char* req :
       {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        "0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabcd",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde"}) {
    RawClient c(port_);
    c.send(req);
    auto r = c.read_response();
    ASSERT_TRUE(r) << req;
    EXPECT_EQ(r->status, 400) << req;
    EXPECT_EQ(r->body, R"({"message":"Bad request"})");
    EXPECT_TRUE(c.wait_closed()) << req;
  }
}

TEST_F(ServerTest, MalformedInputGets400AndClose) {
  start();
  for (std::string req :
       {std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "zz\r\nabc\r\n0\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "fffffffffffffffffffff\r\n"),
        std::string("GET /\r\n\r\n"), std::string("GET / HTTP/9.x\r\nHost: x\r\n\r\n"),
        std::string("G@T / HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\n\r\n")}) {
    RawClient c(port_);
    c.send(req);
    auto r = c.read_response();
    ASSERT_TRUE(r) << req;
    EXPECT_EQ(r->status, 400) << req;
    EXPECT_TRUE(c.wait_closed()) << req;
  }
}

TEST_F(ServerTest, HeadAndHttp10) {
  start();
  RawClient c(port_);
  c.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response(true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "8");
  RawClient c10(port_);
  c10.send("GET /old HTTP/1.0\r\n\r\n");
  auto r10 = c10.read_response();
  ASSERT_TRUE(r10);
  EXPECT_EQ(r10->body, "GET /old ");
  EXPECT_TRUE(c10.wait_closed());
}

TEST_F(ServerTest, GracefulStopFinishesInFlightRequests) {
  start();
  RawClient busy(port_);
  RawClient idle(port_);
  idle.send(get_request("/"));
  ASSERT_TRUE(idle.read_response());
  busy.send(get_request("/slow"));
  std::this_thread::sleep_for(50ms);
  std::thread stopper([&] { server_->stop(5s); });
  auto r = busy.read_response();
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(busy.wait_closed(1s));
  EXPECT_TRUE(idle.wait_closed(1s));
  RawClient late(port_);
  EXPECT_FALSE(late.connected());
  server_.reset();
}

TEST_F(ServerTest, SeveralWorkersShareThePort) {
  start({}, 3);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<RawClient>(port_));
    clients.back()->send(get_request("/w"));
  }
  for (auto& c : clients) {
    auto r = c->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  auto counters = server_->counters();
  EXPECT_EQ(counters.connections_accepted, 20u);
  EXPECT_EQ(counters.total_requests, 20u);
  EXPECT_EQ(counters.connections_active, 20u);
}

TEST(ParseEndpoint, AcceptsKongListenForms) {
  auto a = parse_endpoint("127.0.0.1:8001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 8001);
  auto b = parse_endpoint(":8000");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "0.0.0.0");
  auto c = parse_endpoint("[::1]:9000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 9000);
  auto d = parse_endpoint("8100");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->port, 8100);
  auto e = parse_endpoint("0.0.0.0:8000 reuseport backlog=16384");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->port, 8000);
  EXPECT_FALSE(parse_endpoint("host:99999").ok());
  EXPECT_FALSE(parse_endpoint("host:").ok());
  EXPECT_FALSE(parse_endpoint("[::1]").ok());
  EXPECT_FALSE(parse_endpoint("::1:80").ok());
}

TEST(ServerListen, ReportsBindErrors) {
  Server a("a", {}, echo);
  auto port = a.listen({"127.0.0.1", 0});
  ASSERT_TRUE(port.ok());
  Server b("b", {}, echo);
  // Without SO_REUSEPORT on a's socket being shared by another process the bind still
  // succeeds in-process; an invalid address must fail.
  EXPECT_FALSE(b.listen({"256.1.1.1", 0}).ok());
}

}  // namespace
}  // namespace suoke::http
