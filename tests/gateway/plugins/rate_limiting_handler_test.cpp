// The rate-limiting plugin through its PluginHandler: identifiers per limit_by, Kong's
// headers and exits, exactness for every window under many threads, several windows at once,
// counters that survive snapshots, and the redis/cluster policy fallback.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/plugins/chain.h"
#include "gateway/plugins/rate_limiting/handler.h"
#include "gateway/plugins/rate_limiting/windows.h"
#include "gateway/plugins/rate_limiting_test_util.h"
#include "gateway/plugins/registry.h"
#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::rate_limiting {
namespace {

namespace json = boost::json;

using namespace test_support;
using Fixture = HandlerWithRuntime;

struct Call {
  std::string_view ip = "10.0.0.1";
  const Consumer* consumer = nullptr;
  std::string credential;
  const Service* service = nullptr;
  std::string_view path = "/";
  Headers headers;
};

RequestContext run(const PluginHandler& handler, Call& call) {
  RequestContext ctx;
  ctx.client_ip = call.ip;
  ctx.consumer = call.consumer;
  ctx.credential_id = call.credential;
  ctx.service = call.service;
  ctx.path = call.path;
  ctx.request_headers = &call.headers;
  handler.access(ctx);
  return ctx;
}

bool admitted(const PluginHandler& handler, Call call) {
  return !run(handler, call).exit.has_value();
}

std::string header(const RequestContext& ctx, std::string_view name) {
  return std::string(http::find_header(ctx.response_headers, name));
}

int count_header(const http::HeaderList& list, std::string_view name) {
  int n = 0;
  for (const auto& [k, v] : list) n += http::iequals(k, name);
  return n;
}

TEST(RateLimitingHandler, IsTheRegisteredFactory) {
  EXPECT_EQ(find_factory("rate-limiting"), &create);
}

TEST(RateLimitingHandler, HeadersOnSuccessAndOnTheExit) {
  Fixture f(json::object{{"minute", 3}, {"hour", 10}, {"limit_by", "ip"}});
  Call call;
  RequestContext first = run(*f.handler, call);
  ASSERT_FALSE(first.exit);
  EXPECT_EQ(header(first, "X-RateLimit-Limit-Minute"), "3");
  EXPECT_EQ(header(first, "X-RateLimit-Remaining-Minute"), "2");
  EXPECT_EQ(header(first, "X-RateLimit-Limit-Hour"), "10");
  EXPECT_EQ(header(first, "X-RateLimit-Remaining-Hour"), "9");
  EXPECT_EQ(header(first, "RateLimit-Limit"), "3");
  EXPECT_EQ(header(first, "RateLimit-Remaining"), "2");
  EXPECT_EQ(header(first, "RateLimit-Reset"), "40");  // 22:13:20 -> 22:14:00
  EXPECT_EQ(header(first, "Retry-After"), "");
  EXPECT_EQ(header(first, "X-RateLimit-Limit-Second"), "");

  EXPECT_TRUE(admitted(*f.handler, call));
  EXPECT_TRUE(admitted(*f.handler, call));
  f.clock.advance_ms(5000);
  RequestContext refused = run(*f.handler, call);
  ASSERT_TRUE(refused.exit);
  EXPECT_EQ(refused.exit->status, 429);
  EXPECT_EQ(refused.exit->body, R"({"message":"API rate limit exceeded"})");
  EXPECT_EQ(http::find_header(refused.exit->headers, "Content-Type"),
            "application/json; charset=utf-8");
  EXPECT_EQ(header(refused, "X-RateLimit-Remaining-Minute"), "0");
  EXPECT_EQ(header(refused, "X-RateLimit-Remaining-Hour"), "7");
  EXPECT_EQ(header(refused, "RateLimit-Remaining"), "0");
  EXPECT_EQ(header(refused, "RateLimit-Reset"), "35");
  EXPECT_EQ(header(refused, "Retry-After"), "35");

  // The next minute admits again.
  f.clock.advance_ms(35'000);
  RequestContext next = run(*f.handler, call);
  EXPECT_FALSE(next.exit);
  EXPECT_EQ(header(next, "X-RateLimit-Remaining-Minute"), "2");
  EXPECT_EQ(header(next, "X-RateLimit-Remaining-Hour"), "6");
  EXPECT_EQ(header(next, "RateLimit-Reset"), "60");
}

TEST(RateLimitingHandler, ResetFollowsTheMostRestrictiveWindowTiesGoToTheLonger) {
  Fixture f(json::object{{"second", 5}, {"minute", 5}, {"limit_by", "ip"}});
  Call call;
  RequestContext ctx = run(*f.handler, call);
  EXPECT_EQ(header(ctx, "RateLimit-Remaining"), "4");
  EXPECT_EQ(header(ctx, "RateLimit-Reset"), "40");  // the minute, not the second

  Fixture g(json::object{{"second", 1}, {"hour", 100}, {"limit_by", "ip"}});
  RequestContext a = run(*g.handler, call);
  EXPECT_EQ(header(a, "RateLimit-Limit"), "1");
  EXPECT_EQ(header(a, "RateLimit-Remaining"), "0");
  EXPECT_EQ(header(a, "RateLimit-Reset"), "1");
  RequestContext b = run(*g.handler, call);
  ASSERT_TRUE(b.exit);
  EXPECT_EQ(header(b, "Retry-After"), "1");
  EXPECT_EQ(header(b, "X-RateLimit-Remaining-Hour"), "99");
}

TEST(RateLimitingHandler, MonthAndYearResetAtTheCalendarBoundary) {
  Fixture f(json::object{{"month", 2}, {"year", 2}, {"limit_by", "ip"}});
  Call call;
  RequestContext ctx = run(*f.handler, call);
  // Remaining is 1 for both: the year wins the tie; it ends 2024-01-01T00:00:00Z.
  EXPECT_EQ(header(ctx, "RateLimit-Reset"), std::to_string(1'704'067'200 - kNow / 1000));
  EXPECT_EQ(header(ctx, "X-RateLimit-Limit-Month"), "2");
  EXPECT_EQ(header(ctx, "X-RateLimit-Limit-Year"), "2");
}

TEST(RateLimitingHandler, HideClientHeadersAndCustomError) {
  Fixture f(json::object{{"second", 1},
                         {"limit_by", "ip"},
                         {"hide_client_headers", true},
                         {"error_code", 503},
                         {"error_message", "Slow \"down\""}});
  Call call;
  RequestContext ok = run(*f.handler, call);
  EXPECT_FALSE(ok.exit);
  EXPECT_TRUE(ok.response_headers.empty());
  RequestContext refused = run(*f.handler, call);
  ASSERT_TRUE(refused.exit);
  EXPECT_EQ(refused.exit->status, 503);
  EXPECT_EQ(refused.exit->body, R"({"message":"Slow \"down\""})");
  EXPECT_TRUE(refused.response_headers.empty())
      << "Kong sends no Retry-After when headers are hidden";
}

// A 200 from the upstream with `upstream` headers, after one request admitted by a limit of
// 3 per minute by IP, through the plugin's header_filter.
ResponseHead filtered_upstream_200(http::HeaderList upstream) {
  Fixture f(json::object{{"minute", 3}, {"limit_by", "ip"}});
  Call call;
  RequestContext ctx = run(*f.handler, call);
  ResponseHead head;
  head.status = 200;
  head.headers = std::move(upstream);
  for (auto& h : ctx.response_headers) head.headers.push_back(h);  // what the proxy does
  f.handler->header_filter(ctx, head);
  return head;
}

TEST(RateLimitingHandler, OursReplaceTheUpstreamsRateLimitHeaders) {
  ResponseHead head = filtered_upstream_200(
      {{"x-ratelimit-limit-minute", "999"}, {"Content-Type", "text/plain"}, {"Retry-After", "7"}});
  EXPECT_EQ(count_header(head.headers, "X-RateLimit-Limit-Minute"), 1);
  EXPECT_EQ(http::find_header(head.headers, "X-RateLimit-Limit-Minute"), "3");
  EXPECT_EQ(http::find_header(head.headers, "Retry-After"), "7");  // not ours on a 200
  EXPECT_EQ(http::find_header(head.headers, "Content-Type"), "text/plain");
}

TEST(RateLimitingHandler, ShadowingMatchesNamesCaseInsensitivelyAndOnlyRateLimitNames) {
  ResponseHead head = filtered_upstream_200({{"X-RATELIMIT-REMAINING-MINUTE", "77"},
                                             {"ratelimit-reset", "99"},
                                             {"X-RateLimiter", "keep"},
                                             {"RateLimitX", "keep"},
                                             {"Retry-After-Hint", "keep"},
                                             {"x-ratelimit-", "keep"}});
  EXPECT_EQ(count_header(head.headers, "X-RateLimit-Remaining-Minute"), 1);
  EXPECT_EQ(http::find_header(head.headers, "X-RateLimit-Remaining-Minute"), "2");
  EXPECT_EQ(count_header(head.headers, "RateLimit-Reset"), 1);
  EXPECT_NE(http::find_header(head.headers, "RateLimit-Reset"), "99");
  for (const char* name : {"X-RateLimiter", "RateLimitX", "Retry-After-Hint", "x-ratelimit-"}) {
    EXPECT_EQ(http::find_header(head.headers, name), "keep") << name;
  }
}

TEST(RateLimitingHandler, IdentifierConsumerFallsBackToCredentialThenIp) {
  Fixture f(json::object{{"minute", 1}});  // limit_by defaults to consumer
  Consumer alice{"c-alice", "alice", ""}, bob{"c-bob", "bob", ""};
  EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .consumer = &alice}));
  EXPECT_FALSE(
      admitted(*f.handler, Call{.ip = "2.2.2.2", .consumer = &alice}));  // same consumer, other IP
  EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .consumer = &bob}));
  EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .credential = "cred-1"}));
  EXPECT_FALSE(admitted(*f.handler, Call{.ip = "3.3.3.3", .credential = "cred-1"}));
  EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1"}));
  EXPECT_FALSE(admitted(*f.handler, Call{.ip = "1.1.1.1"}));
  EXPECT_TRUE(admitted(*f.handler, Call{.ip = "4.4.4.4"}));
}

