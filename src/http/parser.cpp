#include "http/parser.h"

#include <algorithm>
#include <array>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/json_string.h"
#include "http/message.h"

namespace suoke::http {

void HeaderStore::add(bhttp::field f, std::string_view name, std::string_view value) {
  Entry e;
  e.name = f;
  e.name_off = static_cast<uint32_t>(arena_.size());
  e.name_len = static_cast<uint32_t>(name.size());
  arena_.append(name);
  e.value_off = static_cast<uint32_t>(arena_.size());
  e.value_len = static_cast<uint32_t>(value.size());
  arena_.append(value);
  append_entry(e);
}

void HeaderStore::set_start(std::string_view first, std::string_view second) {
  first_ = {static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(first.size())};
  arena_.append(first);
  second_ = {static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(second.size())};
  arena_.append(second);
}

std::string_view HeaderStore::find(bhttp::field f) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (entries_[i].name == f) return value(i);
  }
  return {};
}

std::string_view HeaderStore::find(std::string_view n) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (iequals(name(i), n)) return value(i);
  }
  return {};
}

bool HeaderStore::has(bhttp::field f) const {
  for (std::size_t i = 0; i < count_; ++i) {
    if (entries_[i].name == f) return true;
  }
  return false;
}

namespace {

constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTokenChar = make_token_table();

bool is_tchar(char c) { return kTokenChar[static_cast<unsigned char>(c)]; }
bool is_ws(char c) { return c == ' ' || c == '\t'; }

// The first non-token byte in [p, end], where *end is not a token byte (the line's CR); bytes
// up to `limit` may be read. Names are scanned for every field: a 16-byte step covers the usual
// letters, digits and '-', the table the rest (and buffers too short for the step).
const char* skip_token(const char* p, const char* end, const char* limit) {
#if defined(__SSE2__)
  while (limit - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                  _mm_cmplt_epi8(lower, _mm_set1_epi8('z' + 1)));
    __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                  _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    __m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit), _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    auto other = static_cast<uint32_t>(~_mm_movemask_epi8(ok)) & 0xffffu;
    if (other != 0) {
      p += __builtin_ctz(other);
      break;
    }
    p += 16;
  }
#endif
  (void)limit;
  // *end is not a token byte: no bound needed.
  while (kTokenChar[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

// The first byte in [p, end) that is not visible ASCII (request-target).
const char* skip_vchar(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i k21 = _mm_set1_epi8(0x21);
  const __m128i kdel = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compare: bytes >= 0x80 are negative, so below 0x21 too.
    int mask = _mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, k21), _mm_cmpeq_epi8(v, kdel)));
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && static_cast<unsigned char>(*p - 0x21) < 0x5e) ++p;
  return p;
}

// Bytes no element of a head line may hold: CTLs other than HTAB, and DEL. One scan for them
// both finds the CR ending a line and validates everything before it (field values, reason,
// target); any such byte other than CR (and the LF after it) is an error.
bool is_special(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return (c < 0x20 && c != '\t') || c == 0x7f;
}

#if defined(__SSE2__)
// Bit i set when p[i] is a CTL (HTAB included) or DEL; 16 bytes must be readable. HTAB, rare in
// heads, is sorted out by the caller: that keeps this at five operations per 16 bytes.
uint32_t ctl_mask(const char* p) {
  const __m128i k1f = _mm_set1_epi8(0x1f);
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, k1f), k1f);  // v <= 0x1f, unsigned
  return static_cast<uint32_t>(
      _mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)))));
}

// The first special byte among the set bits of m (bytes from q).
const char* first_special(const char* q, uint32_t m) {
  for (; m != 0; m &= m - 1) {
    const char* s = q + __builtin_ctz(m);
    if (*s != '\t') return s;
  }
  return nullptr;
}
#endif

// The first special byte in [p, end), or end. Bytes from `lo` (<= p) may be read, which lets
// the last few bytes of a buffer be checked with one load ending at `end`.
const char* find_special(const char* p, const char* end, const char* lo) {
#if defined(__SSE2__)
  for (; end - p >= 16; p += 16) {
    if (uint32_t m = ctl_mask(p)) {
      if (const char* s = first_special(p, m)) return s;
    }
  }
  if (p < end && end - lo >= 16) {
    const char* q = end - 16;
    uint32_t m = ctl_mask(q) >> (p - q);
    if (m == 0) return end;
    const char* s = first_special(p, m);
    return s != nullptr ? s : end;
  }
#endif
  (void)lo;
  while (p < end && !is_special(*p)) ++p;
  return p;
}

