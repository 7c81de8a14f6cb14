// Window alignment (Kong's timestamp.get_timestamps) and the lock-free counter store.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gateway/plugins/rate_limiting/counters.h"
#include "gateway/plugins/rate_limiting/windows.h"

namespace suoke::gateway::plugins::rate_limiting {
namespace {

constexpr int64_t kNow = 1'700'000'000'123;  // 2023-11-14T22:13:20.123Z

TEST(RateLimitingWindows, AlignOnUtcAndCalendarBoundaries) {
  EXPECT_EQ(window_for(Period::kSecond, kNow).start_ms, 1'700'000'000'000);
  EXPECT_EQ(window_for(Period::kSecond, kNow).end_ms, 1'700'000'001'000);
  EXPECT_EQ(window_for(Period::kMinute, kNow).start_ms, 1'699'999'980'000);  // 22:13:00
  EXPECT_EQ(window_for(Period::kMinute, kNow).end_ms, 1'700'000'040'000);
  EXPECT_EQ(window_for(Period::kHour, kNow).start_ms, 1'699'999'200'000);  // 22:00:00
  EXPECT_EQ(window_for(Period::kDay, kNow).start_ms, 1'699'920'000'000);   // 2023-11-14
  EXPECT_EQ(window_for(Period::kDay, kNow).end_ms, 1'699'920'000'000 + 86'400'000);
  EXPECT_EQ(window_for(Period::kMonth, kNow).start_ms, 1'698'796'800'000);  // 2023-11-01
  EXPECT_EQ(window_for(Period::kMonth, kNow).end_ms, 1'701'388'800'000);    // 2023-12-01
  EXPECT_EQ(window_for(Period::kYear, kNow).start_ms, 1'672'531'200'000);   // 2023-01-01
  EXPECT_EQ(window_for(Period::kYear, kNow).end_ms, 1'704'067'200'000);     // 2024-01-01
  // A leap day: February 2024 has 29 days.
  int64_t leap = 1'709'208'000'000;  // 2024-02-29T12:00:00Z
  EXPECT_EQ(window_for(Period::kMonth, leap).start_ms, 1'706'745'600'000);
  EXPECT_EQ(window_for(Period::kMonth, leap).end_ms, 1'709'251'200'000);
  // The last second of a year belongs to it; the next one starts a new year and month.
  int64_t last = 1'735'689'599'000;  // 2024-12-31T23:59:59Z
  EXPECT_EQ(window_for(Period::kYear, last).end_ms, last + 1000);
  EXPECT_EQ(window_for(Period::kYear, last + 1000).start_ms, last + 1000);
  EXPECT_EQ(window_for(Period::kMonth, last + 1000).index,
            window_for(Period::kMonth, last).index + 1);
  EXPECT_EQ(window_for(Period::kYear, last + 1000).index,
            window_for(Period::kYear, last).index + 1);
}

TEST(RateLimitingWindows, NamesAndKongNominalLengths) {
  EXPECT_EQ(period_name(Period::kMonth), "month");
  EXPECT_EQ(period_title(Period::kSecond), "Second");
  EXPECT_EQ(nominal_seconds(Period::kMonth), 2'592'000);
  EXPECT_EQ(nominal_seconds(Period::kYear), 31'536'000);
}

std::array<uint64_t, kPeriodCount> only(Period p, uint64_t limit) {
  std::array<uint64_t, kPeriodCount> limits{};
  limits[static_cast<int>(p)] = limit;
  return limits;
}

TEST(RateLimitingCounters, NewWindowStartsFromZero) {
  auto store = WindowCounters::create();
  uint64_t id = store->fingerprint("1.2.3.4");
  auto limits = only(Period::kSecond, 2);
  EXPECT_TRUE(store->acquire(id, limits, kNow).admitted);
  EXPECT_TRUE(store->acquire(id, limits, kNow + 100).admitted);
  auto refused = store->acquire(id, limits, kNow + 200);
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.stop, 0);
  EXPECT_EQ(refused.counts[0], 2u);
  EXPECT_TRUE(store->acquire(id, limits, kNow + 1000).admitted);
  // Three windows later the first window's table is recycled: still a fresh count.
  for (int s = 2; s < 8; ++s) EXPECT_EQ(store->acquire(id, limits, kNow + s * 1000).counts[0], 1u);
}

TEST(RateLimitingCounters, IdentifiersAreIndependent) {
  auto store = WindowCounters::create();
  auto limits = only(Period::kMinute, 1);
  EXPECT_NE(store->fingerprint("a"), store->fingerprint("b"));
  EXPECT_TRUE(store->acquire(store->fingerprint("a"), limits, kNow).admitted);
  EXPECT_FALSE(store->acquire(store->fingerprint("a"), limits, kNow).admitted);
  EXPECT_TRUE(store->acquire(store->fingerprint("b"), limits, kNow).admitted);
}

TEST(RateLimitingCounters, RefusalByALongerWindowConsumesNoShorterOne) {
  auto store = WindowCounters::create();
  uint64_t id = store->fingerprint("x");
  std::array<uint64_t, kPeriodCount> limits{};
  limits[0] = 10;  // second
  limits[1] = 15;  // minute
  int64_t t = window_for(Period::kMinute, kNow).start_ms;
  int admitted = 0;
  for (int i = 0; i < 20; ++i) admitted += store->acquire(id, limits, t).admitted;
  EXPECT_EQ(admitted, 10);
  admitted = 0;
  WindowCounters::Decision last;
  for (int i = 0; i < 20; ++i) {
    last = store->acquire(id, limits, t + 1000);
    admitted += last.admitted;
  }
  EXPECT_EQ(admitted, 5);
  EXPECT_EQ(last.stop, 1);
  EXPECT_EQ(last.counts[0], 5u) << "refused requests must not stay counted in the second window";
  EXPECT_EQ(last.counts[1], 15u);
}

// Many identifiers grow a table; later windows reuse the recycled tables, so memory stays
// bounded by the peak per window instead of growing with time.
TEST(RateLimitingCounters, MemoryIsBoundedAcrossWindows) {
  auto store = WindowCounters::create();
  auto limits = only(Period::kSecond, 5);
  std::size_t after_three = 0;
  for (int w = 0; w < 24; ++w) {
    for (int i = 0; i < 5000; ++i) {
      auto fp = store->fingerprint("client-" + std::to_string(w) + "-" + std::to_string(i));
      ASSERT_TRUE(store->acquire(fp, limits, kNow + w * 1000).admitted);
    }
    store->prepare();
    if (w == 2) after_three = store->slot_capacity();
  }
  EXPECT_GT(after_three, 3u * 5000);
  // Hash luck may add a segment here and there, never one per window (24 x 5000 ids).
  EXPECT_LE(store->slot_capacity(), 2 * after_three);
  EXPECT_LT(store->slot_capacity(), 24u * 5000);
}

// Exactness of the store itself: 8 threads x 10,000 attempts, one identifier, limit 1000.
TEST(RateLimitingCounters, ExactUnderContentionForEveryPeriod) {
  for (int p = 0; p < kPeriodCount; ++p) {
    auto store = WindowCounters::create();
    uint64_t id = store->fingerprint("hot");
    auto limits = only(static_cast<Period>(p), 1000);
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 10'000; ++i) admitted += store->acquire(id, limits, kNow).admitted;
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(admitted.load(), 1000) << period_name(static_cast<Period>(p));
  }
}

}  // namespace
}  // namespace suoke::gateway::plugins::rate_limiting