TEST(RateLimitingHandler, IdentifierCredentialIpServiceHeaderPath) {
  {
    Fixture f(json::object{{"minute", 1}, {"limit_by", "credential"}});
    Consumer alice{"c-alice", "alice", ""};
    EXPECT_TRUE(
        admitted(*f.handler, Call{.ip = "1.1.1.1", .consumer = &alice, .credential = "k1"}));
    EXPECT_TRUE(
        admitted(*f.handler, Call{.ip = "1.1.1.1", .consumer = &alice, .credential = "k2"}));
    EXPECT_FALSE(admitted(*f.handler, Call{.ip = "9.9.9.9", .credential = "k2"}));
    EXPECT_TRUE(
        admitted(*f.handler, Call{.ip = "1.1.1.1", .consumer = &alice}));  // no credential: IP
  }
  {
    Fixture f(json::object{{"minute", 1}, {"limit_by", "ip"}});
    Consumer alice{"c-alice", "alice", ""};
    EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .consumer = &alice}));
    EXPECT_FALSE(admitted(*f.handler, Call{.ip = "1.1.1.1"}));
    EXPECT_TRUE(admitted(*f.handler, Call{.ip = "::1"}));
  }
  {
    Fixture f(json::object{{"minute", 1}, {"limit_by", "service"}});
    Service a, b;
    a.id = "svc-a";
    b.id = "svc-b";
    EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .service = &a}));
    EXPECT_FALSE(admitted(*f.handler, Call{.ip = "2.2.2.2", .service = &a}));
    EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .service = &b}));
  }
  {
    Fixture f(json::object{{"minute", 1}, {"limit_by", "header"}, {"header_name", "X-Api-Key"}});
    Call k1{.ip = "1.1.1.1"}, k1_other_ip{.ip = "2.2.2.2"}, k2{.ip = "1.1.1.1"},
        none{.ip = "1.1.1.1"};
    k1.headers.list = {{"x-api-key", "one"}};
    k1_other_ip.headers.list = {{"X-API-KEY", "one"}};
    k2.headers.list = {{"X-Api-Key", "two"}};
    EXPECT_TRUE(admitted(*f.handler, k1));
    EXPECT_FALSE(admitted(*f.handler, k1_other_ip));
    EXPECT_TRUE(admitted(*f.handler, k2));
    EXPECT_TRUE(admitted(*f.handler, none));  // no header: the IP 1.1.1.1
    EXPECT_FALSE(admitted(*f.handler, none));
  }
  {
    Fixture f(json::object{{"minute", 1}, {"limit_by", "path"}, {"path", "/orders"}});
    EXPECT_TRUE(admitted(*f.handler, Call{.ip = "1.1.1.1", .path = "/orders"}));
    EXPECT_FALSE(
        admitted(*f.handler, Call{.ip = "2.2.2.2", .path = "/orders"}));  // the path is the key
    EXPECT_TRUE(
        admitted(*f.handler, Call{.ip = "1.1.1.1", .path = "/other"}));  // other paths: by IP
    EXPECT_FALSE(admitted(*f.handler, Call{.ip = "1.1.1.1", .path = "/else"}));
    EXPECT_TRUE(admitted(*f.handler, Call{.ip = "2.2.2.2", .path = "/else"}));
  }
}

