// The proxy reuses one plugin context per connection (RequestContext::recycle keeps the
// containers' memory): nothing a plugin set for one request may be visible to the next
// request on the same keep-alive connection, neither to the plugins nor upstream nor in the
// response.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
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
using suoke::testing::RawClient;

// What the context looked like when a request's access phase began.
struct Seen {
  bool consumer = false;
  std::string credential_id;
  std::size_t upstream_headers = 0;
  std::size_t response_headers = 0;
  std::size_t response_head = 0;
  int status = 0;
  int tries = 0;
  bool exit = false;
  bool abort = false;
  std::string upstream_uri;
  int state_counter = 0;  // the plugin's per-request state, as found
};

// Marks everything it can on requests carrying X-Mark, and records what every request's
// context held at the start of access.
class MarkingRunner : public PluginRunner {
 public:
  struct Counter {
    int n = 0;
  };

  void access(ProxyContext& ctx) override {
    Seen s;
    s.consumer = ctx.consumer != nullptr;
    s.credential_id = ctx.credential_id;
    s.upstream_headers = ctx.upstream_headers.size();
    s.response_headers = ctx.response_headers.size();
    s.response_head = ctx.response_head.size();
    s.status = ctx.status;
    s.tries = ctx.tries;
    s.exit = ctx.exit.has_value();
    s.abort = ctx.abort_response;
    s.upstream_uri = ctx.upstream_uri;
    Counter& counter = ctx.state<Counter>(this);
    s.state_counter = counter.n;
    {
      std::lock_guard lock(mu);
      seen.push_back(s);
    }
    if (ctx.request_headers->get("x-mark") != "1") return;
    ++counter.n;
    ctx.consumer = &consumer;
    ctx.credential_id = "credential-of-the-first-request-0123456789";
    ctx.upstream_headers.emplace_back("X-Marked-Upstream", "first-request-only-value-0123456789");
    ctx.response_headers.emplace_back("X-Marked-Response", "first-request-only-value-0123456789");
    if (ctx.request_headers->get("x-exit") == "1") {
      ctx.exit = http::Response::json(403, R"({"message":"marked"})");
    }
  }
  void header_filter(ProxyContext&, ResponseHead&) override {}
  void body_filter(ProxyContext&, std::string&, bool) override {}
  void log(const ProxyContext& ctx) override {
    std::lock_guard lock(mu);
    logged_head_sizes.push_back(ctx.response_head.size());
  }

  Consumer consumer{"c-1", "marked", ""};
  std::mutex mu;
  std::vector<Seen> seen;
  std::vector<std::size_t> logged_head_sizes;
};

class ContextReuseTest : public suoke::testing::OneRouteProxyTest<MarkingRunner> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(OneRouteProxyTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(start_proxy());
  }

  void wait_for_logs(std::size_t want) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(runner_->mu);
        if (runner_->logged_head_sizes.size() >= want) return;
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  void expect_clean(const Seen& s) {
    EXPECT_FALSE(s.consumer);
    EXPECT_EQ(s.credential_id, "");
    EXPECT_EQ(s.upstream_headers, 0u);
    EXPECT_EQ(s.response_headers, 0u);
    EXPECT_EQ(s.response_head, 0u);
    EXPECT_EQ(s.status, 0);
    EXPECT_EQ(s.tries, 0);
    EXPECT_FALSE(s.exit);
    EXPECT_FALSE(s.abort);
    EXPECT_EQ(s.upstream_uri, "");
    EXPECT_EQ(s.state_counter, 0);
  }
};

TEST_F(ContextReuseTest, NothingOfAProxiedRequestReachesTheNextOne) {
  RawClient client(port_);
  ASSERT_TRUE(client.send(get_request("/one", "X-Mark: 1\r\n")));
  auto first = client.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_NE(first->body.find("X-Marked-Upstream: first-request-only-value"), std::string::npos)
      << first->body;
  EXPECT_EQ(first->header("x-marked-response"), "first-request-only-value-0123456789");

  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(client.send(get_request("/two")));
    auto next = client.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body.find("X-Marked-Upstream"), std::string::npos) << next->body;
    EXPECT_EQ(next->header("x-marked-response"), "");
  }
  // The log phase runs once the response is written, possibly after the client read it.
  wait_for_logs(4);
  std::lock_guard lock(runner_->mu);
  ASSERT_EQ(runner_->seen.size(), 4u);
  for (const Seen& s : runner_->seen) expect_clean(s);
  ASSERT_EQ(runner_->logged_head_sizes.size(), 4u);
  // The upstream's head, plus the plugin's header on the first response only.
  EXPECT_EQ(runner_->logged_head_sizes[0], runner_->logged_head_sizes[1] + 1);
  EXPECT_EQ(runner_->logged_head_sizes[1], runner_->logged_head_sizes[3]);
}

TEST_F(ContextReuseTest, NothingOfAnExitReachesTheNextRequest) {
  RawClient client(port_);
  ASSERT_TRUE(client.send(get_request("/one", "X-Mark: 1\r\nX-Exit: 1\r\n")));
  auto first = client.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 403);
  ASSERT_TRUE(client.send(get_request("/two")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body.find("X-Marked-Upstream"), std::string::npos) << next->body;
  EXPECT_EQ(next->header("x-marked-response"), "");
  std::lock_guard lock(runner_->mu);
  ASSERT_EQ(runner_->seen.size(), 2u);
  for (const Seen& s : runner_->seen) expect_clean(s);
}

}  // namespace
}  // namespace suoke::gateway::proxy
