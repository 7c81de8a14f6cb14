// Structured logging: one JSON object per line on stderr. Not for the request hot path
// (access logs go through the file-log plugin's queue).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace suoke::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
Level level();
// Parses "debug" | "info" | "warn" | "error"; false when unknown.
bool parse_level(std::string_view text, Level* out);

using Field = std::pair<std::string_view, std::string>;

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kDebug, m, f); }
inline void info(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, std::initializer_list<Field> f = {}) { write(Level::kError, m, f); }

}  // namespace suoke::log
