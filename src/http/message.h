// Light HTTP message types for request/response handlers (Admin API, status, built-in
// upstreams). They keep Beast out of public headers; the proxy's streaming path uses Beast
// directly inside src/gateway/proxy/.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace suoke::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup of the first header named `name`; empty when absent.
std::string_view find_header(const HeaderList& headers, std::string_view name);

// ASCII case-insensitive equality (header names, tokens). Inline and without std::tolower:
// it runs dozens of times per proxied request, and the locale lookup per byte made it ~5% of
// the plugin chain's instructions (callgrind).
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]);
    unsigned char y = static_cast<unsigned char>(b[i]);
    if (x == y) continue;
    if ((x | 0x20) != (y | 0x20)) return false;
    unsigned char lower = static_cast<unsigned char>(x | 0x20);
    if (lower < 'a' || lower > 'z') return false;
  }
  return true;
}

struct Request {
  std::string method;  // "GET", ...
  std::string target;  // path and query as received
  HeaderList headers;
  std::string body;
  std::string remote_address;
  uint16_t remote_port = 0;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', empty when none
};

struct Response {
  int status = 200;
  HeaderList headers;
  std::string body;

  static Response json(int status, std::string body);
  static Response text(int status, std::string body);
  Response& set_header(std::string name, std::string value);
};

}  // namespace suoke::http
