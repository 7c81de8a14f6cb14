// The scan under the JSON string writers (core/json_string.cpp) and the file-log record: copy
// bytes that need no JSON escape, checking and copying in the same loads, optionally
// lower-casing ASCII letters on the way (header names). Inline because the callers write ~40
// short strings per log record and a call per string shows in the profile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace suoke::json_scan {

// Eight bytes lower-cased at once: 'A'..'Z' get 0x20 added, every other byte (non-ASCII
// included) is left alone. No carry crosses a byte: each sum stays below 0x100.
inline uint64_t lower_ascii_word(uint64_t w) {
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  const uint64_t heptets = w & ~kHighs;
  const uint64_t above_z = heptets + 0x2525252525252525ULL;     // high bit: byte > 'Z'
  const uint64_t from_a = heptets + 0x3f3f3f3f3f3f3f3fULL;      // high bit: byte >= 'A'
  const uint64_t upper = ~w & (from_a ^ above_z) & kHighs;      // ASCII and in 'A'..'Z'
  return w | (upper >> 2);
}

// Whether none of the eight bytes of `w` needs a JSON escape ('"', '\\', control bytes).
inline bool word_is_plain(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  const uint64_t control = (w - kOnes * 0x20) & ~w & kHighs;
  return (control | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) == 0;
}

#if defined(__SSE2__)
// One bit per byte of `v` that needs a JSON escape. Unsigned v <= 0x1f exactly when
// max(v, 0x1f) == 0x1f.
inline unsigned escape_mask(__m128i v) {
  const __m128i last_control = _mm_set1_epi8(0x1f);
  __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, last_control), last_control);
  __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(control, special)));
}
#endif

// Copies `n` bytes to `out` (lower-casing ASCII letters when `kLower`) if none needs a JSON
// escape, in the same loads that check them; returns the end, or nullptr (having written
// scratch bytes within `n`) when some byte needs an escape. Inline, for the ~40 short
// strings of a record: no call, no second pass to lower-case a header name.
template <bool kLower>
inline char* copy_plain(char* out, const char* data, std::size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    auto block = [&](std::size_t at) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + at));
      if (escape_mask(v) != 0) return false;
      if constexpr (kLower) {
        // Signed compares: bytes >= 0x80 are negative, so only 'A'..'Z' match.
        __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                                      _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
        v = _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
      }
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + at), v);
      return true;
    };
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      if (!block(i)) return nullptr;
    }
    if (i < n && !block(n - 16)) return nullptr;  // the last 16 bytes, overlapping
    return out + n;
  }
#endif
  if (n >= 8) {
    auto word = [&](std::size_t at) {
      uint64_t w;
      std::memcpy(&w, data + at, 8);
      if (!word_is_plain(w)) return false;
      if constexpr (kLower) w = lower_ascii_word(w);
      std::memcpy(out + at, &w, 8);
      return true;
    };
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      if (!word(i)) return nullptr;
    }
    if (i < n && !word(n - 8)) return nullptr;  // the last 8 bytes, overlapping
    return out + n;
  }
  for (std::size_t i = 0; i < n; ++i) {
    char c = data[i];
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') return nullptr;
    if (kLower && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out[i] = c;
  }
  return out + n;
}

}  // namespace suoke::json_scan
