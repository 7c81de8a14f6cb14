#include "gateway/plugins/schema_types.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

namespace suoke::gateway::schema {
namespace {

std::string fmt_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string value_text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_uint64()) return std::to_string(v.as_uint64());
  if (v.is_double()) return fmt_number(v.as_double());
  return json::serialize(v);
}

std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.as_int64());
  if (v.is_uint64()) return static_cast<double>(v.as_uint64());
  if (v.is_double()) return v.as_double();
  return std::nullopt;
}

bool same_scalar(const json::value& a, const json::value& b) {
  auto na = as_number(a), nb = as_number(b);
  if (na && nb) return *na == *nb;
  return a == b;
}

Path child(const Path& path, std::string key) {
  Path p = path;
  p.push_back({std::move(key), -1});
  return p;
}

Path child(const Path& path, int index) {
  Path p = path;
  p.push_back({{}, index});
  return p;
}

// Converts a form string to the declared scalar type; returns the input unchanged when it
// does not convert, so the type check reports it.
json::value coerce(const Field& field, const json::value& in) {
  if (!in.is_string()) return in;
  const std::string s(in.as_string());
  switch (field.type) {
    case Type::kInteger:
    case Type::kNumber: {
      if (s.empty()) return in;
      char* end = nullptr;
      errno = 0;
      if (field.type == Type::kInteger) {
        long long n = std::strtoll(s.c_str(), &end, 10);
        if (end && *end == '\0' && errno == 0) return json::value(static_cast<int64_t>(n));
      }
      double d = std::strtod(s.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(d)) {
        if (d == std::floor(d) && std::fabs(d) < 9e15) return json::value(static_cast<int64_t>(d));
        return json::value(d);
      }
      return in;
    }
    case Type::kBoolean:
      if (s == "true") return json::value(true);
      if (s == "false") return json::value(false);
      return in;
    case Type::kArray:
    case Type::kSet: {
      json::array a;
      a.push_back(in);
      return a;
    }
    default:
      return in;
  }
}

void run_checks(const std::vector<EntityCheck>& checks, const json::object& out, const Path& path,
                Errors& errors) {
  for (const EntityCheck& c : checks) {
    switch (c.kind) {
      case EntityCheck::Kind::kAtLeastOneOf: {
        bool any = false;
        for (const auto& f : c.fields) {
          if (!is_empty(lookup(out, f))) any = true;
        }
        if (!any) {
          std::string list;
          for (const auto& f : c.fields) {
            if (!list.empty()) list += ", ";
            list += "'" + f + "'";
          }
          errors.add(child(path, std::string(kEntityKey)),
                     "at least one of these fields must be non-empty: " + list);
        }
        break;
      }
      case EntityCheck::Kind::kConditionalRequired: {
        const json::value* v = lookup(out, c.if_field);
        if (v && same_scalar(*v, c.if_value)) {
          const json::value* then = lookup(out, c.then_field);
          if (!then || then->is_null()) {
            Path p = path;
            std::string_view rest = c.then_field;
            while (true) {
              auto dot = rest.find('.');
              p.push_back({std::string(rest.substr(0, dot)), -1});
              if (dot == std::string_view::npos) break;
              rest = rest.substr(dot + 1);
            }
            errors.add(std::move(p), "required field missing");
          }
        }
        break;
      }
      case EntityCheck::Kind::kCustom: {
        if (!c.custom) break;
        if (auto msg = c.custom(out)) {
          if (c.error_field.empty()) {
            errors.add(child(path, std::string(kEntityKey)), *msg);
          } else {
            errors.add(child(path, c.error_field), *msg);
          }
        }
        break;
      }
    }
  }
}

}  // namespace

void run_entity_checks(const std::vector<EntityCheck>& checks, const json::object& record,
                       const Path& path, Errors& errors) {
  run_checks(checks, record, path, errors);
}

void Errors::append(const Errors& other, const Path& prefix) {
  for (const auto& e : other.list_) {
    Path p = prefix;
    p.insert(p.end(), e.path.begin(), e.path.end());
    list_.push_back({std::move(p), e.message});
  }
}