// 8 threads x 10,000 attempts through one handler, limit 1000 per window: exactly 1000 pass,
// for each period; the next window admits exactly 1000 again.
TEST(RateLimitingHandler, ExactUnderEightThreadsForEveryWindow) {
  for (int p = 0; p < kPeriodCount; ++p) {
    std::string period(period_name(static_cast<Period>(p)));
    Fixture f(json::object{{period, 1000}, {"limit_by", "ip"}}, "rl-" + period);
    for (int round = 0; round < 2; ++round) {
      std::atomic<int> ok{0}, refused{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
          Call call;
          for (int i = 0; i < 10'000; ++i) {
            RequestContext ctx = run(*f.handler, call);
            if (!ctx.exit) {
              ++ok;
            } else if (ctx.exit->status == 429) {
              ++refused;
            }
          }
        });
      }
      for (auto& t : threads) t.join();
      EXPECT_EQ(ok.load(), 1000) << period << " round " << round;
      EXPECT_EQ(refused.load(), 79'000) << period << " round " << round;
      // Into the next window of this period.
      Window w = window_for(static_cast<Period>(p), f.clock.now_ms());
      f.clock.advance_ms(w.end_ms - f.clock.now_ms());
    }
  }
}

// Several windows under contention: no window goes above its limit, and requests refused by
// the longer window leave the shorter one untouched.
TEST(RateLimitingHandler, ExactWithSeveralWindowsUnderContention) {
  Fixture f(json::object{{"second", 300}, {"minute", 500}, {"hour", 700}, {"limit_by", "ip"}});
  f.clock.advance_ms(window_for(Period::kHour, kNow).end_ms - kNow);  // the start of an hour
  auto hammer = [&] {
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        Call call;
        for (int i = 0; i < 2000; ++i) ok += admitted(*f.handler, call);
      });
    }
    for (auto& t : threads) t.join();
    return ok.load();
  };
  EXPECT_EQ(hammer(), 300);  // second 0: the second window binds
  f.clock.advance_ms(1000);
  EXPECT_EQ(hammer(), 200);  // second 1: the minute binds (500)
  Call call;
  RequestContext ctx = run(*f.handler, call);
  ASSERT_TRUE(ctx.exit);
  EXPECT_EQ(header(ctx, "X-RateLimit-Remaining-Second"), "100");
  EXPECT_EQ(header(ctx, "X-RateLimit-Remaining-Minute"), "0");
  EXPECT_EQ(header(ctx, "X-RateLimit-Remaining-Hour"), "200");
  f.clock.advance_ms(60'000);
  EXPECT_EQ(hammer(), 200);  // next minute: the hour binds (700)
}

