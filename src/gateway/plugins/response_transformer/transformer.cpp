#include "gateway/plugins/response_transformer/transformer.h"

#include "core/json_string.h"

#include <algorithm>
#include <array>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <charconv>
#include <cstring>
#include <cmath>
#include <limits>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace suoke::gateway::plugins::response_transformer {
namespace {

// Deep enough for real documents, shallow enough that the recursive walkers below cannot
// exhaust the stack on hostile input (deeper bodies fail to parse and pass through).
constexpr std::size_t kMaxDepth = 256;

enum class Op { kRemove, kRename, kReplace, kAdd, kAppend };

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals_ascii(std::string_view a, std::string_view b) { return http::iequals(a, b); }

// Lua truthiness: Kong's replace skips, and add overwrites, a field holding `false`.
bool is_false(const json::value& v) { return v.is_bool() && !v.get_bool(); }

// Lua's tonumber for the common forms: integers stay integers, everything else is a double.
std::optional<json::value> to_number(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  const char* end = text.data() + text.size();
  int64_t i = 0;
  auto ri = std::from_chars(text.data(), end, i);
  if (ri.ec == std::errc() && ri.ptr == end) return json::value(i);
  double d = 0;
  auto rd = std::from_chars(text.data(), end, d);
  if (rd.ec == std::errc() && rd.ptr == end && std::isfinite(d)) return json::value(d);
  return std::nullopt;
}

std::optional<json::value> typed_value(const std::optional<std::string>& value, JsonType type) {
  if (!value) return std::nullopt;
  switch (type) {
    case JsonType::kNumber:
      return to_number(*value);
    case JsonType::kBoolean:
      return json::value(*value == "true");
    case JsonType::kString:
      break;
  }
  return json::value(json::string(*value));
}

// Boost 1.81's object::erase moves the last member into the hole; rebuild instead so the
// client sees the upstream's key order minus the removed key.
void stable_erase(json::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  const std::size_t tail = static_cast<std::size_t>(obj.end() - it) - 1;
  if (tail == 0) {
    obj.erase(it);
    return;
  }
  // json::object::erase moves the last member into the hole, which would reorder. Few
  // members after `key` (the usual case): take them off the end (erasing the last member
  // moves nothing), drop `key`, and append them again in their order: work proportional to
  // the members after `key`, not a rebuild of the whole object.
  constexpr std::size_t kMaxTail = 8;
  if (tail <= kMaxTail) {
    // Moved, not copied: the saved values keep the object's storage (the parse arena).
    std::array<std::string, kMaxTail> saved_keys;
    std::array<std::optional<json::value>, kMaxTail> saved_values;
    for (std::size_t i = tail; i-- > 0;) {
      auto last = std::prev(obj.end());
      saved_keys[i].assign(last->key());
      saved_values[i].emplace(std::move(last->value()));
      obj.erase(last);
    }
    obj.erase(obj.find(key));
    for (std::size_t i = 0; i < tail; ++i) obj.emplace(saved_keys[i], std::move(*saved_values[i]));
    return;
  }
  json::object rebuilt(obj.storage());
  rebuilt.reserve(obj.size() - 1);
  for (auto& kv : obj) {
    if (kv.key() != key) rebuilt.emplace(kv.key(), std::move(kv.value()));
  }
  obj = std::move(rebuilt);
}

// Renames in place (same position); an existing member named `to` is overwritten.
void rename_key(json::object& obj, std::string_view from, std::string_view to) {
  if (from == to) return;
  json::object rebuilt(obj.storage());
  rebuilt.reserve(obj.size());
  for (auto& kv : obj) {
    if (kv.key() == from) {
      rebuilt[to] = std::move(kv.value());
    } else if (kv.key() != to) {
      rebuilt.emplace(kv.key(), std::move(kv.value()));
    }
  }
  obj = std::move(rebuilt);
}

// Kong's append_value; an object is left alone (Kong would write a "1" key into it).
void append_to(json::value& current, const json::value& v) {
  if (current.is_string()) {
    json::array pair(current.storage());
    pair.emplace_back(std::move(current));
    pair.emplace_back(v);
    current = std::move(pair);
  } else if (current.is_array()) {
    current.get_array().emplace_back(v);
  } else if (!current.is_object()) {
    json::array one(current.storage());
    one.emplace_back(v);
    current = std::move(one);
  }
}

void apply_to_element(json::value& element, Op op, const JsonEntry& e) {
  switch (op) {
    case Op::kReplace:
      if (e.value && !is_false(element)) element = *e.value;
      break;
    case Op::kAdd:
      if (e.value && is_false(element)) element = *e.value;
      break;
    case Op::kAppend:
      if (e.value) append_to(element, *e.value);
      break;
    case Op::kRemove:
    case Op::kRename:
      break;
  }
}

void apply_last(json::value& container, const PathSegment& seg, Op op, const JsonEntry& e) {
  switch (seg.kind) {
    case PathSegment::Kind::kDeep:
      return;  // parse_path never ends a path with `**`
    case PathSegment::Kind::kKey: {
      if (!container.is_object()) return;
      json::object& obj = container.get_object();
      json::value* current = obj.if_contains(seg.key);
      switch (op) {
        case Op::kRemove:
          if (current) stable_erase(obj, seg.key);
          break;
        case Op::kRename:
          if (current && !e.new_name.empty()) rename_key(obj, seg.key, e.new_name);
          break;
        case Op::kReplace:
          if (current && e.value && !is_false(*current)) *current = *e.value;
          break;
        case Op::kAdd:
          if (!e.value) break;
          if (!current) {
            obj[seg.key] = *e.value;
          } else if (is_false(*current)) {
            *current = *e.value;
          }
          break;
        case Op::kAppend:
          if (!e.value) break;
          if (!current) {
            json::array one(obj.storage());
            one.emplace_back(*e.value);
            obj[seg.key] = std::move(one);
          } else {
            append_to(*current, *e.value);
          }
          break;
      }
      return;
    }
    case PathSegment::Kind::kIndex: {
      if (!container.is_array()) return;
      json::array& arr = container.get_array();
      if (seg.index >= arr.size()) return;
      if (op == Op::kRemove) {
        arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(seg.index));
      } else {
        apply_to_element(arr[seg.index], op, e);
      }
      return;
    }
    case PathSegment::Kind::kAll: {
      if (!container.is_array()) return;
      json::array& arr = container.get_array();
      if (op == Op::kRemove) {
        arr.clear();
      } else {
        for (auto& element : arr) apply_to_element(element, op, e);
      }
      return;
    }
  }
}

