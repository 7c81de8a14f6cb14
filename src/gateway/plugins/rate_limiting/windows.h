// Kong's fixed rate-limiting windows (kong/tools/timestamp.lua get_timestamps): second,
// minute, hour and day windows start on UTC boundaries; month and year windows on calendar
// boundaries (the first of the month, January 1st, 00:00 UTC).
#pragma once

#include <cstdint>
#include <string_view>

namespace suoke::gateway::plugins::rate_limiting {

enum class Period : uint8_t { kSecond = 0, kMinute, kHour, kDay, kMonth, kYear };
inline constexpr int kPeriodCount = 6;

// "second", "minute", ... (the config field names).
std::string_view period_name(Period p);
// "Second", "Minute", ... (as in X-RateLimit-Limit-Minute).
std::string_view period_title(Period p);
// Kong's nominal window length in seconds (kong/plugins/rate-limiting/expiration.lua):
// month is 30 days and year 365 days whatever the calendar says.
int64_t nominal_seconds(Period p);

struct Window {
  int64_t index = 0;     // strictly increasing from one window of the period to the next
  int64_t start_ms = 0;  // Kong's period_date
  int64_t end_ms = 0;    // start of the next window
};

// The window of period `p` containing `now_ms` (epoch milliseconds, UTC).
Window window_for(Period p, int64_t now_ms);

}  // namespace suoke::gateway::plugins::rate_limiting
