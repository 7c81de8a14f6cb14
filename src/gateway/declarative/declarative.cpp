#include "gateway/declarative/declarative.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

#include "core/uuid.h"

namespace suoke::gateway::declarative {
namespace {

namespace json = boost::json;
using entities::Config;
using entities::Kind;
using schema::Path;

constexpr int kMaxDepth = 64;

// YAML 1.2 core schema resolution of a plain scalar.
json::value infer_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* b = s.c_str();
  char* end = nullptr;
  bool numeric_start = std::isdigit(static_cast<unsigned char>(s[0])) ||
                       ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s.size() > 1);
  if (!numeric_start) return json::value(s);
  errno = 0;
  long long n = std::strtoll(b, &end, 10);
  if (*end == '\0' && errno == 0) return json::value(static_cast<int64_t>(n));
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    errno = 0;
    long long h = std::strtoll(b + 2, &end, s[1] == 'x' ? 16 : 8);
    if (*end == '\0' && errno == 0) return json::value(static_cast<int64_t>(h));
  }
  // Only the YAML float forms: digits, one dot, optional exponent (strtod alone accepts
  // "inf", "nan" and hex floats).
  bool ok = true, digit = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)))
      digit = true;
    else if (!(c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+'))
      ok = false;
  }
  if (ok && digit) {
    double d = std::strtod(b, &end);
    if (*end == '\0' && std::isfinite(d)) return json::value(d);
  }
  return json::value(s);
}

Result<json::value> from_yaml(const YAML::Node& node, int depth) {
  if (depth > kMaxDepth) {
    return Error::make("line " + std::to_string(node.Mark().line + 1) + ", column " +
                           std::to_string(node.Mark().column + 1) + ": nesting too deep",
                       "parse");
  }
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json::value(nullptr);
    case YAML::NodeType::Scalar:
      if (node.Tag() == "!") return json::value(node.Scalar());  // quoted
      return infer_scalar(node.Scalar());
    case YAML::NodeType::Sequence: {
      json::array a;
      for (const auto& child : node) {
        auto v = from_yaml(child, depth + 1);
        if (!v.ok()) return v;
        a.push_back(std::move(v.value()));
      }
      return json::value(std::move(a));
    }
    case YAML::NodeType::Map: {
      json::object o;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Error::make("line " + std::to_string(kv.first.Mark().line + 1) + ", column " +
                                 std::to_string(kv.first.Mark().column + 1) +
                                 ": mapping keys must be strings",
                             "parse");
        }
        auto v = from_yaml(kv.second, depth + 1);
        if (!v.ok()) return v;
        o[kv.first.Scalar()] = std::move(v.value());
      }
      return json::value(std::move(o));
    }
  }
  return json::value(nullptr);
}

Result<json::value> parse_json(std::string_view text) {
  json::stream_parser p;
  boost::system::error_code ec;
  std::size_t n = p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) {
    std::size_t line = 1, col = 1;
    for (std::size_t i = 0; i < n && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return Error::make("line " + std::to_string(line) + ", column " + std::to_string(col) +
                           ": invalid JSON: " + ec.message(),
                       "parse");
  }
  return p.release();
}