void apply(json::value& node, const std::vector<PathSegment>& segs, std::size_t i, Op op,
           const JsonEntry& e) {
  if (i + 1 == segs.size()) return apply_last(node, segs[i], op, e);
  const PathSegment& seg = segs[i];
  switch (seg.kind) {
    case PathSegment::Kind::kKey: {
      if (!node.is_object()) return;
      json::object& obj = node.get_object();
      json::value* child = obj.if_contains(seg.key);
      if (!child) {
        // add/append build the missing objects on the way (never array elements).
        bool creates = (op == Op::kAdd || op == Op::kAppend) && e.value &&
                       segs[i + 1].kind == PathSegment::Kind::kKey;
        if (!creates) return;
        child = &obj[seg.key];
        *child = json::object(obj.storage());
      }
      return apply(*child, segs, i + 1, op, e);
    }
    case PathSegment::Kind::kIndex:
      if (node.is_array() && seg.index < node.get_array().size()) {
        apply(node.get_array()[seg.index], segs, i + 1, op, e);
      }
      return;
    case PathSegment::Kind::kAll:
      if (node.is_array()) {
        for (auto& element : node.get_array()) apply(element, segs, i + 1, op, e);
      }
      return;
    case PathSegment::Kind::kDeep:
      // Children first, then this node: what the operation creates here is not visited
      // again (add `**.a.b` would otherwise nest forever). Depth is bounded by kMaxDepth.
      if (node.is_object()) {
        for (auto& kv : node.get_object()) apply(kv.value(), segs, i, op, e);
      } else if (node.is_array()) {
        for (auto& element : node.get_array()) apply(element, segs, i, op, e);
      }
      return apply(node, segs, i + 1, op, e);
  }
}

