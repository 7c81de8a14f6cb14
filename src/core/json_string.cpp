#include "core/json_string.h"

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

// Whether any of the eight bytes of `w` needs an escape (exact as a yes/no answer: the
// "has a byte less than n" and "has a zero byte" tricks, for n = 0x20 and the XORs).
bool word_needs_escape(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHighs = 0x8080808080808080ULL;
  auto has_zero = [&](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  uint64_t control = (w - kOnes * 0x20) & ~w & kHighs;
  return (control | has_zero(w ^ (kOnes * '"')) | has_zero(w ^ (kOnes * '\\'))) != 0;
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
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i last_control = _mm_set1_epi8(0x1f);
    auto block_mask = [&](std::size_t at) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + at));
      // Unsigned v <= 0x1f exactly when max(v, 0x1f) == 0x1f.
      __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, last_control), last_control);
      __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
      return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(control, special)));
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
    if (word_needs_escape(load_word(p + i))) break;
  }
  if (i < n && n >= 8 && n - i < 8 && !word_needs_escape(load_word(p + n - 8))) return n;
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

namespace {

// Copies `s` to `out` when no byte needs an escape, scanning and copying in the same loads
// (the writer has room for kMaxJsonEscapeGrowth bytes per input byte, so the whole blocks
// stored here stay inside it; loads never leave `s`). Returns nullptr, having written bytes
// that the caller overwrites, when some byte needs an escape.
char* copy_if_plain(char* out, const char* data, std::size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i last_control = _mm_set1_epi8(0x1f);
    auto plain = [&](__m128i v) {
      __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, last_control), last_control);
      __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
      return _mm_movemask_epi8(_mm_or_si128(control, special)) == 0;
    };
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
      if (!plain(v)) return nullptr;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), v);
    }
    if (i < n) {  // the last 16 bytes, overlapping the block before
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + n - 16));
      if (!plain(v)) return nullptr;
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + n - 16), v);
    }
    return out + n;
  }
#endif
  if (n >= 8) {  // two words, overlapping when n < 16
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t w = load_word(data + i);
      if (word_needs_escape(w)) return nullptr;
      std::memcpy(out + i, &w, 8);
    }
    uint64_t last = load_word(data + n - 8);
    if (word_needs_escape(last)) return nullptr;
    std::memcpy(out + n - 8, &last, 8);
    return out + n;
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    if (kNeedsEscape[c]) return nullptr;
    out[i] = static_cast<char>(c);
  }
  return out + n;
}

}  // namespace

char* write_json_escaped(char* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* data = s.data();
  const std::size_t n = s.size();
  if (char* end = copy_if_plain(out, data, n)) return end;
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
