#include "telemetry/metrics.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

namespace suoke::telemetry {
namespace {

// Updates from different threads land on different cache lines: every worker thread gets a
// shard index once, so a hot counter does not bounce one line between cores.
constexpr std::size_t kShards = 8;

std::size_t shard_index() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

struct alignas(64) PaddedU64 {
  std::atomic<uint64_t> v{0};
};

[[maybe_unused]] bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

[[maybe_unused]] bool valid_label_name(std::string_view name) {
  if (name.empty() || name.find(':') != std::string_view::npos) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;  // reserved
  return valid_metric_name(name);
}

// Adds `delta` to a double stored as its bit pattern (there is no portable lock-free
// atomic<double>::fetch_add in g++ 12 for every target).
void atomic_add_double(std::atomic<uint64_t>& bits, double delta) {
  uint64_t old = bits.load(std::memory_order_relaxed);
  for (;;) {
    uint64_t next = std::bit_cast<uint64_t>(std::bit_cast<double>(old) + delta);
    if (bits.compare_exchange_weak(old, next, std::memory_order_relaxed)) return;
  }
}

class CounterImpl final : public Counter {
 public:
  void inc(uint64_t delta) override {
    shards_[shard_index()].v.fetch_add(delta, std::memory_order_relaxed);
  }
  uint64_t value() const override {
    uint64_t sum = 0;
    for (const auto& s : shards_) sum += s.v.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  PaddedU64 shards_[kShards];
};

// Gauges are set as often as they are added to, so a single value is both simpler and exact.
class GaugeImpl final : public Gauge {
 public:
  void set(int64_t value) override { value_.store(value, std::memory_order_relaxed); }
  void add(int64_t delta) override { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t value() const override { return value_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<int64_t> value_{0};
};

class HistogramImpl final : public Histogram {
 public:
  explicit HistogramImpl(const std::vector<double>* bounds) : bounds_(bounds) {
    std::size_t n = bounds_->size() + 1;  // + the +Inf bucket
    for (auto& s : shards_) s.buckets = std::make_unique<std::atomic<uint64_t>[]>(n);
  }

  void observe(double value) override {
    // Bucket i counts observations in (bounds[i-1], bounds[i]]; cumulated at render time.
    std::size_t i = 0;
    const std::vector<double>& b = *bounds_;
    if (b.size() <= 16) {
      while (i < b.size() && value > b[i]) ++i;
    } else {
      i = std::lower_bound(b.begin(), b.end(), value) - b.begin();
    }
    Shard& s = shards_[shard_index()];
    s.buckets[i].fetch_add(1, std::memory_order_relaxed);
    atomic_add_double(s.sum_bits, value);
    s.count.fetch_add(1, std::memory_order_relaxed);
  }

  uint64_t count() const override {
    uint64_t c = 0;
    for (const auto& s : shards_) c += s.count.load(std::memory_order_relaxed);
    return c;
  }

  double sum() const override {
    double total = 0;
    for (const auto& s : shards_) total += std::bit_cast<double>(s.sum_bits.load(std::memory_order_relaxed));
    return total;
  }

  // Per-bucket (non-cumulative) counts, +Inf last.
  std::vector<uint64_t> bucket_counts() const {
    std::vector<uint64_t> out(bounds_->size() + 1, 0);
    for (const auto& s : shards_) {
      for (std::size_t i = 0; i < out.size(); ++i) out[i] += s.buckets[i].load(std::memory_order_relaxed);
    }
    return out;
  }

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;
    std::atomic<uint64_t> sum_bits{std::bit_cast<uint64_t>(0.0)};
    std::atomic<uint64_t> count{0};
  };
  const std::vector<double>* bounds_;  // owned by the family, which outlives the series
  Shard shards_[kShards];
};

enum class Type { kCounter, kGauge, kHistogram };

const char* type_name(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

struct Series {
  Labels labels;
  std::unique_ptr<CounterImpl> counter;
  std::unique_ptr<GaugeImpl> gauge;
  std::unique_ptr<HistogramImpl> histogram;
};

struct Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<double> buckets;
  std::vector<std::unique_ptr<Series>> series;
};

void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
    out.append(buf, end);
  }
}

void append_u64(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_i64(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// `{a="x",b="y"` plus an optional extra label, closed with `}`; nothing when empty.
void append_labels(std::string& out, const Labels& labels, std::string_view extra_name = {},
                   std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v, true);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

}  // namespace

struct Registry::Impl {
  mutable std::mutex mutex;
  std::map<std::string, std::unique_ptr<Family>, std::less<>> families;
  // Series asked for with a name already registered under another type: handed out so the
  // caller has something to update, never rendered (the first registration wins).
  std::vector<std::unique_ptr<Series>> orphans;

  Series& series(std::string_view name, std::string_view help, Type type, const std::vector<double>* buckets,
                 const Labels& labels) {
    assert(valid_metric_name(name));
#ifndef NDEBUG
    for (const auto& [k, v] : labels) assert(valid_label_name(k) && !(type == Type::kHistogram && k == "le"));
#endif
    std::lock_guard<std::mutex> lock(mutex);
    auto it = families.find(name);
    if (it == families.end()) {
      auto f = std::make_unique<Family>();
      f->name = std::string(name);
      f->help = std::string(help);
      f->type = type;
      if (buckets != nullptr) {
        f->buckets = *buckets;
        assert(std::is_sorted(f->buckets.begin(), f->buckets.end()));
        // +Inf is implicit; an explicit one would render twice.
        while (!f->buckets.empty() && std::isinf(f->buckets.back())) f->buckets.pop_back();
      }
      it = families.emplace(f->name, std::move(f)).first;
    }
    Family& f = *it->second;
    if (f.type != type) {
      assert(false && "metric registered with two types");
      orphans.push_back(make_series(f, type, labels));
      return *orphans.back();
    }
    for (auto& s : f.series) {
      if (s->labels == labels) return *s;
    }
    f.series.push_back(make_series(f, type, labels));
    return *f.series.back();
  }

  static std::unique_ptr<Series> make_series(Family& f, Type type, const Labels& labels) {
    auto s = std::make_unique<Series>();
    s->labels = labels;
    switch (type) {
      case Type::kCounter:
        s->counter = std::make_unique<CounterImpl>();
        break;
      case Type::kGauge:
        s->gauge = std::make_unique<GaugeImpl>();
        break;
      case Type::kHistogram:
        s->histogram = std::make_unique<HistogramImpl>(&f.buckets);
        break;
    }
    return s;
  }
};

Registry& Registry::global() {
  static Registry* registry = new Registry();  // never destroyed: threads may update at exit
  return *registry;
}

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Counter& Registry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  Series& s = impl_->series(name, help, Type::kCounter, nullptr, labels);
  if (!s.counter) s.counter = std::make_unique<CounterImpl>();
  return *s.counter;
}

Gauge& Registry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  Series& s = impl_->series(name, help, Type::kGauge, nullptr, labels);
  if (!s.gauge) s.gauge = std::make_unique<GaugeImpl>();
  return *s.gauge;
}

Histogram& Registry::histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                               const Labels& labels) {
  Series& s = impl_->series(name, help, Type::kHistogram, &buckets, labels);
  return *s.histogram;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  out.reserve(impl_->families.size() * 256);
  for (const auto& [name, fp] : impl_->families) {
    const Family& f = *fp;
    if (f.series.empty()) continue;
    out += "# HELP ";
    out += f.name;
    out += ' ';
    append_escaped(out, f.help, false);
    out += "\n# TYPE ";
    out += f.name;
    out += ' ';
    out += type_name(f.type);
    out += '\n';
    for (const auto& sp : f.series) {
      const Series& s = *sp;
      switch (f.type) {
        case Type::kCounter:
          out += f.name;
          append_labels(out, s.labels);
          out += ' ';
          append_u64(out, s.counter->value());
          out += '\n';
          break;
        case Type::kGauge:
          out += f.name;
          append_labels(out, s.labels);
          out += ' ';
          append_i64(out, s.gauge->value());
          out += '\n';
          break;
        case Type::kHistogram: {
          std::vector<uint64_t> counts = s.histogram->bucket_counts();
          uint64_t cumulative = 0;
          std::string le;
          for (std::size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            le.clear();
            if (i < f.buckets.size()) {
              append_double(le, f.buckets[i]);
            } else {
              le = "+Inf";
            }
            out += f.name;
            out += "_bucket";
            append_labels(out, s.labels, "le", le);
            out += ' ';
            append_u64(out, cumulative);
            out += '\n';
          }
          out += f.name;
          out += "_sum";
          append_labels(out, s.labels);
          out += ' ';
          append_double(out, s.histogram->sum());
          out += '\n';
          // _count equals the +Inf bucket even while observations race with this render.
          out += f.name;
          out += "_count";
          append_labels(out, s.labels);
          out += ' ';
          append_u64(out, cumulative);
          out += '\n';
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace suoke::telemetry
