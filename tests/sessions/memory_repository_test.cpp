// The memory backend's own properties: sharding, bounds and eviction, expiry sweeps,
// concurrency. Its contract behaviour is in repository_contract_test.cpp.
#include "sessions/memory_repository.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "telemetry/metrics.h"

namespace suoke::sessions {
namespace {

Session make(std::string id, std::string user = "u", int64_t last_active = 0,
             std::size_t payload = 10) {
  Session s;
  s.session_id = std::move(id);
  s.user_id = std::move(user);
  s.last_active = last_active;
  s.history.push_back({std::string(payload, 'x'), "ok", 0});
  return s;
}

SessionOptions opts(FakeClock& clock, std::size_t shards = 1) {
  SessionOptions o;
  o.clock = &clock;
  o.shards = shards;
  o.sweep_interval = std::chrono::milliseconds(0);
  return o;
}

TEST(MemorySessions, SessionsSpreadOverShards) {
  FakeClock clock;
  MemorySessionRepository repo(opts(clock, 16));
  EXPECT_EQ(repo.shard_count(), 16u);
  std::set<std::size_t> used;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(repo.save(make("s" + std::to_string(i))).ok());
    used.insert(repo.shard_of("s" + std::to_string(i)));
  }
  EXPECT_EQ(used.size(), 16u);
  EXPECT_EQ(repo.size(), 1000u);
}

TEST(MemorySessions, FullShardEvictsTheLeastRecentlyUsed) {
  FakeClock clock;
  SessionOptions o = opts(clock);
  o.max_sessions = 3;
  MemorySessionRepository repo(o);
  ASSERT_TRUE(repo.save(make("a", "u", 1)).ok());
  ASSERT_TRUE(repo.save(make("b", "u", 2)).ok());
  ASSERT_TRUE(repo.save(make("c", "u", 3)).ok());
  ASSERT_TRUE(repo.get("a")->has_value());  // a is now more recent than b
  ASSERT_TRUE(*repo.touch("c", 60));
  ASSERT_TRUE(repo.save(make("d", "u", 4)).ok());
  EXPECT_FALSE(repo.get("b")->has_value());
  EXPECT_TRUE(repo.get("a")->has_value());
  EXPECT_TRUE(repo.get("c")->has_value());
  EXPECT_TRUE(repo.get("d")->has_value());
  EXPECT_EQ(repo.size(), 3u);
  EXPECT_EQ(repo.evictions(), 1u);
  // The evicted session left the user's list too.
  auto listed = repo.list_user_sessions("u");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].session_id, "d");
  // Replacing a session does not evict anything.
  ASSERT_TRUE(repo.save(make("d", "u", 5)).ok());
  EXPECT_EQ(repo.evictions(), 1u);
}

TEST(MemorySessions, ExpiredSessionsAreEvictedBeforeLiveOnes) {
  FakeClock clock;
  SessionOptions o = opts(clock);
  o.max_sessions = 2;
  MemorySessionRepository repo(o);
  ASSERT_TRUE(repo.save(make("live"), 100).ok());
  ASSERT_TRUE(repo.save(make("dying"), 1).ok());
  ASSERT_TRUE(repo.get("live")->has_value());  // dying is now the LRU anyway; make live older:
  ASSERT_TRUE(repo.get("dying")->has_value());
  clock.advance_ms(2000);
  ASSERT_TRUE(repo.save(make("new")).ok());
  EXPECT_TRUE(repo.get("live")->has_value());
  EXPECT_TRUE(repo.get("new")->has_value());
  EXPECT_EQ(repo.evictions(), 0u);
}

TEST(MemorySessions, ByteBoundEvictsAndOversizedSessionsAreRefused) {
  FakeClock clock;
  SessionOptions o = opts(clock);
  o.max_bytes = 4096;
  MemorySessionRepository repo(o);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(repo.save(make("s" + std::to_string(i), "u", i, 500)).ok());
  EXPECT_LE(repo.bytes_used(), 4096u);
  EXPECT_GT(repo.evictions(), 0u);
  EXPECT_TRUE(repo.get("s19")->has_value());
  EXPECT_FALSE(repo.get("s0")->has_value());

  auto big = repo.save(make("big", "u", 0, 5000));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().kind, "too_large");
  EXPECT_NE(big.error().message.find("per-shard budget"), std::string::npos) << big.error().message;
  EXPECT_TRUE(repo.get("s19")->has_value()) << "a refused save evicts nothing";
}

