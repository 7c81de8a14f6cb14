// Metrics for Prometheus: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4. Hot-path updates are lock-free: a metric handle is looked up once
// (control plane) and then updated with relaxed atomics (per-thread shards where contention
// matters); only family/series creation and rendering take a lock.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace suoke::telemetry {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  virtual ~Counter() = default;
  virtual void inc(uint64_t delta = 1) = 0;
  virtual uint64_t value() const = 0;
};

class Gauge {
 public:
  virtual ~Gauge() = default;
  virtual void set(int64_t value) = 0;
  virtual void add(int64_t delta) = 0;
  virtual int64_t value() const = 0;
};

class Histogram {
 public:
  virtual ~Histogram() = default;
  virtual void observe(double value) = 0;
  virtual uint64_t count() const = 0;
  virtual double sum() const = 0;
};

class Registry {
 public:
  // The process-wide registry that /metrics renders.
  static Registry& global();

  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Returns the series for (name, labels), creating family and series on first use. The
  // returned reference stays valid for the registry's lifetime. Names and label names must
  // be valid Prometheus identifiers (asserted); label values are escaped on output.
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {});
  // `buckets`: upper bounds in ascending order (+Inf is implicit). The first call for a
  // family fixes its buckets.
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                       const Labels& labels = {});

  // Text exposition format 0.0.4 (what `promtool check metrics` accepts).
  std::string render() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace suoke::telemetry
