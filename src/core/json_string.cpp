#include "core/json_string.h"

#include "core/json_scan.h"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace suoke {
namespace {

// Bytes that cannot appear raw inside a JSON string: '"', '\\' and the control bytes.
constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = true;
  t['\\'] = true;
  return t;
}();

void append_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  switch (c) {
    case '"': out.append("\\\"", 2); break;
    case '\\': out.append("\\\\", 2); break;
    case '\n': out.append("\\n", 2); break;
    case '\r': out.append("\\r", 2); break;
    case '\t': out.append("\\t", 2); break;
    case '\b': out.append("\\b", 2); break;
    case '\f': out.append("\\f", 2); break;
    default: {
      const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(escaped, sizeof escaped);
    }
  }
}

uint64_t load_word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// The index of the first byte at or after `i` that needs an escape; `n` when none does.
// Sixteen bytes per step with SSE2 (part of x86-64), the last block overlapping the one
// before; strings shorter than that eight bytes at a time. Log records and bodies are mostly
// plain text, so this scan is where the time goes.
std::size_t next_escape(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    auto block_mask = [&](std::size_t at) {
      return json_scan::escape_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at)));
    };
    for (; i + 16 <= n; i += 16) {
      unsigned mask = block_mask(i);
      if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
    if (i == n) return n;
    // The last 16 bytes, ignoring those before `i` (already scanned or already handled).
    const std::size_t base = n - 16;
    unsigned mask = block_mask(base) & (0xFFFFu << (i - base));
    return mask != 0 ? base + static_cast<std::size_t>(__builtin_ctz(mask)) : n;
  }
#endif
  for (; i + 8 <= n; i += 8) {
    if (!json_scan::word_is_plain(load_word(p + i))) break;
  }
  if (i < n && n >= 8 && n - i < 8 && json_scan::word_is_plain(load_word(p + n - 8))) return n;
  for (; i < n; ++i) {
    if (kNeedsEscape[static_cast<unsigned char>(p[i])]) return i;
  }
  return n;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  // Runs of bytes that need no escaping (nearly always the whole string) go in one append.
  const char* data = s.data();
  const std::size_t n = s.size();
  std::size_t run = 0;
  for (std::size_t i = next_escape(data, 0, n); i < n; i = next_escape(data, i + 1, n)) {
    out.append(data + run, i - run);
    run = i + 1;
    append_escape(out, static_cast<unsigned char>(data[i]));
  }
  out.append(data + run, n - run);
}

char* write_json_escaped(char* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* data = s.data();
  const std::size_t n = s.size();
  if (char* end = json_scan::copy_plain<false>(out, data, n)) return end;
  std::size_t run = 0;
  for (std::size_t i = next_escape(data, 0, n); i < n; i = next_escape(data, i + 1, n)) {
    std::memcpy(out, data + run, i - run);
    out += i - run;
    run = i + 1;
    auto c = static_cast<unsigned char>(data[i]);
    *out++ = '\\';
    switch (c) {
      case '"': *out++ = '"'; break;
      case '\\': *out++ = '\\'; break;
      case '\n': *out++ = 'n'; break;
      case '\r': *out++ = 'r'; break;
      case '\t': *out++ = 't'; break;
      case '\b': *out++ = 'b'; break;
      case '\f': *out++ = 'f'; break;
      default:
        *out++ = 'u';
        *out++ = '0';
        *out++ = '0';
        *out++ = kHex[c >> 4];
        *out++ = kHex[c & 15];
    }
  }
  if (n > run) std::memcpy(out, data + run, n - run);
  return out + (n - run);
}

void append_json_string(std::string& out, std::string_view s) {
  const std::size_t n = s.size();
  if (next_escape(s.data(), 0, n) == n) {
    // The usual case: quote, bytes, quote, written into space made by one call.
    const std::size_t at = out.size();
    out.resize(at + n + 2);
    char* p = out.data() + at;
    p[0] = '"';
    if (n > 0) std::memcpy(p + 1, s.data(), n);
    p[n + 1] = '"';
    return;
  }
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

}  // namespace suoke
