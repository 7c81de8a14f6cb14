#include "core/clock.h"

namespace suoke {
namespace {
class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
};
}  // namespace

const Clock& Clock::system() {
  static const SystemClock clock;
  return clock;
}
}  // namespace suoke