std::string dotted(const Path& path) {
  std::string out;
  for (const auto& e : path) {
    if (e.key == kEntityKey) continue;
    if (!out.empty()) out += '.';
    out += e.index >= 0 ? std::to_string(e.index + 1) : e.key;
  }
  return out;
}

std::string bracketed(const Path& path) {
  std::string out;
  for (const auto& e : path) {
    if (e.key == kEntityKey) continue;
    if (e.index >= 0) {
      out += "[" + std::to_string(e.index) + "]";
    } else {
      if (!out.empty()) out += '.';
      out += e.key;
    }
  }
  return out;
}

namespace {
void insert_error(json::value& node, const Path& path, std::size_t i, const std::string& msg) {
  if (i == path.size()) {
    node = json::value(msg);
    return;
  }
  const PathElem& el = path[i];
  if (el.index >= 0) {
    if (!node.is_array()) node = json::array();
    json::array& arr = node.as_array();
    while (arr.size() <= static_cast<std::size_t>(el.index)) arr.emplace_back(nullptr);
    insert_error(arr[el.index], path, i + 1, msg);
    return;
  }
  if (!node.is_object()) node = json::object();
  json::value& slot = node.as_object()[el.key];
  if (el.key == kEntityKey && i + 1 == path.size()) {
    if (!slot.is_array()) slot = json::array();
    slot.as_array().emplace_back(msg);
    return;
  }
  insert_error(slot, path, i + 1, msg);
}
}  // namespace

json::object errors_to_fields(const Errors& errors) {
  json::value root = json::object();
  for (const auto& e : errors.list()) {
    if (e.path.empty()) {
      insert_error(root, Path{{std::string(kEntityKey), -1}}, 0, e.message);
    } else {
      insert_error(root, e.path, 0, e.message);
    }
  }
  return std::move(root.as_object());
}

std::string schema_violation_message(const Errors& errors) {
  std::vector<std::string> entity, fields;
  std::map<std::string, std::string> sorted;
  for (const auto& e : errors.list()) {
    std::string d = dotted(e.path);
    bool is_entity = !e.path.empty() && e.path.back().key == kEntityKey;
    if (is_entity && d.empty()) {
      entity.push_back(e.message);
    } else {
      fields.push_back((d.empty() ? std::string("@entity") : d) + ": " + e.message);
    }
  }
  std::sort(fields.begin(), fields.end());
  std::vector<std::string> all = entity;
  all.insert(all.end(), fields.begin(), fields.end());
  if (all.size() == 1) return "schema violation (" + all[0] + ")";
  std::string joined;
  for (const auto& s : all) {
    if (!joined.empty()) joined += "; ";
    joined += s;
  }
  return std::to_string(all.size()) + " schema violations (" + joined + ")";
}

EntityCheck at_least_one_of(std::vector<std::string> fields) {
  EntityCheck c;
  c.kind = EntityCheck::Kind::kAtLeastOneOf;
  c.fields = std::move(fields);
  return c;
}

EntityCheck conditional_required(std::string if_field, json::value if_value,
                                 std::string then_field) {
  EntityCheck c;
  c.kind = EntityCheck::Kind::kConditionalRequired;
  c.if_field = std::move(if_field);
  c.if_value = std::move(if_value);
  c.then_field = std::move(then_field);
  return c;
}

const json::value* lookup(const json::object& object, std::string_view dotted_path) {
  const json::object* obj = &object;
  while (true) {
    auto dot = dotted_path.find('.');
    auto it = obj->find(dotted_path.substr(0, dot));
    if (it == obj->end()) return nullptr;
    if (dot == std::string_view::npos) return &it->value();
    if (!it->value().is_object()) return nullptr;
    obj = &it->value().as_object();
    dotted_path = dotted_path.substr(dot + 1);
  }
}

bool is_empty(const json::value* v) {
  if (!v || v->is_null()) return true;
  if (v->is_string()) return v->as_string().empty();
  if (v->is_array()) return v->as_array().empty();
  if (v->is_object()) return v->as_object().empty();
  return false;
}