// Calls fn(token) for each element of a #token list (RFC 9110 5.6.1, empty elements allowed,
// as Beast's opt_token_list); false when the value is not such a list.
template <class Fn>
bool for_each_token(std::string_view v, Fn&& fn) {
  std::size_t i = 0;
  const std::size_t n = v.size();
  bool need_comma = false;
  for (;;) {
    while (i < n && is_ws(v[i])) ++i;
    if (i == n) return true;
    if (v[i] == ',') {
      need_comma = false;
      ++i;
      continue;
    }
    if (need_comma || !is_tchar(v[i])) return false;
    std::size_t start = i;
    while (i < n && is_tchar(v[i])) ++i;
    fn(v.substr(start, i - start));
    need_comma = true;
  }
}

bool parse_dec(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - static_cast<uint64_t>(c - '0')) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  auto l = static_cast<char>(c | 0x20);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return -1;
}

bool parse_hex(const char*& p, const char* end, uint64_t& out) {
  if (p == end || hex_value(*p) < 0) return false;
  uint64_t v = 0;
  for (int d; p < end && (d = hex_value(*p)) >= 0; ++p) {
    if (v > (UINT64_MAX >> 4)) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  out = v;
  return true;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), the grammar
// Beast accepts; [p, end) is already free of CTLs (find_special), which makes quoted strings
// RFC 9112 qdtext / quoted-pair.
bool valid_chunk_ext(const char* p, const char* end) {
  auto skip_ws = [&] {
    while (p < end && is_ws(*p)) ++p;
  };
  auto token = [&] {
    const char* start = p;
    while (p < end && is_tchar(*p)) ++p;
    return p != start;
  };
  while (p < end) {
    skip_ws();
    if (p == end || *p != ';') return false;
    ++p;
    skip_ws();
    if (!token()) return false;
    const char* before_ws = p;
    skip_ws();
    if (p == end) return p == before_ws;
    if (*p == ';') continue;
    if (*p != '=') return false;
    ++p;
    skip_ws();
    if (p == end) return false;
    if (*p != '"') {
      if (!token()) return false;
      continue;
    }
    for (++p;; ++p) {
      if (p == end) return false;
      if (*p == '"') break;
      if (*p == '\\' && ++p == end) return false;
    }
    ++p;
  }
  return true;
}

// header-field = field-name ":" OWS field-value OWS over a line without its CRLF; bytes up to
// `limit` may be read.
inline bool split_field(const char* line, const char* eol, const char* limit,
                        std::string_view& name, std::string_view& value) {
  const char* p = skip_token(line, eol, limit);
  if (p == line || *p != ':') return false;
  name = {line, static_cast<std::size_t>(p - line)};
  ++p;
  if (p < eol && *p == ' ') ++p;  // the usual single space
  while (p < eol && is_ws(*p)) ++p;
  const char* e = eol;
  while (e > p && is_ws(e[-1])) --e;
  value = {p, static_cast<std::size_t>(e - p)};
  return true;
}

}  // namespace

namespace {

// Case-insensitive compare of a token against a lower-case name of the same length, a word at
// a time: OR-ing 0x20 into a token byte lower-cases letters and maps no other token byte onto a
// letter or '-' (only CR, not a token byte, would become '-').
template <std::size_t N>
bool is_name(const char* p, const char (&lower)[N]) {
  constexpr std::size_t L = N - 1;
  auto eq = [&](std::size_t off, auto word) {
    using W = decltype(word);
    W a, b;
    std::memcpy(&a, p + off, sizeof(W));
    std::memcpy(&b, lower + off, sizeof(W));
    return static_cast<W>(a | static_cast<W>(0x2020202020202020ULL)) == b;
  };
  if constexpr (L >= 8) {
    bool ok = true;
    for (std::size_t i = 0; i + 8 <= L; i += 8) ok &= eq(i, uint64_t{});
    if constexpr (L % 8 != 0) ok &= eq(L - 8, uint64_t{});
    return ok;
  } else if constexpr (L >= 4) {
    return eq(0, uint32_t{}) && eq(L - 4, uint32_t{});
  } else {
    static_assert(L == 2);
    return eq(0, uint16_t{});
  }
}

}  // namespace