// Deterministic ids for entities that carry none, so that loading the same file twice gives
// the same configuration (and the same configuration_hash), as Kong's DB-less mode does.
std::string stable_uuid(std::string_view seed) {
  std::string h = md5_hex(seed);
  h[12] = '3';  // version 3 (name-based, MD5)
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[std::strtol(std::string(1, h[16]).c_str(), nullptr, 16) & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// A foreign reference in declarative form: "name-or-id" or {"id"/"name": ...}.
json::value normalize_ref(const json::value& v, std::string_view key_name) {
  if (v.is_string()) {
    if (is_uuid(v.as_string())) return json::object{{"id", v}};
    return json::object{{key_name, v}};
  }
  return v;
}

struct Pending {
  Path path;
  json::object entity;
  Kind kind;
  // Nested entities whose parent failed are checked on their own, without the parent link.
  bool orphan = false;
};

class Loader {
 public:
  explicit Loader(const LoadOptions& options) : options_(options) {}

  void error(const Path& path, std::string message) { errors_.add(path, std::move(message)); }

  Result<Config> run(const json::value& doc, std::vector<std::string>* lines) {
    if (!doc.is_object()) {
      error({}, "expected an object (a map) at the top level");
    } else {
      walk(doc.as_object());
    }
    {
      for (Kind k :
           {Kind::kServices, Kind::kRoutes, Kind::kConsumers, Kind::kPlugins, Kind::kJwtSecrets}) {
        // Each phase after its parents, so that references by name resolve.
        for (std::size_t i = 0; i < pending_.size(); ++i) {
          Pending& p = pending_[i];
          if (p.kind != k) continue;
          auto parent = parents_.find(i);
          if (parent != parents_.end() && failed_.count(parent->second)) {
            // The parent is already reported; check the child on its own so its own
            // mistakes are reported too, without a second error about the missing parent.
            if (p.kind == Kind::kJwtSecrets) continue;
            for (const char* f : {"service", "route", "consumer"}) p.entity.erase(f);
          }
          if (!insert(p)) failed_.insert(i);
        }
      }
    }
    if (errors_.empty()) return std::move(config_);
    std::string msg = options_.source_name + ": declarative config is invalid (" +
                      std::to_string(errors_.list().size()) + " error" +
                      (errors_.list().size() == 1 ? "" : "s") + "):";
    for (const auto& e : errors_.list()) {
      std::string where = schema::bracketed(e.path);
      std::string line = (where.empty() ? std::string("@entity") : where) + ": " + e.message;
      msg += "\n  " + line;
      if (lines) lines->push_back(line);
    }
    return Error::make(std::move(msg), "declarative");
  }

 private:
  static Path child(const Path& p, std::string key, int index = -1) {
    Path c = p;
    c.push_back({std::move(key), -1});
    if (index >= 0) c.push_back({{}, index});
    return c;
  }

  const json::array* list(const json::object& o, const char* key, const Path& path) {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) return nullptr;
    if (!it->value().is_array()) {
      error(child(path, key), "expected an array");
      return nullptr;
    }
    return &it->value().as_array();
  }

  void walk(const json::object& doc) {
    auto fv = doc.find("_format_version");
    if (fv == doc.end()) {
      error(child({}, "_format_version"), "required field missing");
    } else if (!fv->value().is_string() ||
               (fv->value() != "3.0" && fv->value() != "2.1" && fv->value() != "1.1")) {
      error(child({}, "_format_version"), "expected one of: 1.1, 2.1, 3.0");
    }
    for (const auto& kv : doc) {
      std::string_view k = kv.key();
      if (k == "_format_version" || k == "_transform" || k == "_comment" || k == "_workspace" ||
          k == "_info" || k == "services" || k == "routes" || k == "consumers" || k == "plugins" ||
          k == "jwt_secrets") {
        continue;
      }
      error(child({}, std::string(k)), "unknown field");
    }
    if (auto* services = list(doc, "services", {})) {
      for (std::size_t i = 0; i < services->size(); ++i) {
        service(child({}, "services", static_cast<int>(i)), (*services)[i]);
      }
    }
    if (auto* routes = list(doc, "routes", {})) {
      for (std::size_t i = 0; i < routes->size(); ++i) {
        route(child({}, "routes", static_cast<int>(i)), (*routes)[i], nullptr);
      }
    }
    if (auto* consumers = list(doc, "consumers", {})) {
      for (std::size_t i = 0; i < consumers->size(); ++i) {
        consumer(child({}, "consumers", static_cast<int>(i)), (*consumers)[i]);
      }
    }
    if (auto* plugins = list(doc, "plugins", {})) {
      for (std::size_t i = 0; i < plugins->size(); ++i) {
        plugin(child({}, "plugins", static_cast<int>(i)), (*plugins)[i], nullptr, {});
      }
    }
    if (auto* jwts = list(doc, "jwt_secrets", {})) {
      for (std::size_t i = 0; i < jwts->size(); ++i) {
        jwt(child({}, "jwt_secrets", static_cast<int>(i)), (*jwts)[i], nullptr);
      }
    }
  }

  // Gives the entity an id now, so nested children can refer to it before it is inserted.
  std::optional<json::object> entity(const Path& path, const json::value& v, Kind kind) {
    if (!v.is_object()) {
      error(path, "expected a record");
      return std::nullopt;
    }
    json::object o = v.as_object();
    auto id = o.find("id");
    if (id == o.end() || id->value().is_null()) {
      std::string seed(entities::kind_name(kind));
      auto key = o.find(entities::endpoint_key(kind));
      if (key != o.end() && key->value().is_string()) {
        seed += ":" + std::string(key->value().as_string());
      } else {
        seed += "@" + schema::bracketed(path);
      }
      o["id"] = stable_uuid(seed);
    }
    return o;
  }

  json::object take(json::object& o, const char* key, json::array* out) {
    auto it = o.find(key);
    if (it != o.end()) {
      if (it->value().is_array()) *out = it->value().as_array();
      o.erase(it);
    }
    return o;
  }

  void service(const Path& path, const json::value& v) {
    auto o = entity(path, v, Kind::kServices);
    if (!o) return;
    json::array routes, plugins;
    if (auto* r = list(*o, "routes", path)) routes = *r;
    if (auto* p = list(*o, "plugins", path)) plugins = *p;
    o->erase("routes");
    o->erase("plugins");
    json::value id = o->at("id");
    pending_.push_back({path, std::move(*o), Kind::kServices});
    std::size_t owner = pending_.size() - 1;
    for (std::size_t i = 0; i < routes.size(); ++i) {
      route(child(path, "routes", static_cast<int>(i)), routes[i], &id, owner);
    }
    for (std::size_t i = 0; i < plugins.size(); ++i) {
      plugin(child(path, "plugins", static_cast<int>(i)), plugins[i], "service", id, owner);
    }
  }

  void route(const Path& path, const json::value& v, const json::value* service_id,
             std::size_t owner = static_cast<std::size_t>(-1)) {
    auto o = entity(path, v, Kind::kRoutes);
    if (!o) return;
    json::array plugins;
    if (auto* p = list(*o, "plugins", path)) plugins = *p;
    o->erase("plugins");
    if (service_id) {
      (*o)["service"] = json::object{{"id", *service_id}};
    } else if (auto s = o->find("service"); s != o->end()) {
      s->value() = normalize_ref(s->value(), "name");
    }
    json::value id = o->at("id");
    pending_.push_back({path, std::move(*o), Kind::kRoutes});
    parents_[pending_.size() - 1] = owner;
    std::size_t self = pending_.size() - 1;
    for (std::size_t i = 0; i < plugins.size(); ++i) {
      plugin(child(path, "plugins", static_cast<int>(i)), plugins[i], "route", id, self);
    }
  }

  void consumer(const Path& path, const json::value& v) {
    auto o = entity(path, v, Kind::kConsumers);
    if (!o) return;
    json::array plugins, jwts;
    if (auto* p = list(*o, "plugins", path)) plugins = *p;
    if (auto* j = list(*o, "jwt_secrets", path)) jwts = *j;
    o->erase("plugins");
    o->erase("jwt_secrets");
    json::value id = o->at("id");
    pending_.push_back({path, std::move(*o), Kind::kConsumers});
    std::size_t self = pending_.size() - 1;
    for (std::size_t i = 0; i < plugins.size(); ++i) {
      plugin(child(path, "plugins", static_cast<int>(i)), plugins[i], "consumer", id, self);
    }
    for (std::size_t i = 0; i < jwts.size(); ++i) {
      jwt(child(path, "jwt_secrets", static_cast<int>(i)), jwts[i], &id, self);
    }
  }

  void plugin(const Path& path, const json::value& v, const char* owner_field, json::value owner_id,
              std::size_t owner = static_cast<std::size_t>(-1)) {
    auto o = entity(path, v, Kind::kPlugins);
    if (!o) return;
    for (const char* f : {"service", "route", "consumer"}) {
      auto it = o->find(f);
      if (it != o->end())
        it->value() =
            normalize_ref(it->value(), f == std::string("consumer") ? "username" : "name");
    }
    if (owner_field) (*o)[owner_field] = json::object{{"id", owner_id}};
    pending_.push_back({path, std::move(*o), Kind::kPlugins});
    parents_[pending_.size() - 1] = owner;
  }

  void jwt(const Path& path, const json::value& v, const json::value* consumer_id,
           std::size_t owner = static_cast<std::size_t>(-1)) {
    auto o = entity(path, v, Kind::kJwtSecrets);
    if (!o) return;
    if (consumer_id) {
      (*o)["consumer"] = json::object{{"id", *consumer_id}};
    } else if (auto c = o->find("consumer"); c != o->end()) {
      c->value() = normalize_ref(c->value(), "username");
    }
    pending_.push_back({path, std::move(*o), Kind::kJwtSecrets});
    parents_[pending_.size() - 1] = owner;
  }

  bool insert(Pending& p) {
    entities::WriteContext ctx;
    ctx.now_s = options_.now_s;
    auto r = entities::insert(config_, p.kind, p.entity, ctx);
    if (r.ok()) return true;
    {
      const auto& flat = r.error().flat;
      if (flat.empty()) {
        error(p.path, r.error().message);
      } else {
        errors_.append(flat, p.path);
      }
    }
    return false;
  }

  LoadOptions options_;
  schema::Errors errors_;
  std::vector<Pending> pending_;
  std::map<std::size_t, std::size_t> parents_;
  std::set<std::size_t> failed_;
  Config config_;
};

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  json::value inferred = infer_scalar(s);
  if (!inferred.is_string()) return true;
  // Leading/trailing spaces and YAML indicators are left to yaml-cpp; these would otherwise
  // change meaning when read back.
  return s.front() == ' ' || s.back() == ' ';
}

