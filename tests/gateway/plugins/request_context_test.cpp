// RequestContext reuse: the proxy recycles one context per connection, keeping memory (header
// strings, plugin states) but never values, from one request to the next.
#include <gtest/gtest.h>

#include <string>

#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins {
namespace {

struct Counter {
  int calls = 0;
  std::string text;
};

struct Other {
  double value = 1.5;
};

TEST(RequestContextTest, RecycledStateIsFreshButKeepsItsMemory) {
  RequestContext ctx;
  int owner = 0;
  Counter& first = ctx.state<Counter>(&owner);
  first.calls = 3;
  first.text = "a body that outgrows the small-string buffer";
  EXPECT_EQ(&ctx.state<Counter>(&owner), &first) << "one state per owner within a request";

  ctx.recycle();
  Counter& second = ctx.state<Counter>(&owner);
  EXPECT_EQ(second.calls, 0);
  EXPECT_EQ(second.text, "");
  EXPECT_EQ(&second, &first) << "the state's memory is reused";
}

TEST(RequestContextTest, SameOwnerAddressWithAnotherTypeGetsItsOwnState) {
  // A handler of a newer snapshot can be allocated where a dead one lived.
  RequestContext ctx;
  int owner = 0;
  ctx.state<Counter>(&owner).calls = 7;
  ctx.recycle();
  Other& other = ctx.state<Other>(&owner);
  EXPECT_EQ(other.value, 1.5);
  other.value = 2.5;
  EXPECT_EQ(ctx.state<Counter>(&owner).calls, 0);
  EXPECT_EQ(ctx.state<Other>(&owner).value, 2.5);
}

TEST(RequestContextTest, RecycleForgetsEveryValue) {
  RequestContext ctx;
  ctx.upstream_headers.emplace_back("X-Consumer-Username", std::string(100, 'v'));
  ctx.response_headers.emplace_back("X-RateLimit-Remaining-Second", "9");
  ctx.response_head.emplace_back("Access-Control-Allow-Origin", "*");
  ctx.credential_id = "cred";
  ctx.status = 200;
  ctx.buffer_response_body = true;
  ctx.recycle();
  EXPECT_TRUE(ctx.upstream_headers.empty());
  EXPECT_TRUE(ctx.response_headers.empty());
  EXPECT_TRUE(ctx.response_head.empty());
  EXPECT_EQ(ctx.credential_id, "");
  EXPECT_EQ(ctx.status, 0);
  EXPECT_FALSE(ctx.buffer_response_body);
}

}  // namespace
}  // namespace suoke::gateway::plugins
