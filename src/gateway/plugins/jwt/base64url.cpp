#include "gateway/plugins/jwt/base64url.h"

#include <array>
#include <cstdint>

namespace suoke::gateway::plugins::jwt {
namespace {

constexpr uint8_t kInvalid = 0xff;

// `both`: accept the standard alphabet's '+' and '/' too.
constexpr std::array<uint8_t, 256> make_table(bool both) {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = kInvalid;
  for (int i = 0; i < 26; ++i) {
    t['A' + i] = static_cast<uint8_t>(i);
    t['a' + i] = static_cast<uint8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<uint8_t>(52 + i);
  t['-'] = 62;
  t['_'] = 63;
  if (both) {
    t['+'] = 62;
    t['/'] = 63;
  }
  return t;
}

constexpr auto kUrl = make_table(false);
constexpr auto kAny = make_table(true);

// Decodes unpadded input with `table`; `strict` also rejects non-zero trailing bits.
long decode(std::string_view in, unsigned char* out, const std::array<uint8_t, 256>& table,
            bool strict) {
  if (in.size() % 4 == 1) return -1;
  std::size_t o = 0;
  std::size_t i = 0;
  const std::size_t full = in.size() / 4 * 4;
  for (; i < full; i += 4) {
    uint8_t a = table[static_cast<uint8_t>(in[i])], b = table[static_cast<uint8_t>(in[i + 1])],
            c = table[static_cast<uint8_t>(in[i + 2])], d = table[static_cast<uint8_t>(in[i + 3])];
    if ((a | b | c | d) & 0xc0) return -1;  // every valid value is below 64
    uint32_t v = (uint32_t{a} << 18) | (uint32_t{b} << 12) | (uint32_t{c} << 6) | d;
    out[o++] = static_cast<unsigned char>(v >> 16);
    out[o++] = static_cast<unsigned char>(v >> 8);
    out[o++] = static_cast<unsigned char>(v);
  }
  std::size_t rest = in.size() - i;
  if (rest == 2) {
    uint8_t a = table[static_cast<uint8_t>(in[i])], b = table[static_cast<uint8_t>(in[i + 1])];
    if (a == kInvalid || b == kInvalid) return -1;
    if (strict && (b & 0x0f) != 0) return -1;
    out[o++] = static_cast<unsigned char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    uint8_t a = table[static_cast<uint8_t>(in[i])], b = table[static_cast<uint8_t>(in[i + 1])],
            c = table[static_cast<uint8_t>(in[i + 2])];
    if (a == kInvalid || b == kInvalid || c == kInvalid) return -1;
    if (strict && (c & 0x03) != 0) return -1;
    out[o++] = static_cast<unsigned char>((a << 2) | (b >> 4));
    out[o++] = static_cast<unsigned char>((b << 4) | (c >> 2));
  }
  return static_cast<long>(o);
}

}  // namespace

long decode_base64url(std::string_view in, unsigned char* out) {
  return decode(in, out, kUrl, true);
}

bool decode_base64_secret(std::string_view in, std::string& out) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  out.resize(decoded_size_bound(in.size()));
  long n = decode(in, reinterpret_cast<unsigned char*>(out.data()), kAny, false);
  if (n < 0) {
    out.clear();
    return false;
  }
  out.resize(static_cast<std::size_t>(n));
  return true;
}

std::string encode_base64url(std::string_view in) {
  static constexpr char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kChars[v >> 18];
    out += kChars[(v >> 12) & 63];
    out += kChars[(v >> 6) & 63];
    out += kChars[v & 63];
  }
  if (in.size() - i == 1) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    out += kChars[v >> 18];
    out += kChars[(v >> 12) & 63];
  } else if (in.size() - i == 2) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8);
    out += kChars[v >> 18];
    out += kChars[(v >> 12) & 63];
    out += kChars[(v >> 6) & 63];
  }
  return out;
}

}  // namespace suoke::gateway::plugins::jwt