bhttp::field classify_field(std::string_view name) {
  const char* n = name.data();
  switch (name.size()) {
    case 2:
      if (is_name(n, "te")) return bhttp::field::te;
      break;
    case 4:
      if (is_name(n, "host")) return bhttp::field::host;
      break;
    case 6:
      if (is_name(n, "expect")) return bhttp::field::expect;
      break;
    case 7:
      if (is_name(n, "upgrade")) return bhttp::field::upgrade;
      if (is_name(n, "trailer")) return bhttp::field::trailer;
      break;
    case 10:
      if (is_name(n, "connection")) return bhttp::field::connection;
      if (is_name(n, "keep-alive")) return bhttp::field::keep_alive;
      break;
    case 14:
      if (is_name(n, "content-length")) return bhttp::field::content_length;
      break;
    case 16:
      if (is_name(n, "proxy-connection")) return bhttp::field::proxy_connection;
      break;
    case 17:
      if (is_name(n, "transfer-encoding")) return bhttp::field::transfer_encoding;
      break;
    default:
      break;
  }
  return bhttp::field::unknown;
}

template <bool isRequest>
MessageParser<isRequest>::MessageParser(HeaderStore& headers, const Limits& limits)
    : headers_(&headers),
      // Offsets into the head are 32-bit (HeaderStore::Entry).
      header_limit_(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)),
      body_budget_(limits.max_body_bytes == 0 ? UINT64_MAX
                                              : static_cast<uint64_t>(limits.max_body_bytes)) {
  headers_->clear();
}