void emit(YAML::Emitter& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out << YAML::Null;
      break;
    case json::kind::bool_:
      out << (v.as_bool() ? "true" : "false");
      break;
    case json::kind::int64:
      out << v.as_int64();
      break;
    case json::kind::uint64:
      out << v.as_uint64();
      break;
    case json::kind::double_:
      out << json::serialize(v);
      break;
    case json::kind::string: {
      std::string s(v.as_string());
      if (needs_quotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case json::kind::array:
      if (v.as_array().empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& e : v.as_array()) emit(out, e);
      out << YAML::EndSeq;
      break;
    case json::kind::object:
      if (v.as_object().empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (const auto& kv : v.as_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        emit(out, kv.value());
      }
      out << YAML::EndMap;
      break;
  }
}

json::object strip(const json::object& o, std::initializer_list<const char*> drop = {}) {
  json::object out;
  for (const auto& kv : o) {
    if (kv.value().is_null()) continue;
    bool dropped = false;
    for (const char* d : drop) dropped = dropped || kv.key() == d;
    if (!dropped) out[kv.key()] = kv.value();
  }
  return out;
}

}  // namespace

Result<json::value> parse_text(std::string_view text) {
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
    auto j = parse_json(text);
    if (j.ok()) return j;
    // Flow-style YAML also starts with '{': fall through and let the YAML parser decide.
  }
  try {
    YAML::Node node = YAML::Load(std::string(text));
    return from_yaml(node, 0);
  } catch (const YAML::Exception& e) {
    return Error::make("line " + std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg,
                       "parse");
  } catch (const std::exception& e) {
    return Error::make(std::string("cannot parse: ") + e.what(), "parse");
  }
}