json::value validate(const Field& field, const json::value* input, const Path& path, Errors& errors,
                     const Options& options) {
  json::value in = input ? *input : json::value(nullptr);
  if (options.coerce_strings) {
    if (in.is_string() && in.as_string().empty() && field.type != Type::kString) in = nullptr;
    if (in.is_string() && in.as_string().empty() && field.type == Type::kString) in = nullptr;
    in = coerce(field, in);
  }
  if (in.is_null()) {
    if (field.has_default) {
      in = field.default_value;
    } else {
      if (field.type == Type::kRecord) {
        // Kong materializes an absent record whose fields have defaults (a plugin's config,
        // rate-limiting's config.redis); a record without any stays null.
        bool has_defaults = false;
        for (const auto& [name, sub] : field.fields) {
          if (sub->has_default || sub->type == Type::kRecord) has_defaults = true;
        }
        if (has_defaults) {
          json::value e = json::object();
          return validate(field, &e, path, errors, options);
        }
      }
      if (field.required) errors.add(path, "required field missing");
      return nullptr;
    }
    if (in.is_null()) return nullptr;
  }

  std::size_t errors_before = errors.list().size();
  json::value out;
  switch (field.type) {
    case Type::kAny:
      out = in;
      break;
    case Type::kString: {
      if (!in.is_string()) {
        errors.add(path, "expected a string");
        return in;
      }
      std::size_t len = in.as_string().size();
      std::size_t min = field.len_min.value_or(1);
      if (len < min) {
        errors.add(path, "length must be at least " + std::to_string(min));
        return in;
      }
      if (field.len_max && len > *field.len_max) {
        errors.add(path, "length must be at most " + std::to_string(*field.len_max));
        return in;
      }
      out = in;
      break;
    }
    case Type::kInteger: {
      auto n = as_number(in);
      if (!n || std::floor(*n) != *n || std::fabs(*n) > 9.2e18) {
        errors.add(path, "expected an integer");
        return in;
      }
      out = in.is_double() ? json::value(static_cast<int64_t>(*n)) : in;
      break;
    }
    case Type::kNumber: {
      if (!as_number(in) || (in.is_double() && !std::isfinite(in.as_double()))) {
        errors.add(path, "expected a number");
        return in;
      }
      out = in;
      break;
    }
    case Type::kBoolean:
      if (!in.is_bool()) {
        errors.add(path, "expected a boolean");
        return in;
      }
      out = in;
      break;
    case Type::kArray:
    case Type::kSet: {
      // An empty JSON object is accepted as an empty array: Kong (Lua tables) cannot tell
      // them apart either.
      if (in.is_object() && in.as_object().empty()) in = json::array();
      if (!in.is_array()) {
        errors.add(path, field.type == Type::kSet ? "expected a set" : "expected an array");
        return in;
      }
      json::array res;
      const json::array& arr = in.as_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        json::value v = field.elements ? validate(*field.elements, &arr[i],
                                                  child(path, static_cast<int>(i)), errors, options)
                                       : arr[i];
        if (field.type == Type::kSet) {
          bool dup = false;
          for (const auto& existing : res) dup = dup || existing == v;
          if (dup) continue;
        }
        res.push_back(std::move(v));
      }
      if (field.len_min && res.size() < *field.len_min) {
        errors.add(path, "length must be at least " + std::to_string(*field.len_min));
      }
      out = std::move(res);
      break;
    }
    case Type::kMap: {
      if (!in.is_object()) {
        errors.add(path, "expected a map");
        return in;
      }
      json::object res;
      for (const auto& kv : in.as_object()) {
        Path p = child(path, std::string(kv.key()));
        if (field.keys) {
          json::value k(kv.key());
          validate(*field.keys, &k, p, errors, options);
        }
        res[kv.key()] =
            field.values ? validate(*field.values, &kv.value(), p, errors, options) : kv.value();
      }
      out = std::move(res);
      break;
    }
    case Type::kRecord: {
      if (!in.is_object()) {
        errors.add(path, "expected a record");
        return in;
      }
      const json::object& obj = in.as_object();
      json::object res;
      for (const auto& kv : obj) {
        bool known = false;
        for (const auto& [name, sub] : field.fields) known = known || name == kv.key();
        if (!known) errors.add(child(path, std::string(kv.key())), "unknown field");
      }
      for (const auto& [name, sub] : field.fields) {
        auto it = obj.find(name);
        res[name] = validate(*sub, it == obj.end() ? nullptr : &it->value(), child(path, name),
                             errors, options);
      }
      if (errors.list().size() == errors_before) run_checks(field.checks, res, path, errors);
      out = std::move(res);
      break;
    }
  }
  if (errors.list().size() != errors_before) return out;

  if (!field.one_of.empty()) {
    bool found = false;
    for (const auto& o : field.one_of) found = found || same_scalar(o, out);
    if (!found) {
      std::string list;
      for (const auto& o : field.one_of) {
        if (!list.empty()) list += ", ";
        list += value_text(o);
      }
      errors.add(path, "expected one of: " + list);
      return out;
    }
  }
  if (auto n = as_number(out)) {
    if (field.between_min && (*n < *field.between_min || *n > *field.between_max)) {
      errors.add(path, "value should be between " + fmt_number(*field.between_min) + " and " +
                           fmt_number(*field.between_max));
      return out;
    }
    if (field.gt && !(*n > *field.gt)) {
      errors.add(path, "value must be greater than " + fmt_number(*field.gt));
      return out;
    }
  }
  if (field.custom) {
    if (auto msg = field.custom(out)) errors.add(path, *msg);
  }
  return out;
}