template <bool isRequest>
bool MessageParser<isRequest>::keep_alive() const {
  if (need_eof_) return false;
  return version_ >= 11 ? !close_ : keep_alive_;
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::put(boost::asio::const_buffer buffer, beast::error_code& ec) {
  ec = {};
  if (state_ == State::kDone) {
    ec = bhttp::error::stale_parser;
    return 0;
  }
  const char* const begin = static_cast<const char*>(buffer.data());
  const char* const end = begin + buffer.size();
  if (begin == end) {
    ec = bhttp::error::need_more;
    return 0;
  }
  got_some_ = true;
  const char* p = begin;
  if (state_ < State::kBody) {
    if (!parse_head(begin, end, ec)) return 0;
    p += head_parsed_;
    scanned_ = 0;
    finish_header(ec);
    if (ec || !eager_) return static_cast<std::size_t>(p - begin);
  }
  while (p < end && state_ != State::kDone) {
    p += parse_body(p, end, ec);
    if (ec || !eager_) break;
  }
  return static_cast<std::size_t>(p - begin);
}

template <bool isRequest>
void MessageParser<isRequest>::put_eof(beast::error_code& ec) {
  ec = {};
  if (state_ == State::kDone) return;
  if (state_ == State::kBodyToEof) {
    state_ = State::kDone;
    return;
  }
  ec = bhttp::error::partial_message;
}

template <bool isRequest>
bool MessageParser<isRequest>::parse_head(const char* begin, const char* end,
                                          beast::error_code& ec) {
  // The store holds the complete lines whenever put() returns, whatever the outcome.
  struct Sync {
    MessageParser* self;
    const char* begin;
    ~Sync() {
      self->headers_->append_head(
          std::string_view(begin + self->head_stored_, self->head_parsed_ - self->head_stored_));
      self->head_stored_ = self->head_parsed_;
    }
  } sync{this, begin};
  const auto avail = static_cast<std::size_t>(end - begin);
  const char* const stop = begin + std::min(avail, header_limit_);
  for (;;) {
    const char* line = begin + head_parsed_;
    const char* eol = find_special(begin + std::max(scanned_, head_parsed_), stop, begin);
    if (eol < stop && *eol != '\r') {
      // A CTL inside the line: report it as the element it interrupts.
      std::string_view name, value;
      if (state_ == State::kStartLine) {
        parse_start_line(line, eol, ec);
        if (!ec) ec = isRequest ? bhttp::error::bad_version : bhttp::error::bad_reason;
      } else if (eol > line && is_ws(*line)) {
        ec = bhttp::error::bad_obs_fold;
      } else {
        ec = split_field(line, eol, stop, name, value) ? bhttp::error::bad_value
                                                       : bhttp::error::bad_field;
      }
      return false;
    }
    if (stop - eol <= 1) {  // no CR yet, or no room for its LF
      scanned_ = static_cast<std::size_t>(eol - begin);
      ec = avail >= header_limit_ ? bhttp::error::header_limit : bhttp::error::need_more;
      return false;
    }
    if (eol[1] != '\n') {
      ec = bhttp::error::bad_line_ending;
      return false;
    }
    if (state_ == State::kStartLine) {
      parse_start_line(line, eol, ec);
      if (ec) return false;
      state_ = State::kFields;
    } else if (eol == line) {
      head_parsed_ = static_cast<std::size_t>(eol + 2 - begin);
      return true;
    } else if (is_ws(*line)) {
      ec = bhttp::error::bad_obs_fold;
      return false;
    } else {
      std::string_view name, value;
      if (!split_field(line, eol, stop, name, value)) {
        ec = bhttp::error::bad_field;
        return false;
      }
      on_field(begin, name, value, ec);
      if (ec) return false;
    }
    head_parsed_ = static_cast<std::size_t>(eol + 2 - begin);
  }
}

template <bool isRequest>
void MessageParser<isRequest>::parse_start_line(const char* line, const char* eol,
                                                beast::error_code& ec) {
  auto is_version = [](const char* v) {
    return std::memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1');
  };
  if constexpr (isRequest) {
    // method SP request-target SP HTTP-version
    const char* p = skip_token(line, eol, eol);
    if (p == line || p == eol || *p != ' ') {
      ec = bhttp::error::bad_method;
      return;
    }
    std::string_view method(line, static_cast<std::size_t>(p - line));
    const char* target = ++p;
    // Visible ASCII only; find_special already excluded CTLs.
    p = skip_vchar(p, eol);
    if (p == target || p == eol || *p != ' ') {
      ec = bhttp::error::bad_target;
      return;
    }
    std::string_view target_sv(target, static_cast<std::size_t>(p - target));
    ++p;
    if (eol - p != 8 || !is_version(p)) {
      ec = bhttp::error::bad_version;
      return;
    }
    version_ = 10 + (p[7] - '0');
    method_ = bhttp::string_to_verb(method);
    headers_->set_start_at(0, static_cast<uint32_t>(method.size()),
                           static_cast<uint32_t>(target - line),
                           static_cast<uint32_t>(target_sv.size()));
  } else {
    // HTTP-version SP 3DIGIT SP reason-phrase; the reason's bytes passed find_special, which
    // is Beast's rule too (HTAB, SP, VCHAR, obs-text).
    std::size_t len = static_cast<std::size_t>(eol - line);
    if (len < 8 || !is_version(line) || len < 9 || line[8] != ' ') {
      ec = bhttp::error::bad_version;
      return;
    }
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (len < 13 || !digit(line[9]) || !digit(line[10]) || !digit(line[11]) || line[12] != ' ') {
      ec = bhttp::error::bad_status;
      return;
    }
    version_ = 10 + (line[7] - '0');
    status_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    headers_->set_start_at(0, 0, 13, static_cast<uint32_t>(len - 13));
  }
}

// Inlined into parse_head's loop: it runs for every field.
template <bool isRequest>
[[gnu::always_inline]] inline void MessageParser<isRequest>::on_field(const char* begin,
                                                                      std::string_view name,
                                                                      std::string_view value,
                                                                      beast::error_code& ec) {
  bhttp::field f = classify_field(name);
  if (f != bhttp::field::unknown) {
    on_framing_field(f, value, ec);
    if (ec) return;
  }
  headers_->add_at(f, static_cast<uint32_t>(name.data() - begin),
                   static_cast<uint32_t>(name.size()), static_cast<uint32_t>(value.data() - begin),
                   static_cast<uint32_t>(value.size()));
}

template <bool isRequest>
void MessageParser<isRequest>::on_framing_field(bhttp::field f, std::string_view value,
                                                beast::error_code& ec) {
  switch (f) {
    case bhttp::field::connection:
    case bhttp::field::proxy_connection:  // Beast honours it too
      if (!for_each_token(value, [&](std::string_view t) {
            if (t.size() == 5 && is_name(t.data(), "close")) {
              close_ = true;
            } else if (t.size() == 10 && is_name(t.data(), "keep-alive")) {
              keep_alive_ = true;
            }
          })) {
        ec = bhttp::error::bad_value;
      }
      return;
    case bhttp::field::content_length: {
      // Any Transfer-Encoding with a Content-Length is a smuggling attempt (RFC 9112 6.3).
      uint64_t v = 0;
      if (has_te_ || !parse_dec(value, v)) {
        ec = bhttp::error::bad_content_length;
      } else if (has_length_ && v != length_) {
        ec = bhttp::error::multiple_content_length;
      } else {
        has_length_ = true;
        length_ = v;
      }
      return;
    }
    case bhttp::field::transfer_encoding: {
      // Repeated lines form one list; chunked may only be the last coding (RFC 9112 6.1).
      bool any = false;
      bool after_chunked = false;
      bool ok = for_each_token(value, [&](std::string_view t) {
        if (chunked_) after_chunked = true;
        chunked_ = t.size() == 7 && is_name(t.data(), "chunked");
        any = true;
      });
      if (has_length_ || !ok || !any || after_chunked) {
        ec = bhttp::error::bad_transfer_encoding;
      } else {
        has_te_ = true;
      }
      return;
    }
    case bhttp::field::expect:
      if (iequals(value, "100-continue")) expect_continue_ = true;
      return;
    case bhttp::field::host:
      has_host_ = true;
      return;
    default:
      return;
  }
}

template <bool isRequest>
void MessageParser<isRequest>::finish_header(beast::error_code& ec) {
  bool no_body = skip_;
  if constexpr (!isRequest)
    no_body = no_body || status_ / 100 == 1 || status_ == 204 || status_ == 304;
  if (no_body) {
    state_ = State::kDone;
  } else if (has_length_) {
    if (length_ > body_budget_) {
      ec = bhttp::error::body_limit;
      return;
    }
    remaining_ = length_;
    state_ = length_ > 0 ? State::kBody : State::kDone;
  } else if (chunked_) {
    state_ = State::kChunkLine;
  } else if (isRequest) {
    state_ = State::kDone;
  } else {
    need_eof_ = true;
    state_ = State::kBodyToEof;
  }
  if constexpr (isRequest) {
    // A request whose Transfer-Encoding does not end in chunked has no determinable length
    // (RFC 9112 6.3); reading it as bodiless would be a smuggling vector.
    if (has_te_ && !chunked_) {
      ec = bhttp::error::bad_transfer_encoding;
      return;
    }
    if (version_ >= 11 && !has_host_) {
      ec = bhttp::error::bad_field;
      return;
    }
  }
}

template <bool isRequest>
void MessageParser<isRequest>::deliver(const char* p, std::size_t n) {
  body_bytes_ += n;
  if (sink_.out == nullptr || n == 0) return;
  if (sink_.chunked) {
    append_chunk_header(*sink_.out, n);
    sink_.out->append(p, n);
    sink_.out->append("\r\n", 2);
  } else {
    sink_.out->append(p, n);
  }
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::parse_body(const char* p, const char* end,
                                                 beast::error_code& ec) {
  const auto avail = static_cast<std::size_t>(end - p);
  switch (state_) {
    case State::kBody:
    case State::kChunkData: {
      auto n = static_cast<std::size_t>(std::min<uint64_t>(remaining_, avail));
      deliver(p, n);
      remaining_ -= n;
      if (remaining_ == 0) state_ = state_ == State::kBody ? State::kDone : State::kChunkEnd;
      return n;
    }
    case State::kBodyToEof:
      if (avail > body_budget_) {
        ec = bhttp::error::body_limit;
        return 0;
      }
      body_budget_ -= avail;
      deliver(p, avail);
      return avail;
    case State::kChunkEnd:
      if (p[0] != '\r' || (avail >= 2 && p[1] != '\n')) {
        ec = bhttp::error::bad_chunk;
        return 0;
      }
      if (avail < 2) {
        ec = bhttp::error::need_more;
        return 0;
      }
      state_ = State::kChunkLine;
      return 2;
    case State::kChunkLine:
      return parse_chunk_line(p, end, ec);
    case State::kTrailers:
      return parse_trailer(p, end, ec);
    default:
      return 0;
  }
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::parse_chunk_line(const char* p, const char* end,
                                                       beast::error_code& ec) {
  // chunk-size [ chunk-ext ] CRLF; the line is bounded by the header limit.
  const auto avail = static_cast<std::size_t>(end - p);
  const char* const stop = p + std::min(avail, header_limit_);
  const char* eol = find_special(p + scanned_, stop, p);
  const char* q = p;
  uint64_t size = 0;
  if (eol < stop && *eol != '\r') {
    ec = parse_hex(q, eol, size) ? bhttp::error::bad_chunk_extension : bhttp::error::bad_chunk;
    return 0;
  }
  if (stop - eol <= 1) {
    scanned_ = static_cast<std::size_t>(eol - p);
    ec = avail >= header_limit_ ? bhttp::error::header_limit : bhttp::error::need_more;
    return 0;
  }
  if (eol[1] != '\n') {
    ec = bhttp::error::bad_line_ending;
    return 0;
  }
  if (!parse_hex(q, eol, size)) {
    ec = bhttp::error::bad_chunk;
    return 0;
  }
  if (!valid_chunk_ext(q, eol)) {
    ec = bhttp::error::bad_chunk_extension;
    return 0;
  }
  scanned_ = 0;
  if (size == 0) {
    trailer_bytes_ = 0;
    state_ = State::kTrailers;
  } else {
    // Checked per chunk, before its data, like Beast.
    if (size > body_budget_) {
      ec = bhttp::error::body_limit;
      return 0;
    }
    body_budget_ -= size;
    remaining_ = size;
    state_ = State::kChunkData;
  }
  return static_cast<std::size_t>(eol + 2 - p);
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::parse_trailer(const char* p, const char* end,
                                                    beast::error_code& ec) {
  // One trailer line (or the empty line ending the message): validated like a header field
  // and dropped; nothing downstream uses trailers. The whole section is bounded by the header
  // limit.
  const auto avail = static_cast<std::size_t>(end - p);
  const std::size_t budget = header_limit_ - std::min(trailer_bytes_, header_limit_);
  const char* const stop = p + std::min(avail, budget);
  const char* eol = find_special(p + scanned_, stop, p);
  std::string_view name, value;
  if (eol < stop && *eol != '\r') {
    if (eol > p && is_ws(*p)) {
      ec = bhttp::error::bad_obs_fold;
    } else {
      ec = split_field(p, eol, stop, name, value) ? bhttp::error::bad_value
                                                  : bhttp::error::bad_field;
    }
    return 0;
  }
  if (stop - eol <= 1) {
    scanned_ = static_cast<std::size_t>(eol - p);
    ec = avail >= budget ? bhttp::error::header_limit : bhttp::error::need_more;
    return 0;
  }
  if (eol[1] != '\n') {
    ec = bhttp::error::bad_line_ending;
    return 0;
  }
  if (eol > p) {
    if (is_ws(*p)) {
      ec = bhttp::error::bad_obs_fold;
      return 0;
    }
    if (!split_field(p, eol, stop, name, value)) {
      ec = bhttp::error::bad_field;
      return 0;
    }
  } else {
    state_ = State::kDone;
  }
  scanned_ = 0;
  std::size_t n = static_cast<std::size_t>(eol + 2 - p);
  trailer_bytes_ += n;
  return n;
}

template class MessageParser<true>;
template class MessageParser<false>;

int status_for_parse_error(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == bhttp::error::body_limit) return 413;
  return 400;
}

std::string_view kong_message(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 404:
      return "Not found";
    case 405:
      return "Method not allowed";
    case 408:
      return "Request timeout";
    case 411:
      return "Length required";
    case 413:
      return "Payload too large";
    case 414:
      return "URI too long";
    case 417:
      return "Expectation failed";
    case 431:
      return "Request header or cookie too large";
    case 500:
      return "An unexpected error occurred";
    case 502:
      return "An invalid response was received from the upstream server";
    case 503:
      return "The upstream server is currently unavailable";
    case 504:
      return "The upstream server is timing out";
    default:
      return "An unexpected error occurred";
  }
}

std::string_view reason_phrase(int status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return {r.data(), r.size()};
}

void append_chunk_header(std::string& out, std::size_t size) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), size, 16);
  out.append(buf, end);
  out.append("\r\n", 2);
}

void append_error_response(std::string& out, int status, std::string_view message, bool close,
                           std::string_view extra_headers) {
  std::string body = "{\"message\":";
  append_json_string(body, message);
  body.push_back('}');
  out.append("HTTP/1.1 ");
  out.append(std::to_string(status));
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ");
  out.append(std::to_string(body.size()));
  out.append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
}

}  // namespace suoke::http
