#include "core/json_string.h"

#include <array>

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

// The index of the first byte at or after `i` that needs an escape; `n` when none does.
// Sixteen bytes per step with SSE2 (part of x86-64): log records and bodies are mostly long
// runs of plain text, so this scan is where the time goes.
std::size_t next_escape(const char* p, std::size_t i, std::size_t n) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i last_control = _mm_set1_epi8(0x1f);
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
    __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, last_control), last_control);
    __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
    int mask = _mm_movemask_epi8(_mm_or_si128(control, special));
    if (mask != 0) return i + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
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

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

}  // namespace suoke
