// A clock seam so that TTLs, timeouts and backoff can be tested without sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace suoke {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in milliseconds since the Unix epoch.
  virtual int64_t now_ms() const = 0;
  // Monotonic time for measuring intervals.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;

  int64_t now_seconds() const { return now_ms() / 1000; }

  static const Clock& system();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'700'000'000'000) : now_ms_(start_ms) {}
  int64_t now_ms() const override { return now_ms_.load(); }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(now_ms_.load()));
  }
  void advance_ms(int64_t ms) { now_ms_ += ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace suoke