void apply_all(json::value& document, const std::vector<JsonEntry>& entries, Op op) {
  for (const JsonEntry& e : entries) apply(document, e.path.segments, 0, op, e);
}

std::vector<HeaderEntry> header_entries(const json::object& section) {
  std::vector<HeaderEntry> out;
  const json::value* list = section.if_contains("headers");
  if (!list || !list->is_array()) return out;
  for (const auto& item : list->get_array()) {
    if (!item.is_string()) continue;
    Entry entry = split_entry(item.get_string());
    if (entry.name.empty()) continue;
    out.push_back({std::move(entry.name), std::move(entry.value)});
  }
  return out;
}

std::vector<JsonEntry> json_entries(const json::object& section, bool typed, bool rename) {
  std::vector<JsonEntry> out;
  const json::value* list = section.if_contains("json");
  if (!list || !list->is_array()) return out;
  const json::array* types = nullptr;
  if (typed) {
    const json::value* t = section.if_contains("json_types");
    if (t && t->is_array()) types = &t->get_array();
  }
  std::size_t i = 0;
  for (const auto& item : list->get_array()) {
    std::size_t position = i++;
    if (!item.is_string()) continue;
    Entry entry = split_entry(item.get_string());
    if (entry.name.empty()) continue;
    JsonEntry je;
    je.path = path_or_literal(entry.name);
    if (rename) {
      je.new_name = entry.value.value_or(std::string());
    } else {
      JsonType type = JsonType::kString;
      if (types && position < types->size() && (*types)[position].is_string()) {
        std::string_view t = (*types)[position].get_string();
        if (t == "number") type = JsonType::kNumber;
        if (t == "boolean") type = JsonType::kBoolean;
      }
      je.value = typed_value(entry.value, type);
    }
    out.push_back(std::move(je));
  }
  return out;
}

const json::object* section(const json::object& config, std::string_view name) {
  const json::value* v = config.if_contains(name);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

void erase_header(http::HeaderList& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return iequals_ascii(h.first, name); });
}

bool has_header(const http::HeaderList& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (iequals_ascii(h.first, name)) return true;
  }
  return false;
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}


// Recognises JSON text that boost::json's parse + serialize_json would reproduce byte for
// byte: no whitespace, strings of printable ASCII without escapes, integers of at most 18
// digits without a leading zero (and not -0), no duplicate keys (the parser keeps the last
// value at the first key's place), at most kMaxCanonicalMembers members per object and
// kMaxCanonicalDepth levels. Anything else is "not canonical", not "invalid": the caller
// then takes the parser, which decides validity and produces the output as before.
class CanonicalJsonScanner {
 public:
  struct Member {
    std::string_view key;  // without the quotes
    const char* begin;     // the opening quote of the key
    const char* end;       // one past the value
  };
  static constexpr std::size_t kMaxCanonicalMembers = 32;
  static constexpr std::size_t kMaxCanonicalDepth = 64;

  CanonicalJsonScanner(std::string_view text, std::vector<std::string_view>& keys)
      : p_(text.data()), end_(text.data() + text.size()), keys_(keys) {
    keys_.clear();
  }

  // The whole text is one canonical value; a top-level object's members are listed in
  // `top_members` (left empty for any other value).
  bool scan_document(std::vector<Member>& top_members) {
    top_members.clear();
    if (p_ == end_) return false;
    bool ok = *p_ == '{' ? object(1, &top_members) : value(1);
    return ok && p_ == end_;
  }