bool valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  // IPv6 literal in brackets or bare.
  if (host.front() == '[') return host.back() == ']';
  if (host.find(':') != std::string_view::npos) {
    for (char c : host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    }
    return true;
  }
  std::size_t label = 0;
  for (char c : host) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return label > 0 || host.back() == '.';
}

FieldBuilder typedef_host() {
  return string().custom([](const json::value& v) -> std::optional<std::string> {
    if (!valid_hostname(v.as_string())) return "invalid value: " + std::string(v.as_string());
    return std::nullopt;
  });
}

FieldBuilder typedef_port() { return integer().between(0, 65535); }

FieldBuilder typedef_protocol() {
  return string().one_of(
      {"grpc", "grpcs", "http", "https", "tcp", "tls", "tls_passthrough", "udp", "ws", "wss"});
}

FieldBuilder typedef_protocols() {
  return set(typedef_protocol()).required().def(json::array{"grpc", "grpcs", "http", "https"});
}

FieldBuilder typedef_tags() {
  return set(string().custom([](const json::value& v) -> std::optional<std::string> {
    for (char c : v.as_string()) {
      if (static_cast<unsigned char>(c) < 0x20 || c == ',' || c == '/' || c == 0x7f) {
        return "invalid tag '" + std::string(v.as_string()) +
               "': expected printable ascii (except `,` and `/`) or valid utf-8 sequences";
      }
    }
    return std::nullopt;
  }));
}

FieldBuilder typedef_timeout(int64_t default_ms) {
  return integer().between(0, 2147483646).def(default_ms);
}

FieldBuilder typedef_url() {
  return string().custom([](const json::value& v) -> std::optional<std::string> {
    std::string_view s = v.as_string();
    auto scheme_end = s.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) return "missing host in url";
    std::string_view rest = s.substr(scheme_end + 3);
    std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = host.rfind('@'); at != std::string_view::npos) host = host.substr(at + 1);
    if (!host.empty() && host.front() != '[') host = host.substr(0, host.find(':'));
    if (host.empty()) return "missing host in url";
    return std::nullopt;
  });
}

FieldBuilder typedef_header_name() {
  return string().custom([](const json::value& v) -> std::optional<std::string> {
    for (char c : v.as_string()) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
        return "bad header name '" + std::string(v.as_string()) +
               "', allowed characters are A-Z, a-z, 0-9, '_', and '-'";
      }
    }
    return std::nullopt;
  });
}

FieldBuilder typedef_queue() {
  return record()
      .required()
      .field("max_batch_size", integer().def(1).between(1, 1000000))
      .field("max_coalescing_delay", number().def(1).between(0, 3600))
      .field("max_entries", integer().def(10000).between(1, 1000000))
      .field("max_bytes", integer())
      .field("max_retry_time", number().def(60))
      .field("initial_retry_delay", number().def(0.01).between(0.001, 1000000))
      .field("max_retry_delay", number().def(60).between(0.001, 1000000))
      .field("concurrency_limit", integer().def(1).one_of({-1, 1}));
}

}  // namespace suoke::gateway::schema
