#include "core/json_string.h"

#include <array>

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

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
  // Runs of bytes that need no escaping (nearly always the whole string) go in one append.
  const char* data = s.data();
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(data[i]);
    if (!kNeedsEscape[c]) continue;
    out.append(data + run, i - run);
    run = i + 1;
    append_escape(out, c);
  }
  out.append(data + run, s.size() - run);
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  append_json_escaped(out, s);
  out.push_back('"');
}

}  // namespace suoke