 private:
  bool value(std::size_t depth) {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{':
        return object(depth + 1, nullptr);
      case '[':
        return array(depth + 1);
      case '"': {
        std::string_view s;
        return string(s);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }

  bool literal(std::string_view word) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() ||
        std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

  bool number() {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    const char* digits = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    std::size_t n = static_cast<std::size_t>(p_ - digits);
    if (n == 0 || n > 18) return false;
    if (*digits == '0' && (n > 1 || digits != start)) return false;  // 01, -0
    // A fraction or exponent follows: not canonical (the parser re-formats doubles).
    return p_ == end_ || (*p_ != '.' && *p_ != 'e' && *p_ != 'E');
  }

  bool string(std::string_view& contents) {
    const char* start = ++p_;  // past the opening quote
#if defined(__SSE2__)
    // Sixteen bytes per step while they lie inside the text: the first byte that is '"',
    // '\\', DEL, a control or non-ASCII (signed < 0x20) ends the scan.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i del = _mm_set1_epi8(0x7f);
    const __m128i space = _mm_set1_epi8(0x20);
    while (end_ - p_ >= 16) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p_));
      __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                  _mm_or_si128(_mm_cmpeq_epi8(v, del), _mm_cmplt_epi8(v, space)));
      auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
      if (mask == 0) {
        p_ += 16;
        continue;
      }
      p_ += __builtin_ctz(mask);
      if (*p_ != '"') return false;
      contents = std::string_view(start, static_cast<std::size_t>(p_ - start));
      ++p_;
      return true;
    }
#endif
    while (p_ != end_) {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        contents = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x7f || c == '\\') return false;
      ++p_;
    }
    return false;
  }

  bool object(std::size_t depth, std::vector<Member>* members) {
    if (depth > kMaxCanonicalDepth) return false;
    ++p_;  // '{'
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    const std::size_t first_key = keys_.size();
    while (true) {
      if (p_ == end_ || *p_ != '"') return false;
      const char* member_begin = p_;
      std::string_view key;
      if (!string(key)) return false;
      if (keys_.size() - first_key == kMaxCanonicalMembers) return false;
      for (std::size_t i = first_key; i < keys_.size(); ++i) {
        if (keys_[i] == key) return false;
      }
      keys_.push_back(key);
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      if (!value(depth)) return false;
      if (members) members->push_back({key, member_begin, p_});
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        keys_.resize(first_key);
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
    }
  }

  bool array(std::size_t depth) {
    if (depth > kMaxCanonicalDepth) return false;
    ++p_;  // '['
    if (p_ != end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      if (!value(depth)) return false;
      if (p_ == end_) return false;
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      if (*p_ != ',') return false;
      ++p_;
    }
  }

  const char* p_;
  const char* end_;
  std::vector<std::string_view>& keys_;
};

// The fast path for Config::removes_top_level_keys_only: a canonical body (see the scanner)
// is copied without the removed top-level members, which is exactly what parsing, erasing
// (order kept) and serializing would write. Returns false, leaving `out` alone, when the
// body is not canonical.
bool remove_top_level_keys_as_text(const Config& config, std::string_view body, std::string& out) {
  thread_local std::vector<std::string_view> keys;
  thread_local std::vector<CanonicalJsonScanner::Member> members;
  CanonicalJsonScanner scanner(body, keys);
  if (!scanner.scan_document(members)) return false;
  out.clear();
  out.reserve(body.size());
  if (members.empty()) {  // not an object, or an empty one: nothing to remove
    out.append(body);
    return true;
  }
  out.push_back('{');
  bool first = true;
  for (const auto& m : members) {
    bool removed = std::any_of(config.remove_json.begin(), config.remove_json.end(),
                               [&](const JsonEntry& e) { return e.path.segments[0].key == m.key; });
    if (removed) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(m.begin, static_cast<std::size_t>(m.end - m.begin));
  }
  out.push_back('}');
  return true;
}

}  // namespace