TEST(RateLimitingHandler, CountersSurviveANewSnapshot) {
  Fixture f(json::object{{"minute", 2}, {"limit_by", "ip"}});
  Call call;
  EXPECT_TRUE(admitted(*f.handler, call));
  // A config change: a new snapshot creates a new handler for the same plugin entity.
  gateway::Plugin changed = entity(json::object{{"minute", 3}, {"limit_by", "ip"}}, "rl-1");
  Snapshot next;
  auto h = create(changed, next, f.runtime);
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(admitted(**h, call));
  EXPECT_TRUE(admitted(**h, call));
  EXPECT_FALSE(admitted(**h, call));
  // Another plugin entity has its own counters.
  gateway::Plugin other = entity(json::object{{"minute", 1}, {"limit_by", "ip"}}, "rl-2");
  auto o = create(other, next, f.runtime);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(admitted(**o, call));
}

std::string metrics() { return telemetry::Registry::global().render(); }

TEST(RateLimitingHandler, RedisPolicyFallsBackToLocalWithAGauge) {
  Fixture f(json::object{{"minute", 2},
                         {"limit_by", "ip"},
                         {"policy", "redis"},
                         {"redis_host", "redis-cluster"},
                         {"redis_port", 7001}},
            "rl-redis");
  Call call;
  EXPECT_TRUE(admitted(*f.handler, call));
  EXPECT_TRUE(admitted(*f.handler, call));
  EXPECT_FALSE(admitted(*f.handler, call));
  EXPECT_NE(metrics().find(
                R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-redis",policy="redis"} 1)"),
            std::string::npos)
      << metrics();
  // Back to local: the gauge says so.
  gateway::Plugin local = entity(json::object{{"minute", 2}, {"limit_by", "ip"}}, "rl-redis");
  ASSERT_TRUE(create(local, f.snapshot, f.runtime).ok());
  EXPECT_NE(metrics().find(
                R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-redis",policy="redis"} 0)"),
            std::string::npos);
}

TEST(RateLimitingHandler, RedisPolicyWithoutFaultToleranceAnswers500) {
  Fixture f(json::object{{"minute", 2},
                         {"policy", "redis"},
                         {"fault_tolerant", false},
                         {"redis", json::object{{"host", "redis-cluster"}, {"port", 7001}}}},
            "rl-strict");
  Call call;
  RequestContext ctx = run(*f.handler, call);
  ASSERT_TRUE(ctx.exit);
  EXPECT_EQ(ctx.exit->status, 500);
  EXPECT_EQ(ctx.exit->body, R"({"message":"An unexpected error occurred"})");
}

TEST(RateLimitingHandler, ClusterPolicyRunsLocally) {
  Fixture f(json::object{{"second", 1}, {"policy", "cluster"}, {"fault_tolerant", false}},
            "rl-cluster");
  Call call;
  EXPECT_TRUE(admitted(*f.handler, call));
  EXPECT_FALSE(admitted(*f.handler, call));
  EXPECT_NE(
      metrics().find(
          R"(suoke_rate_limiting_policy_fallback{plugin_id="rl-cluster",policy="cluster"} 1)"),
      std::string::npos);
}

}  // namespace
}  // namespace suoke::gateway::plugins::rate_limiting