Result<Config> load_document(const json::value& document, const LoadOptions& options,
                             std::vector<std::string>* error_lines) {
  Loader loader(options);
  return loader.run(document, error_lines);
}

Result<Config> load(std::string_view text, const LoadOptions& options,
                    std::vector<std::string>* error_lines) {
  auto doc = parse_text(text);
  if (!doc.ok()) {
    if (error_lines) error_lines->push_back(doc.error().message);
    return Error::make(options.source_name + ": " + doc.error().message, "parse");
  }
  return load_document(doc.value(), options, error_lines);
}

json::object to_document(const Config& config) {
  json::object doc;
  doc["_format_version"] = "3.0";
  auto owner_only = [](const json::object& p, const char* field) {
    for (const char* f : {"service", "route", "consumer"}) {
      bool set = !p.at(f).is_null();
      if ((f == std::string(field)) != set) return false;
    }
    return true;
  };
  auto plugins_of = [&](const json::value& id, const char* field) {
    json::array out;
    json::value ref = json::object{{"id", id}};
    for (const auto& p : config.plugins) {
      if (owner_only(p, field) && p.at(field) == ref) out.push_back(strip(p, {field}));
    }
    return out;
  };
  auto route_doc = [&](const json::object& r, bool nested) {
    json::object o = strip(r, {"service"});
    if (!nested && !r.at("service").is_null()) o["service"] = r.at("service").at("id");
    json::array plugins = plugins_of(r.at("id"), "route");
    if (!plugins.empty()) o["plugins"] = std::move(plugins);
    return o;
  };
  json::array services;
  for (const auto& s : config.services) {
    json::object o = strip(s);
    json::array routes;
    json::value ref = json::object{{"id", s.at("id")}};
    for (const auto& r : config.routes) {
      if (r.at("service") == ref) routes.push_back(route_doc(r, true));
    }
    if (!routes.empty()) o["routes"] = std::move(routes);
    json::array plugins = plugins_of(s.at("id"), "service");
    if (!plugins.empty()) o["plugins"] = std::move(plugins);
    services.push_back(std::move(o));
  }
  if (!services.empty()) doc["services"] = std::move(services);
  json::array routes;
  for (const auto& r : config.routes) {
    if (r.at("service").is_null()) routes.push_back(route_doc(r, false));
  }
  if (!routes.empty()) doc["routes"] = std::move(routes);
  json::array consumers;
  for (const auto& c : config.consumers) {
    json::object o = strip(c);
    json::value ref = json::object{{"id", c.at("id")}};
    json::array jwts;
    for (const auto& j : config.jwt_secrets) {
      if (j.at("consumer") == ref) jwts.push_back(strip(j, {"consumer"}));
    }
    if (!jwts.empty()) o["jwt_secrets"] = std::move(jwts);
    json::array plugins = plugins_of(c.at("id"), "consumer");
    if (!plugins.empty()) o["plugins"] = std::move(plugins);
    consumers.push_back(std::move(o));
  }
  if (!consumers.empty()) doc["consumers"] = std::move(consumers);
  json::array plugins;
  for (const auto& p : config.plugins) {
    int owners = 0;
    for (const char* f : {"service", "route", "consumer"}) owners += p.at(f).is_null() ? 0 : 1;
    if (owners == 1) continue;
    json::object o = strip(p, {"service", "route", "consumer"});
    for (const char* f : {"service", "route", "consumer"}) {
      if (!p.at(f).is_null()) o[f] = p.at(f).at("id");
    }
    plugins.push_back(std::move(o));
  }
  if (!plugins.empty()) doc["plugins"] = std::move(plugins);
  return doc;
}

std::string export_json(const Config& config) { return json::serialize(to_document(config)); }

std::string export_yaml(const Config& config) {
  YAML::Emitter out;
  emit(out, to_document(config));
  return std::string(out.c_str()) + "\n";
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

}  // namespace suoke::gateway::declarative