std::optional<JsonPath> parse_path(std::string_view text) {
  JsonPath path;
  if (text.empty()) return std::nullopt;
  if (text.find_first_of(".[\\") == std::string_view::npos) {
    path.segments.push_back({PathSegment::Kind::kKey, std::string(text), 0});
    return path;
  }
  std::size_t i = 0;
  // After a ']' the next thing must be '.', '[' or the end; after a '.' a key must follow.
  bool expect_key = true;
  while (i < text.size()) {
    char c = text[i];
    if (c == '[') {
      std::size_t close = text.find(']', i);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view inside = text.substr(i + 1, close - i - 1);
      PathSegment seg;
      if (inside == "*") {
        seg.kind = PathSegment::Kind::kAll;
      } else {
        if (inside.empty()) return std::nullopt;
        for (char d : inside) {
          if (d < '0' || d > '9') return std::nullopt;
        }
        auto r = std::from_chars(inside.data(), inside.data() + inside.size(), seg.index);
        if (r.ec != std::errc()) return std::nullopt;
        seg.kind = PathSegment::Kind::kIndex;
      }
      path.segments.push_back(std::move(seg));
      i = close + 1;
      if (i < text.size()) {
        if (text[i] == '.') {
          ++i;
          if (i == text.size()) return std::nullopt;
          expect_key = true;
        } else if (text[i] != '[') {
          return std::nullopt;
        }
      }
      continue;
    }
    if (!expect_key) return std::nullopt;
    if (text.substr(i, 3) == "**.") {
      path.segments.push_back({PathSegment::Kind::kDeep, {}, 0});
      i += 3;
      if (i == text.size()) return std::nullopt;
      continue;
    }
    std::string key;
    while (i < text.size() && text[i] != '.' && text[i] != '[') {
      if (text[i] == '\\') {
        if (i + 1 == text.size()) return std::nullopt;
        ++i;
      }
      key.push_back(text[i++]);
    }
    if (key.empty()) return std::nullopt;
    path.segments.push_back({PathSegment::Kind::kKey, std::move(key), 0});
    if (i < text.size() && text[i] == '.') {
      ++i;
      if (i == text.size()) return std::nullopt;
      expect_key = true;
    }
  }
  if (path.segments.empty()) return std::nullopt;
  return path;
}

JsonPath path_or_literal(std::string_view text) {
  if (auto p = parse_path(text)) return std::move(*p);
  JsonPath literal;
  literal.segments.push_back({PathSegment::Kind::kKey, std::string(text), 0});
  return literal;
}

Entry split_entry(std::string_view text) {
  // Kong: match(entry, "^([^:]+):*(.-)$").
  Entry e;
  std::size_t colon = text.find(':');
  if (colon == 0) return e;
  e.name.assign(text.substr(0, colon));
  if (colon == std::string_view::npos) return e;
  std::size_t v = text.find_first_not_of(':', colon);
  if (v != std::string_view::npos) e.value.emplace(text.substr(v));
  return e;
}

Result<Config> parse_config(const json::object& config) {
  Config c;
  const json::object* remove = section(config, "remove");
  const json::object* rename = section(config, "rename");
  const json::object* replace = section(config, "replace");
  const json::object* add = section(config, "add");
  const json::object* append = section(config, "append");
  if (remove) {
    c.remove_headers = header_entries(*remove);
    c.remove_json = json_entries(*remove, false, false);
  }
  if (rename) {
    c.rename_headers = header_entries(*rename);
    c.rename_json = json_entries(*rename, false, true);
  }
  if (replace) {
    c.replace_headers = header_entries(*replace);
    c.replace_json = json_entries(*replace, true, false);
  }
  if (add) {
    c.add_headers = header_entries(*add);
    c.add_json = json_entries(*add, true, false);
  }
  if (append) {
    c.append_headers = header_entries(*append);
    c.append_json = json_entries(*append, true, false);
  }
  c.removes_top_level_keys_only =
      !c.remove_json.empty() && c.rename_json.empty() && c.replace_json.empty() &&
      c.add_json.empty() && c.append_json.empty() &&
      std::all_of(c.remove_json.begin(), c.remove_json.end(), [](const JsonEntry& e) {
        return e.path.segments.size() == 1 && e.path.segments[0].kind == PathSegment::Kind::kKey;
      });
  return c;
}