TEST(MemorySessions, BoundsAreSplitOverShards) {
  FakeClock clock;
  SessionOptions o = opts(clock, 4);
  o.max_sessions = 100;
  MemorySessionRepository repo(o);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(repo.save(make("s" + std::to_string(i))).ok());
  EXPECT_LE(repo.size(), 100u);
  EXPECT_GE(repo.size(), 90u);  // every shard filled to its share
}

TEST(MemorySessions, SweepDropsExpiredSessionsAndTheirIndexEntries) {
  FakeClock clock;
  MemorySessionRepository repo(opts(clock, 4));
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(repo.save(make("s" + std::to_string(i)), i < 6 ? 1 : 100).ok());
  EXPECT_EQ(repo.sweep_expired(), 0u);
  clock.advance_ms(1000);  // a TTL of 1 s ends exactly here
  EXPECT_EQ(repo.sweep_expired(), 6u);
  EXPECT_EQ(repo.size(), 4u);
  EXPECT_EQ(repo.list_user_sessions("u", 100)->size(), 4u);
  EXPECT_FALSE(repo.ttl_ms("s0").has_value());
  EXPECT_EQ(*repo.ttl_ms("s9"), 99'000);
}

TEST(MemorySessions, BackgroundSweepRuns) {
  FakeClock clock;
  SessionOptions o = opts(clock, 2);
  o.sweep_interval = std::chrono::milliseconds(5);
  MemorySessionRepository repo(o);
  ASSERT_TRUE(repo.save(make("s"), 1).ok());
  clock.advance_ms(5000);
  for (int i = 0; i < 400 && repo.size() != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(repo.size(), 0u);
}

TEST(MemorySessions, ActiveGaugeFollowsTheStore) {
  auto& gauge = telemetry::Registry::global().gauge("active_sessions", "", {{"backend", "memory"}});
  const int64_t before = gauge.value();
  {
    FakeClock clock;
    MemorySessionRepository repo(opts(clock, 4));
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(repo.save(make("s" + std::to_string(i))).ok());
    EXPECT_EQ(gauge.value(), before + 5);
    ASSERT_TRUE(*repo.remove("s0"));
    EXPECT_EQ(gauge.value(), before + 4);
  }
  EXPECT_EQ(gauge.value(), before);
}

TEST(MemorySessions, ConcurrentUseAcrossShardsStaysConsistent) {
  FakeClock clock;
  SessionOptions o = opts(clock, 8);
  o.max_sessions = 0;
  o.max_bytes = 0;
  MemorySessionRepository repo(o);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::string user = "user" + std::to_string(i % 4);
        if (!repo.save(make(id, user, i)).ok()) ++failures;
        auto got = repo.get(id);
        if (!got.ok() || !got->has_value() || (*got)->user_id != user) ++failures;
        if (i % 3 == 0 && !*repo.remove(id)) ++failures;
        if (i % 50 == 0 && !repo.list_user_sessions(user, 10).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const std::size_t expected = kThreads * (kPerThread - (kPerThread + 2) / 3);
  EXPECT_EQ(*repo.count_active(), expected);
  std::size_t listed = 0;
  for (int u = 0; u < 4; ++u)
    listed += repo.list_user_sessions("user" + std::to_string(u), 100000)->size();
  EXPECT_EQ(listed, expected);
}

TEST(SessionRepositoryFactory, PicksTheBackendFromTheUrl) {
  for (const char* url : {"", "memory://", "memory"}) {
    auto repo = open_session_repository(url);
    ASSERT_TRUE(repo.ok()) << url << ": " << repo.error().message;
    EXPECT_EQ((*repo)->backend(), "memory");
  }
  auto bad = open_session_repository("mongodb://localhost");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, "config");
  EXPECT_NE(bad.error().message.find("redis-cluster://"), std::string::npos);
}

}  // namespace
}  // namespace suoke::sessions
