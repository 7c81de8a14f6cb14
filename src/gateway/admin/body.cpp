#include "gateway/admin/body.h"

#include <boost/json/parse.hpp>
#include <cctype>
#include <vector>

namespace suoke::gateway::admin {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxKeyDepth = 16;

std::vector<std::string> split_key(std::string_view key) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '.') {
      out.push_back(std::move(cur));
      cur.clear();
    } else if (c == '[') {
      if (!cur.empty() || out.empty()) out.push_back(std::move(cur));
      cur.clear();
      auto close = key.find(']', i);
      if (close == std::string_view::npos) {
        cur = std::string(key.substr(i + 1));
        break;
      }
      out.push_back(std::string(key.substr(i + 1, close - i - 1)));
      i = close;
      if (i + 1 < key.size() && key[i + 1] == '.') ++i;
    } else {
      cur += c;
    }
  }
  if (!cur.empty() || out.empty()) out.push_back(std::move(cur));
  return out;
}

bool is_index(const std::string& s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

void assign(json::object& root, const std::vector<std::string>& segs, std::string value) {
  if (segs.empty() || segs.size() > kMaxKeyDepth) return;
  json::object* obj = &root;
  std::size_t last = segs.size() - 1;
  // "a[]"/"a[1]" at the end: append to array a.
  bool append = segs.size() >= 2 && is_index(segs[last]);
  std::size_t walk_to = append ? last - 1 : last;
  for (std::size_t i = 0; i < walk_to; ++i) {
    json::value& next = (*obj)[segs[i]];
    if (!next.is_object()) next = json::object();
    obj = &next.as_object();
  }
  json::value& slot = (*obj)[segs[walk_to]];
  if (append) {
    if (slot.is_string()) slot = json::array{slot};
    if (!slot.is_array()) slot = json::array();
    slot.as_array().emplace_back(value);
    return;
  }
  if (slot.is_string()) {
    slot = json::array{slot, json::value(value)};
  } else if (slot.is_array()) {
    slot.as_array().emplace_back(value);
  } else {
    slot = json::value(value);
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Parses multipart/form-data into `out`; text parts only (files are treated as text).
void parse_multipart(std::string_view body, std::string_view boundary, json::object& out) {
  std::string delim = "--" + std::string(boundary);
  std::size_t pos = body.find(delim);
  while (pos != std::string_view::npos) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") break;
    std::size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) break;
    std::string_view headers = body.substr(pos, headers_end - pos);
    std::size_t next = body.find("\r\n" + delim, headers_end + 4);
    if (next == std::string_view::npos) break;
    std::string_view content = body.substr(headers_end + 4, next - headers_end - 4);
    std::string lh = lower(headers);
    auto name_at = lh.find("name=\"");
    if (name_at != std::string::npos) {
      auto end = headers.find('"', name_at + 6);
      if (end != std::string_view::npos) {
        std::string name(headers.substr(name_at + 6, end - name_at - 6));
        assign(out, split_key(name), std::string(content));
      }
    }
    pos = next + 2;
  }
}

}  // namespace

std::string url_decode(std::string_view text, bool plus_as_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_as_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      auto hex = [](char h) {
        return std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10);
      };
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

json::object parse_form(std::string_view body) {
  json::object out;
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1), true);
    if (key.empty()) continue;
    assign(out, split_key(key), std::move(value));
  }
  return out;
}

std::optional<ParsedBody> parse_body(const http::Request& request) {
  ParsedBody parsed;
  std::string ctype = lower(request.header("Content-Type"));
  std::string_view body = request.body;
  bool blank = body.find_first_not_of(" \t\r\n") == std::string_view::npos;
  if (ctype.find("application/x-www-form-urlencoded") != std::string::npos) {
    parsed.form = true;
    parsed.object = parse_form(body);
    return parsed;
  }
  if (ctype.find("multipart/form-data") != std::string::npos) {
    parsed.form = true;
    auto b = ctype.find("boundary=");
    if (b != std::string::npos) {
      // The boundary is case-sensitive: take it from the original header.
      std::string_view original = request.header("Content-Type");
      std::string_view boundary = original.substr(b + 9);
      boundary = boundary.substr(0, boundary.find(';'));
      if (boundary.size() >= 2 && boundary.front() == '"')
        boundary = boundary.substr(1, boundary.size() - 2);
      parse_multipart(body, boundary, parsed.object);
    }
    return parsed;
  }
  if (blank) return parsed;
  bool json_type = ctype.find("json") != std::string::npos;
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (json_type || (ctype.empty() && (body[first] == '{' || body[first] == '['))) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    parsed.object = std::move(v.as_object());
    return parsed;
  }
  // Kong falls back to form decoding for unknown content types.
  parsed.form = true;
  parsed.object = parse_form(body);
  return parsed;
}

}  // namespace suoke::gateway::admin
