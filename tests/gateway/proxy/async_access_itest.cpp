// The proxy's asynchronous access phase: a plugin suspends the request (ctx.suspend()) and
// resumes it from another thread; the proxy continues exactly as after a synchronous access
// (exit, or proxy upstream). A connection that ends while suspended is cleaned up and a late
// resume does nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "gateway/plugins/chain.h"
#include "gateway/proxy/one_route_proxy.h"
#include "gateway/proxy/proxy_server.h"
#include "gateway/router/router.h"
#include "http/raw_client.h"
#include "http/server.h"

namespace suoke::gateway::proxy {
namespace {

using namespace std::chrono_literals;
using suoke::testing::get_request;
using suoke::testing::header_of;
using suoke::testing::RawClient;

// Suspends every request and resumes it from a helper thread after `delay`; the resume's
// apply adds an upstream header, or exits with 429 when the request says X-Deny: 1. With
// `hold` the resumer is kept instead of being called.
class SuspendingRunner : public PluginRunner {
 public:
  void access(ProxyContext& ctx) override {
    ++accessed;
    plugins::Resumer resume = ctx.suspend();
    if (!resume) {
      ++unsupported;
      return;
    }
    bool deny = ctx.request_headers->get("x-deny") == "1";
    if (hold) {
      std::lock_guard lock(mu);
      held.push_back(std::move(resume));
      return;
    }
    std::thread([this, resume = std::move(resume), deny] {
      std::this_thread::sleep_for(delay);
      resume([this, deny](plugins::RequestContext& c) {
        ++applied;
        if (deny) {
          c.exit = http::Response::json(429, R"({"message":"API rate limit exceeded"})");
        } else {
          c.upstream_headers.emplace_back("X-Async", "resumed");
        }
        c.response_headers.emplace_back("X-Async-Response", "yes");
      });
      // A second call is ignored.
      resume([this](plugins::RequestContext&) { ++applied; });
    }).detach();
  }
  void resume_access(ProxyContext& ctx) override { ++resumed; }
  void header_filter(ProxyContext&, ResponseHead&) override {}
  void body_filter(ProxyContext&, std::string&, bool) override {}
  void log(const ProxyContext& ctx) override {
    ++logged;
    last_status = ctx.status;
  }

  std::chrono::milliseconds delay{30};
  bool hold = false;
  std::mutex mu;
  std::vector<plugins::Resumer> held;
  std::atomic<int> accessed{0}, unsupported{0}, applied{0}, resumed{0}, logged{0}, last_status{0};
};

class AsyncAccessTest : public suoke::testing::OneRouteProxyTest<SuspendingRunner> {
 protected:
  void wait_for(const std::atomic<int>& v, int want) {
    for (int i = 0; i < 300 && v.load() < want; ++i) std::this_thread::sleep_for(10ms);
  }
};

TEST_F(AsyncAccessTest, ResumedFromAnotherThreadProxiesOrExits) {
  start_proxy();
  RawClient c(port_);
  c.send(get_request("/a"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(header_of(r->body, "X-Async"), "resumed");
  EXPECT_EQ(r->header("x-async-response"), "yes");
  // Same keep-alive connection: the next request suspends again and exits.
  c.send(get_request("/b", "X-Deny: 1\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->body, R"({"message":"API rate limit exceeded"})");
  EXPECT_EQ(r->header("x-async-response"), "yes");
  EXPECT_EQ(runner_->unsupported.load(), 0);
  EXPECT_EQ(runner_->accessed.load(), 2);
  EXPECT_EQ(runner_->resumed.load(), 2);
  // The second call of each resumer was ignored.
  EXPECT_EQ(runner_->applied.load(), 2);
  wait_for(runner_->logged, 2);
  EXPECT_EQ(runner_->logged.load(), 2);
  EXPECT_EQ(runner_->last_status.load(), 429);
}

TEST_F(AsyncAccessTest, ManyConcurrentSuspendedRequestsAllComplete) {
  runner_->delay = 20ms;
  start_proxy(2);
  constexpr int kClients = 40, kPerClient = 5;
  std::atomic<int> ok{0}, denied{0}, bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      RawClient c(port_);
      for (int i = 0; i < kPerClient; ++i) {
        bool deny = (t + i) % 3 == 0;
        c.send(get_request("/x", deny ? "X-Deny: 1\r\n" : ""));
        auto r = c.read_response();
        if (!r) {
          ++bad;
          return;
        }
        if (deny && r->status == 429) {
          ++denied;
        } else if (!deny && r->status == 200 && header_of(r->body, "X-Async") == "resumed") {
          ++ok;
        } else {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ok.load() + denied.load(), kClients * kPerClient);
  EXPECT_EQ(runner_->resumed.load(), kClients * kPerClient);
}

TEST_F(AsyncAccessTest, ConnectionClosedWhileSuspendedThenLateResumeDoesNothing) {
  runner_->hold = true;
  start_proxy();
  {
    RawClient c(port_);
    c.send(get_request("/held"));
    wait_for(runner_->accessed, 1);
    ASSERT_EQ(runner_->accessed.load(), 1);
  }  // the client goes away while the request is suspended
  {
    RawClient c2(port_);
    c2.send(get_request("/held2"));
    wait_for(runner_->accessed, 2);
  }
  // The server stops: the suspended sessions are aborted (log phase with 499) and released.
  proxy_->stop(200ms);
  wait_for(runner_->logged, 2);
  EXPECT_EQ(runner_->logged.load(), 2);
  EXPECT_EQ(runner_->last_status.load(), 499);
  std::vector<plugins::Resumer> held;
  {
    std::lock_guard lock(runner_->mu);
    held = std::move(runner_->held);
  }
  ASSERT_EQ(held.size(), 2u);
  // Resuming now (from another thread, and after the proxy is gone) is a no-op.
  held[0]([&](plugins::RequestContext&) { ++runner_->applied; });
  proxy_.reset();
  std::thread([&] { held[1]([&](plugins::RequestContext&) { ++runner_->applied; }); }).join();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(runner_->applied.load(), 0);
  EXPECT_EQ(runner_->resumed.load(), 0);
}

TEST_F(AsyncAccessTest, ResumeAfterClientLeftFinishesQuietly) {
  runner_->delay = 100ms;
  start_proxy();
  {
    RawClient c(port_);
    c.send(get_request("/gone"));
    wait_for(runner_->accessed, 1);
  }  // closed before the resume
  wait_for(runner_->resumed, 1);
  EXPECT_EQ(runner_->resumed.load(), 1);
  // The proxy keeps serving.
  runner_->delay = 1ms;
  RawClient c(port_);
  c.send(get_request("/next"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace suoke::gateway::proxy
