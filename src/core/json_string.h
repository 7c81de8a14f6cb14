// JSON string literals written straight into an output buffer, for code that builds JSON
// text without a DOM (error bodies, log records, transformed bodies).
#pragma once

#include <string>
#include <string_view>

namespace suoke {

// Appends `s` as a quoted JSON string: '"', '\\' and control bytes escaped, every other byte
// (UTF-8 included) copied as is.
void append_json_string(std::string& out, std::string_view s);

// Appends the escaped bytes of `s` without the quotes (for a string literal assembled from
// several pieces, e.g. path + '?' + query).
void append_json_escaped(std::string& out, std::string_view s);

// The longest escape of one byte ("\u001f"): `s` escaped is at most this many times longer.
inline constexpr std::size_t kMaxJsonEscapeGrowth = 6;

// Writes the escaped bytes of `s` (no quotes) at `out`, which must have room for
// kMaxJsonEscapeGrowth * s.size() bytes; returns the end of what was written. For writers
// that size their buffer once per record instead of growing a std::string per piece.
char* write_json_escaped(char* out, std::string_view s);

}  // namespace suoke
