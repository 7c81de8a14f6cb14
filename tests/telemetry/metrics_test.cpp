#include "telemetry/metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace suoke::telemetry {
namespace {

TEST(MetricsTest, CounterRendersHelpAndTypeOncePerFamily) {
  Registry r;
  r.counter("requests_total", "Requests.", {{"code", "200"}}).inc();
  r.counter("requests_total", "Requests.", {{"code", "500"}}).inc(3);
  r.counter("requests_total", "Requests.", {{"code", "200"}}).inc();
  EXPECT_EQ(r.render(),
            "# HELP requests_total Requests.\n"
            "# TYPE requests_total counter\n"
            "requests_total{code=\"200\"} 2\n"
            "requests_total{code=\"500\"} 3\n");
}

TEST(MetricsTest, SameSeriesReturnsSameHandle) {
  Registry r;
  Counter& a = r.counter("c", "h", {{"x", "1"}});
  Counter& b = r.counter("c", "h", {{"x", "1"}});
  EXPECT_EQ(&a, &b);
  Counter& c = r.counter("c", "h", {{"x", "2"}});
  EXPECT_NE(&a, &c);
}

TEST(MetricsTest, GaugeSetAndAdd) {
  Registry r;
  Gauge& g = r.gauge("conns", "Connections.");
  g.set(5);
  g.add(-7);
  EXPECT_EQ(g.value(), -2);
  EXPECT_EQ(r.render(), "# HELP conns Connections.\n# TYPE conns gauge\nconns -2\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("c", "a \\ b\nc \"q\"", {{"v", "x\\y\"z\nw"}}).inc();
  EXPECT_EQ(r.render(),
            "# HELP c a \\\\ b\\nc \"q\"\n"
            "# TYPE c counter\n"
            "c{v=\"x\\\\y\\\"z\\nw\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInf) {
  Registry r;
  Histogram& h = r.histogram("lat_ms", "Latency.", {1, 5, 10}, {{"route", "r"}});
  h.observe(0.5);
  h.observe(1);  // upper bounds are inclusive
  h.observe(3);
  h.observe(7.25);
  h.observe(100);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 111.75);
  EXPECT_EQ(r.render(),
            "# HELP lat_ms Latency.\n"
            "# TYPE lat_ms histogram\n"
            "lat_ms_bucket{route=\"r\",le=\"1\"} 2\n"
            "lat_ms_bucket{route=\"r\",le=\"5\"} 3\n"
            "lat_ms_bucket{route=\"r\",le=\"10\"} 4\n"
            "lat_ms_bucket{route=\"r\",le=\"+Inf\"} 5\n"
            "lat_ms_sum{route=\"r\"} 111.75\n"
            "lat_ms_count{route=\"r\"} 5\n");
}

TEST(MetricsTest, HistogramFractionalBoundsAndManyBuckets) {
  Registry r;
  std::vector<double> b;
  for (int i = 1; i <= 40; ++i) b.push_back(i * 0.5);
  Histogram& h = r.histogram("h", "H.", b);
  h.observe(0.5);
  h.observe(0.75);
  h.observe(19.9);
  std::string text = r.render();
  EXPECT_NE(text.find("h_bucket{le=\"0.5\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"19.5\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"20\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count 3\n"), std::string::npos) << text;
}

TEST(MetricsTest, FirstCallFixesHistogramBuckets) {
  Registry r;
  r.histogram("h", "H.", {1, 2}).observe(1);
  r.histogram("h", "H.", {10, 20, 30}, {{"a", "b"}}).observe(15);
  std::string text = r.render();
  EXPECT_NE(text.find("h_bucket{a=\"b\",le=\"2\"} 0\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("le=\"10\""), std::string::npos) << text;
}

TEST(MetricsTest, FamiliesWithoutSeriesAreNotRendered) {
  Registry r;
  EXPECT_EQ(r.render(), "");
}

TEST(MetricsTest, ConcurrentUpdatesAreExact) {
  Registry r;
  Counter& c = r.counter("c", "C.");
  Histogram& h = r.histogram("h", "H.", {0.5, 1.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        c.inc();
        h.observe(1.0);
      }
    });
  }
  // Rendering while updates run must be safe (and never show _count != +Inf bucket).
  for (int i = 0; i < 50; ++i) (void)r.render();
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(h.count(), uint64_t{kThreads} * kPerThread);
  EXPECT_DOUBLE_EQ(h.sum(), double{kThreads} * kPerThread);
}

TEST(MetricsTest, GlobalIsASingleton) { EXPECT_EQ(&Registry::global(), &Registry::global()); }

}  // namespace
}  // namespace suoke::telemetry
