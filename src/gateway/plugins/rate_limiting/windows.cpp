#include "gateway/plugins/rate_limiting/windows.h"

#include <chrono>

namespace suoke::gateway::plugins::rate_limiting {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t to_ms(std::chrono::sys_days d) {
  return static_cast<int64_t>(d.time_since_epoch().count()) * 86'400'000;
}

}  // namespace

std::string_view period_name(Period p) {
  static constexpr std::string_view kNames[] = {"second", "minute", "hour", "day", "month", "year"};
  return kNames[static_cast<int>(p)];
}

std::string_view period_title(Period p) {
  static constexpr std::string_view kTitles[] = {"Second", "Minute", "Hour",
                                                 "Day",    "Month",  "Year"};
  return kTitles[static_cast<int>(p)];
}

int64_t nominal_seconds(Period p) {
  static constexpr int64_t kSeconds[] = {1, 60, 3600, 86400, 2592000, 31536000};
  return kSeconds[static_cast<int>(p)];
}

Window window_for(Period p, int64_t now_ms) {
  using namespace std::chrono;
  Window w;
  if (p <= Period::kDay) {
    int64_t len_ms = nominal_seconds(p) * 1000;
    w.index = floor_div(now_ms, len_ms);
    w.start_ms = w.index * len_ms;
    w.end_ms = w.start_ms + len_ms;
    return w;
  }
  sys_days today{days{floor_div(now_ms, 86'400'000)}};
  year_month_day ymd{today};
  int y = static_cast<int>(ymd.year());
  if (p == Period::kMonth) {
    unsigned m = static_cast<unsigned>(ymd.month());
    year_month first = ymd.year() / ymd.month();
    year_month next = first + months{1};
    w.index = static_cast<int64_t>(y) * 12 + (m - 1);
    w.start_ms = to_ms(sys_days{first / 1});
    w.end_ms = to_ms(sys_days{next / 1});
    return w;
  }
  w.index = y;
  w.start_ms = to_ms(sys_days{ymd.year() / January / 1});
  w.end_ms = to_ms(sys_days{(ymd.year() + years{1}) / January / 1});
  return w;
}

}  // namespace suoke::gateway::plugins::rate_limiting