bool is_json_content_type(std::string_view content_type) {
  while (!content_type.empty()) {
    std::size_t comma = content_type.find(',');
    std::string_view item = content_type.substr(0, comma);
    content_type =
        comma == std::string_view::npos ? std::string_view{} : content_type.substr(comma + 1);
    item = trim(item.substr(0, item.find(';')));
    std::size_t slash = item.find('/');
    if (slash == std::string_view::npos) continue;
    std::string_view type = trim(item.substr(0, slash));
    std::string_view subtype = trim(item.substr(slash + 1));
    if (!iequals_ascii(type, "application")) continue;
    if (iequals_ascii(subtype, "json")) return true;
    if (subtype.size() > 5 && iequals_ascii(subtype.substr(subtype.size() - 5), "+json"))
      return true;
  }
  return false;
}

void transform_headers(const Config& config, http::HeaderList& headers) {
  // Each step sees the result of the previous one (Kong checks presence against the
  // headers as they were before the plugin ran; sequential is what the order promises).
  for (const auto& e : config.remove_headers) erase_header(headers, e.name);
  for (const auto& e : config.rename_headers) {
    if (!e.value || !has_header(headers, e.name) || iequals_ascii(e.name, *e.value)) continue;
    std::vector<std::string> values;
    for (auto& h : headers) {
      if (iequals_ascii(h.first, e.name)) values.push_back(std::move(h.second));
    }
    erase_header(headers, e.name);
    erase_header(headers, *e.value);
    for (auto& v : values) headers.emplace_back(*e.value, std::move(v));
  }
  for (const auto& e : config.replace_headers) {
    if (!e.value) continue;
    bool replaced = false;
    std::erase_if(headers, [&](auto& h) {
      if (!iequals_ascii(h.first, e.name)) return false;
      if (replaced) return true;
      h.second = *e.value;
      replaced = true;
      return false;
    });
  }
  for (const auto& e : config.add_headers) {
    if (e.value && !has_header(headers, e.name)) headers.emplace_back(e.name, *e.value);
  }
  for (const auto& e : config.append_headers) {
    if (e.value) headers.emplace_back(e.name, *e.value);
  }
}

void transform_json(const Config& config, json::value& document) {
  apply_all(document, config.remove_json, Op::kRemove);
  apply_all(document, config.rename_json, Op::kRename);
  apply_all(document, config.replace_json, Op::kReplace);
  apply_all(document, config.add_json, Op::kAdd);
  apply_all(document, config.append_json, Op::kAppend);
}

Result<void> transform_json_body_into(const Config& config, std::string_view body, std::string& out) {
  if (config.removes_top_level_keys_only && remove_top_level_keys_as_text(config, body, out)) {
    return Ok();
  }
  // Small bodies (the common case) parse into this stack block: no heap block per request.
  unsigned char first_block[4096];
  json::monotonic_resource arena(first_block, sizeof first_block);
  json::parse_options options;
  options.max_depth = kMaxDepth;
  boost::system::error_code ec;
  json::value document = json::parse(body, ec, &arena, options);
  if (ec) return Error::make("invalid JSON: " + ec.message(), "parse");
  transform_json(config, document);
  out.clear();
  out.reserve(body.size() + 64);
  serialize_json(document, out);
  return Ok();
}

Result<std::string> transform_json_body(const Config& config, std::string_view body) {
  std::string out;
  auto r = transform_json_body_into(config, body, out);
  if (!r.ok()) return r.error();
  return out;
}

void serialize_json(const json::value& value, std::string& out) {
  switch (value.kind()) {
    case json::kind::null:
      out.append("null");
      return;
    case json::kind::bool_:
      out.append(value.get_bool() ? "true" : "false");
      return;
    case json::kind::int64:
      append_number(out, value.get_int64());
      return;
    case json::kind::uint64:
      append_number(out, value.get_uint64());
      return;
    case json::kind::double_: {
      double d = value.get_double();
      if (std::isinf(d)) {
        out.append(d > 0 ? "1e999" : "-1e999");
      } else if (std::isnan(d)) {
        out.append("null");
      } else {
        append_number(out, d);
      }
      return;
    }
    case json::kind::string:
      append_json_string(out, value.get_string());
      return;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& v : value.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        serialize_json(v, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& kv : value.get_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, kv.key());
        out.push_back(':');
        serialize_json(kv.value(), out);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace suoke::gateway::plugins::response_transformer
