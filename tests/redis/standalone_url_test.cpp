// URL parsing, reconnect backoff and the retry classification (no server needed).
#include <gtest/gtest.h>

#include "redis/command_retry.h"
#include "redis/connection.h"
#include "redis/url.h"

namespace suoke::redis {
namespace {

TEST(RedisUrl, Standalone) {
  auto u = parse_redis_url("redis://127.0.0.1:6380/3");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, RedisUrl::Scheme::kRedis);
  ASSERT_EQ(u->endpoints.size(), 1u);
  EXPECT_EQ(u->endpoints[0].to_string(), "127.0.0.1:6380");
  EXPECT_EQ(u->db, 3);
  EXPECT_TRUE(u->password.empty());

  auto d = parse_redis_url("redis://localhost");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->endpoints[0].port, 6379);
  EXPECT_EQ(d->db, 0);

  auto v6 = parse_redis_url("redis://[::1]:7000/");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->endpoints[0].host, "::1");
  EXPECT_EQ(v6->endpoints[0].to_string(), "[::1]:7000");
}

TEST(RedisUrl, Credentials) {
  auto u = parse_redis_url("redis://app:p%40ss%3Aw%2Frd@h:1");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->username, "app");
  EXPECT_EQ(u->password, "p@ss:w/rd");
  auto p = parse_redis_url("redis://:secret@h:1");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->username, "");
  EXPECT_EQ(p->password, "secret");
  // No ':' in userinfo: a password (what a one-argument AUTH takes).
  auto q = parse_redis_url("redis://secret@h:1");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->password, "secret");
  // The last '@' ends userinfo, so an unescaped '@' in a password still works.
  auto r = parse_redis_url("redis://u:a@b@h:1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->password, "a@b");
  EXPECT_EQ(r->endpoints[0].host, "h");
}

TEST(RedisUrl, Cluster) {
  auto u = parse_redis_url("redis-cluster://:pw@10.0.0.1:7001,10.0.0.2:7002,[::1]:7003");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, RedisUrl::Scheme::kCluster);
  ASSERT_EQ(u->endpoints.size(), 3u);
  EXPECT_EQ(u->endpoints[1].to_string(), "10.0.0.2:7002");
  EXPECT_EQ(u->endpoints[2].host, "::1");
  EXPECT_EQ(u->password, "pw");
  EXPECT_EQ(parse_redis_url("rediss://h:1")->scheme, RedisUrl::Scheme::kRediss);
}

TEST(RedisUrl, GarbageIsRejectedClearly) {
  struct Case {
    const char* url;
    const char* message;
  };
  for (const Case& c : {
           Case{"localhost:6379", "expected redis://, rediss:// or redis-cluster://"},
           Case{"http://h:1", "unknown scheme 'http'"},
           Case{"redis://", "missing host"},
           Case{"redis://h:", "empty port"},
           Case{"redis://h:0", "bad port '0'"},
           Case{"redis://h:70000", "bad port '70000'"},
           Case{"redis://h:12ab", "bad port '12ab'"},
           Case{"redis://h:1/x", "database must be a non-negative number, got 'x'"},
           Case{"redis://h:1/-1", "database must be a non-negative number"},
           Case{"redis://h:1,g:2", "several hosts need redis-cluster://"},
           Case{"redis-cluster://h:1/2", "a cluster has only database 0"},
           Case{"redis-cluster://h:1,,g:2", "missing host"},
           Case{"redis://u:%zz@h:1", "bad percent escape in the password"},
           Case{"redis://u:%4@h:1", "truncated percent escape in the password"},
           Case{"redis://h:1?timeout=3", "query parameters"},
           Case{"redis://[::1:1", "unterminated '['"},
           Case{"redis://user:@h:1", "given without a password"},
       }) {
    auto r = parse_redis_url(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << c.url << " -> " << r.error().message;
    EXPECT_EQ(r.error().message.rfind("invalid redis URL: ", 0), 0u);
  }
  // The password never appears in an error.
  auto r = parse_redis_url("redis://u:hunter2@h:bad");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos);
}

TEST(Backoff, ExponentialWithJitterAndCap) {
  using std::chrono::milliseconds;
  for (uint64_t rnd : {0ull, 1ull, 12345ull, ~0ull}) {
    auto d1 = backoff_delay(1, milliseconds(50), milliseconds(2000), rnd);
    EXPECT_GE(d1.count(), 25);
    EXPECT_LE(d1.count(), 50);
    auto d3 = backoff_delay(3, milliseconds(50), milliseconds(2000), rnd);
    EXPECT_GE(d3.count(), 100);
    EXPECT_LE(d3.count(), 200);
    auto d20 = backoff_delay(20, milliseconds(50), milliseconds(2000), rnd);
    EXPECT_GE(d20.count(), 1000);
    EXPECT_LE(d20.count(), 2000);
    EXPECT_LE(backoff_delay(1000, milliseconds(50), milliseconds(2000), rnd).count(), 2000);
  }
  // Jitter actually spreads.
  EXPECT_NE(backoff_delay(5, milliseconds(50), milliseconds(2000), 1).count(),
            backoff_delay(5, milliseconds(50), milliseconds(2000), 2).count());
}

TEST(RetryPolicy, ReadsOnlyByDefault) {
  for (const char* c : {"GET", "get", "MGET", "HGETALL", "EXISTS", "TTL", "PTTL", "TYPE", "SCAN", "DUMP", "PING"}) {
    EXPECT_TRUE(is_read_only_command(c)) << c;
  }
  for (const char* c : {"INCR", "LPUSH", "EVAL", "SET", "DEL", "EXPIRE", "HSET", "BLPOP", "FLUSHALL", ""}) {
    EXPECT_FALSE(is_read_only_command(c)) << c;
  }
  using R = CommandOptions::Retry;
  EXPECT_TRUE(may_retry({"INCR", "k"}, R::kAuto, /*written=*/false));  // never reached a server
  EXPECT_TRUE(may_retry({"INCR", "k"}, R::kNever, false));
  EXPECT_FALSE(may_retry({"INCR", "k"}, R::kAuto, true));
  EXPECT_FALSE(may_retry({"SET", "k", "v"}, R::kAuto, true));
  EXPECT_TRUE(may_retry({"SET", "k", "v"}, R::kIdempotent, true));
  EXPECT_TRUE(may_retry({"GET", "k"}, R::kAuto, true));
  EXPECT_FALSE(may_retry({"GET", "k"}, R::kNever, true));
}

}  // namespace
}  // namespace suoke::redis
