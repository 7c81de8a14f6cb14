#include "gateway/entities/entities.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/regex.hpp>
#include <map>

#include "core/uuid.h"
#include "gateway/plugins/registry.h"

namespace suoke::gateway::entities {
namespace {

using schema::Errors;
using schema::FieldRef;
using schema::Path;

constexpr std::size_t npos = static_cast<std::size_t>(-1);

Path field_path(std::string name) { return Path{{std::move(name), -1}}; }

std::optional<std::string> check_uuid(const json::value& v) {
  if (!is_uuid(v.as_string())) return std::string("expected a valid UUID");
  return std::nullopt;
}

// typedefs.utf8_name: any UTF-8, but ASCII restricted to alphanumerics and ".-_~".
std::optional<std::string> check_utf8_name(const json::value& v) {
  std::string_view s = v.as_string();
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) continue;
    if (!(std::isalnum(u) || c == '.' || c == '-' || c == '_' || c == '~')) {
      return "invalid value '" + std::string(s) +
             "': the only accepted ascii characters are alphanumerics or ., -, _, and ~";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_service_path(const json::value& v) {
  std::string_view s = v.as_string();
  if (s.empty() || s[0] != '/') return std::string("should start with: /");
  if (s.find("//") != std::string_view::npos) return std::string("must not have empty segments");
  return std::nullopt;
}

std::optional<std::string> check_router_path(const json::value& v) {
  std::string_view s = v.as_string();
  if (s.empty() || (s[0] != '/' && s[0] != '~')) {
    return std::string("should start with: / (fixed path) or ~/ (regex path)");
  }
  if (s[0] == '~') {
    try {
      boost::regex re(std::string(s.substr(1)));
    } catch (const std::exception& e) {
      return "invalid regex: '" + std::string(s.substr(1)) + "' (PCRE returned: " + e.what() + ")";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_route_host(const json::value& v) {
  std::string host(v.as_string());
  std::string bare = host;
  if (auto colon = bare.rfind(':'); colon != std::string::npos &&
                                    bare.find(']') == std::string::npos &&
                                    bare.find(':') == colon) {
    std::string port = bare.substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit)) {
      return "invalid port number";
    }
    bare = bare.substr(0, colon);
  }
  auto stars = std::count(bare.begin(), bare.end(), '*');
  if (stars > 1) return std::string("invalid wildcard: must have at most one wildcard");
  if (stars == 1) {
    if (bare.rfind("*.", 0) == 0) {
      bare = bare.substr(2);
    } else if (bare.size() >= 2 && bare.compare(bare.size() - 2, 2, ".*") == 0) {
      bare = bare.substr(0, bare.size() - 2);
    } else {
      return std::string("invalid wildcard: must be placed at leftmost or rightmost label");
    }
  }
  if (!schema::valid_hostname(bare)) return "invalid hostname: " + host;
  return std::nullopt;
}

std::optional<std::string> check_method(const json::value& v) {
  std::string_view s = v.as_string();
  for (char c : s) {
    if (c < 'A' || c > 'Z') return "invalid value: " + std::string(s);
  }
  return std::nullopt;
}

FieldRef foreign(const char* key) {
  return schema::record()
      .field("id", schema::string().custom(check_uuid))
      .field(key, schema::string());
}

FieldRef id_field() { return schema::string().custom(check_uuid); }
FieldRef timestamp() { return schema::integer(); }

const schema::Field& entity_schema(Kind kind) {
  using namespace schema;
  static const FieldRef kServices =
      record()
          .field("id", id_field())
          .field("created_at", timestamp())
          .field("updated_at", timestamp())
          .field("name", string().custom(check_utf8_name))
          .field("retries", integer().def(5).between(0, 32767))
          .field("protocol", typedef_protocol().required().def("http"))
          .field("host", typedef_host().required())
          .field("port", typedef_port().required().def(80))
          .field("path", string().custom(check_service_path))
          .field("connect_timeout", integer().between(1, 2147483646).def(60000))
          .field("write_timeout", integer().between(1, 2147483646).def(60000))
          .field("read_timeout", integer().between(1, 2147483646).def(60000))
          .field("tags", typedef_tags())
          .field("client_certificate", foreign("name"))
          .field("tls_verify", boolean())
          .field("tls_verify_depth", integer().between(0, 64))
          .field("ca_certificates", array(string().custom(check_uuid)))
          .field("enabled", boolean().required().def(true));
  static const FieldRef kRoutes = [] {
    EntityCheck needs_matcher;
    needs_matcher.custom = [](const json::object& r) -> std::optional<std::string> {
      const json::value* protocols = lookup(r, "protocols");
      bool http = false;
      if (protocols && protocols->is_array()) {
        for (const auto& p : protocols->as_array()) http = http || p == "http" || p == "https";
      }
      if (!http) return std::nullopt;
      for (const char* f : {"methods", "hosts", "headers", "paths", "snis"}) {
        if (!is_empty(lookup(r, f))) return std::nullopt;
      }
      return std::string(
          "at least one of these fields must be non-empty: 'methods', 'hosts', 'headers', "
          "'paths', 'snis'");
    };
    EntityCheck snis;
    snis.error_field = "snis";
    snis.custom = [](const json::object& r) -> std::optional<std::string> {
      if (is_empty(lookup(r, "snis"))) return std::nullopt;
      const json::value* protocols = lookup(r, "protocols");
      if (protocols && protocols->is_array()) {
        for (const auto& p : protocols->as_array()) {
          if (p == "grpcs" || p == "https" || p == "tls" || p == "tls_passthrough" || p == "wss") {
            return std::nullopt;
          }
        }
      }
      return std::string(
          "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls', 'tls_passthrough', "
          "or 'wss'");
    };
    FieldRef ip_port = record().field("ip", string()).field("port", typedef_port());
    return record()
        .field("id", id_field())
        .field("created_at", timestamp())
        .field("updated_at", timestamp())
        .field("name", string().custom(check_utf8_name))
        .field("protocols",
               set(typedef_protocol()).required().len_min(1).def(json::array{"http", "https"}))
        .field("methods", set(string().custom(check_method)))
        .field("hosts", array(string().custom(check_route_host)))
        .field("paths", array(string().custom(check_router_path)))
        .field("headers", map(typedef_header_name(), array(string())))
        .field("https_redirect_status_code",
               integer().required().def(426).one_of({426, 301, 302, 307, 308}))
        .field("regex_priority", integer().def(0))
        .field("strip_path", boolean().required().def(true))
        .field("path_handling", string().def("v0").one_of({"v0", "v1"}))
        .field("preserve_host", boolean().required().def(false))
        .field("request_buffering", boolean().required().def(true))
        .field("response_buffering", boolean().required().def(true))
        .field("snis", set(string()))
        .field("sources", array(ip_port))
        .field("destinations", array(ip_port))
        .field("tags", typedef_tags())
        .field("service", foreign("name"))
        .check(needs_matcher)
        .check(snis)
        .build();
  }();
  static const FieldRef kConsumers = record()
                                         .field("id", id_field())
                                         .field("created_at", timestamp())
                                         .field("updated_at", timestamp())
                                         .field("username", string())
                                         .field("custom_id", string())
                                         .field("tags", typedef_tags())
                                         .check(at_least_one_of({"custom_id", "username"}));
  static const FieldRef kPlugins = record()
                                       .field("id", id_field())
                                       .field("name", string().required())
                                       .field("instance_name", string().custom(check_utf8_name))
                                       .field("created_at", timestamp())
                                       .field("updated_at", timestamp())
                                       .field("route", foreign("name"))
                                       .field("service", foreign("name"))
                                       .field("consumer", foreign("username"))
                                       .field("config", any())
                                       .field("protocols", typedef_protocols())
                                       .field("enabled", boolean().required().def(true))
                                       .field("tags", typedef_tags())
                                       .field("ordering", any());
  static const FieldRef kJwtSecrets =
      record()
          .field("id", id_field())
          .field("created_at", timestamp())
          .field("consumer", FieldBuilder(Field(*foreign("username"))).required())
          .field("key", string())
          .field("secret", string())
          .field("rsa_public_key", string())
          .field("algorithm", string().def("HS256").one_of(
                                  {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256",
                                   "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"}))
          .field("tags", typedef_tags());
  switch (kind) {
    case Kind::kServices:
      return *kServices;
    case Kind::kRoutes:
      return *kRoutes;
    case Kind::kConsumers:
      return *kConsumers;
    case Kind::kPlugins:
      return *kPlugins;
    case Kind::kJwtSecrets:
      return *kJwtSecrets;
  }
  return *kServices;
}

bool has_updated_at(Kind kind) { return kind != Kind::kJwtSecrets; }

std::string random_hex32() {
  std::string u = uuid_v4();
  u.erase(std::remove(u.begin(), u.end(), '-'), u.end());
  return u;
}

bool valid_public_key(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return false;
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return false;
  EVP_PKEY_free(key);
  return true;
}

// Kong's `url` shorthand (kong/db/schema/entities/services.lua).
void apply_url_shorthand(json::object& input, Errors& errors) {
  auto it = input.find("url");
  if (it == input.end()) return;
  json::value url = it->value();
  input.erase(it);
  if (url.is_null()) return;
  if (!url.is_string()) {
    errors.add(field_path("url"), "expected a string");
    return;
  }
  std::string s(url.as_string());
  std::string scheme, host, port, path;
  auto sep = s.find("://");
  std::string rest = s;
  if (sep != std::string::npos) {
    scheme = s.substr(0, sep);
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
    rest = s.substr(sep + 3);
    auto end = rest.find_first_of("/?#");
    std::string authority = rest.substr(0, end);
    rest = end == std::string::npos ? "" : rest.substr(end);
    if (auto at = authority.rfind('@'); at != std::string::npos)
      authority = authority.substr(at + 1);
    if (!authority.empty() && authority[0] == '[') {
      auto close = authority.find(']');
      host = authority.substr(0, close == std::string::npos ? authority.size() : close + 1);
      if (close != std::string::npos && close + 1 < authority.size() &&
          authority[close + 1] == ':') {
        port = authority.substr(close + 2);
      }
    } else {
      auto colon = authority.find(':');
      host = authority.substr(0, colon);
      if (colon != std::string::npos) port = authority.substr(colon + 1);
    }
  }
  path = rest.substr(0, rest.find_first_of("?#"));
  json::value port_value = nullptr;
  if (!port.empty()) {
    bool digits = std::all_of(port.begin(), port.end(), ::isdigit) && port.size() < 10;
    port_value = digits ? json::value(std::stoll(port)) : json::value(port);
  }
  std::string protocol = scheme;
  if (protocol.empty()) {
    protocol = port == "443" ? "https" : "http";
  }
  input["protocol"] = protocol;
  input["host"] = host.empty() ? json::value(nullptr) : json::value(host);
  if (port_value.is_null()) {
    port_value = protocol == "https" ? 443 : 80;
  }
  input["port"] = port_value;
  input["path"] = path.empty() ? json::value(nullptr) : json::value(path);
}

const char* foreign_reference(std::string_view field) {
  if (field == "service") return "services";
  if (field == "route") return "routes";
  if (field == "consumer") return "consumers";
  return "";
}

Kind reference_kind(std::string_view field) {
  if (field == "service") return Kind::kServices;
  if (field == "route") return Kind::kRoutes;
  return Kind::kConsumers;
}

std::vector<const char*> foreign_fields(Kind kind) {
  switch (kind) {
    case Kind::kRoutes:
      return {"service"};
    case Kind::kPlugins:
      return {"route", "service", "consumer"};
    case Kind::kJwtSecrets:
      return {"consumer"};
    default:
      return {};
  }
}

// Validates and normalizes one entity. `existing` is the stored version for PUT/PATCH.
DbResult<json::object> prepare(const Config& config, Kind kind, json::object input,
                               const json::object* existing, const WriteContext& ctx) {
  Errors errors;
  if (kind == Kind::kServices) apply_url_shorthand(input, errors);
  const plugins::PluginSchema* plugin = nullptr;
  if (kind == Kind::kPlugins) {
    auto name = input.find("name");
    if (name != input.end() && name->value().is_string()) {
      plugin = plugins::find_schema(name->value().as_string());
    }
    auto cfg = input.find("config");
    if (plugin && plugin->translate_shorthands && cfg != input.end() && cfg->value().is_object()) {
      plugin->translate_shorthands(cfg->value().as_object());
    }
  }
  if (kind == Kind::kJwtSecrets) {
    for (const char* f : {"key", "secret"}) {
      auto it = input.find(f);
      if (it == input.end() || it->value().is_null()) input[f] = random_hex32();
    }
  }
  auto absent = [&](const char* f) {
    auto it = input.find(f);
    return it == input.end() || it->value().is_null();
  };
  if (absent("id"))
    input["id"] = existing ? json::value(existing->at("id")) : json::value(uuid_v4());
  if (absent("created_at")) {
    input["created_at"] = existing ? existing->at("created_at") : json::value(ctx.now_s);
  }
  if (has_updated_at(kind) && absent("updated_at")) input["updated_at"] = ctx.now_s;

  schema::Options options;
  options.coerce_strings = ctx.coerce_strings;
  json::value in(std::move(input));
  json::value normalized = schema::validate(entity_schema(kind), &in, {}, errors, options);
  if (!errors.empty() || !normalized.is_object()) return DbError::schema_violation(errors);
  json::object out = std::move(normalized.as_object());

  if (kind == Kind::kPlugins) {
    std::string name(out.at("name").as_string());
    if (!plugin) {
      errors.add(
          field_path("name"),
          "plugin '" + name + "' not enabled; add it to the 'plugins' configuration property");
      return DbError::schema_violation(errors);
    }
    json::value cfg = out.at("config");
    if (cfg.is_null()) cfg = json::object();
    out["config"] = schema::validate(*plugin->config, &cfg, field_path("config"), errors, options);
    if (plugin->no_consumer && !out.at("consumer").is_null()) {
      errors.add(field_path("consumer"), "value must be null");
    }
    if (errors.empty()) schema::run_entity_checks(plugin->entity_checks, out, {}, errors);
  }
  if (kind == Kind::kJwtSecrets) {
    std::string alg(out.at("algorithm").as_string());
    if (alg[0] == 'R' || alg[0] == 'E' || alg[0] == 'P') {
      const json::value& pem = out.at("rsa_public_key");
      if (pem.is_null()) {
        errors.add(field_path("rsa_public_key"), "required field missing");
      } else if (!valid_public_key(pem.as_string())) {
        errors.add(field_path("rsa_public_key"), "invalid key");
      }
    }
  }
  if (!errors.empty()) return DbError::schema_violation(errors);

  // Foreign keys: {"id"} must exist, {"name"} must resolve; both end up as {"id"}.
  Errors unresolved;
  json::object unresolved_fields;
  for (const char* f : foreign_fields(kind)) {
    json::value& ref = out[f];
    if (!ref.is_object()) continue;
    json::object& obj = ref.as_object();
    Kind target = reference_kind(f);
    const json::value* id = schema::lookup(obj, "id");
    if (id && !id->is_null()) {
      if (config.find_by_id(target, id->as_string()) == npos) {
        DbError e;
        e.code = 4;
        e.name = "foreign key violation";
        json::object key{{"id", *id}};
        e.message = "the foreign key '" + lua_pretty(key) + "' does not reference an existing '" +
                    foreign_reference(f) + "' entity.";
        e.fields[f] = key;
        e.flat.add(Path{{f, -1}, {"id", -1}}, e.message);
        return e;
      }
      ref = json::object{{"id", *id}};
      continue;
    }
    std::string key_name(endpoint_key(target));
    const json::value* key = schema::lookup(obj, key_name);
    if (!key || key->is_null()) {
      ref = nullptr;
      continue;
    }
    std::size_t pos = npos;
    const auto& list = config.of(target);
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (list[i].at(key_name) == *key) pos = i;
    }
    if (pos == npos) {
      std::string msg = "the foreign key cannot be resolved with '" +
                        lua_pretty(json::object{{key_name, *key}}) + "' for an existing '" +
                        foreign_reference(f) + "' entity";
      unresolved_fields[f] = json::object{{key_name, msg}};
      unresolved.add(Path{{f, -1}, {key_name, -1}}, msg);
      continue;
    }
    ref = json::object{{"id", config.of(target)[pos].at("id")}};
  }
  if (!unresolved.empty()) {
    DbError e;
    e.code = 13;
    e.name = "foreign keys unresolved";
    std::vector<std::string> parts;
    for (const auto& fe : unresolved.list())
      parts.push_back(schema::dotted(fe.path) + ": " + fe.message);
    std::sort(parts.begin(), parts.end());
    std::string joined;
    for (const auto& p : parts) joined += (joined.empty() ? "" : "; ") + p;
    e.message = parts.size() == 1
                    ? "foreign key unresolved (" + joined + ")"
                    : std::to_string(parts.size()) + " foreign keys unresolved (" + joined + ")";
    e.fields = unresolved_fields;
    e.flat = unresolved;
    return e;
  }

  // Unique fields, ignoring the entity being replaced.
  const std::string self_id(out.at("id").as_string());
  auto unique_error = [&](json::object key) {
    DbError e;
    e.http_status = 409;
    e.code = 5;
    e.name = "unique constraint violation";
    e.message = "UNIQUE violation detected on '" + lua_pretty(key) + "'";
    for (const auto& kv : key) e.flat.add(Path{{std::string(kv.key()), -1}}, e.message);
    e.fields = std::move(key);
    return e;
  };
  std::vector<const char*> uniques;
  switch (kind) {
    case Kind::kServices:
      uniques = {"name"};
      break;
    case Kind::kRoutes:
      uniques = {"name"};
      break;
    case Kind::kConsumers:
      uniques = {"username", "custom_id"};
      break;
    case Kind::kPlugins:
      uniques = {"instance_name"};
      break;
    case Kind::kJwtSecrets:
      uniques = {"key"};
      break;
  }
  for (const auto& other : config.of(kind)) {
    if (other.at("id").as_string() == self_id) continue;
    for (const char* u : uniques) {
      const json::value& mine = out.at(u);
      if (!mine.is_null() && other.at(u) == mine) return unique_error(json::object{{u, mine}});
    }
    if (kind == Kind::kPlugins) {
      bool same = true;
      for (const char* f : {"name", "route", "service", "consumer"})
        same = same && other.at(f) == out.at(f);
      if (same) {
        return unique_error(json::object{{"consumer", out.at("consumer")},
                                         {"name", out.at("name")},
                                         {"route", out.at("route")},
                                         {"service", out.at("service")}});
      }
    }
  }
  if (kind == Kind::kPlugins && out.at("config").is_object()) {
    // Stored configs are canonical: deprecated shorthands never persist.
  }
  return out;
}

void deep_merge(json::object& base, const json::object& patch) {
  for (const auto& kv : patch) {
    auto it = base.find(kv.key());
    if (it != base.end() && it->value().is_object() && kv.value().is_object()) {
      deep_merge(it->value().as_object(), kv.value().as_object());
    } else {
      base[kv.key()] = kv.value();
    }
  }
}

}  // namespace

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kServices:
      return "services";
    case Kind::kRoutes:
      return "routes";
    case Kind::kConsumers:
      return "consumers";
    case Kind::kPlugins:
      return "plugins";
    case Kind::kJwtSecrets:
      return "jwt_secrets";
  }
  return "";
}

std::string_view endpoint_key(Kind kind) {
  switch (kind) {
    case Kind::kServices:
    case Kind::kRoutes:
      return "name";
    case Kind::kConsumers:
      return "username";
    case Kind::kPlugins:
      return "instance_name";
    case Kind::kJwtSecrets:
      return "key";
  }
  return "";
}

std::vector<json::object>& Config::of(Kind kind) {
  switch (kind) {
    case Kind::kServices:
      return services;
    case Kind::kRoutes:
      return routes;
    case Kind::kConsumers:
      return consumers;
    case Kind::kPlugins:
      return plugins;
    case Kind::kJwtSecrets:
      return jwt_secrets;
  }
  return services;
}

const std::vector<json::object>& Config::of(Kind kind) const {
  return const_cast<Config*>(this)->of(kind);
}

std::size_t Config::find_by_id(Kind kind, std::string_view id) const {
  const auto& list = of(kind);
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i].at("id").as_string() == id) return i;
  }
  return npos;
}

std::size_t Config::find(Kind kind, std::string_view key) const {
  if (is_uuid(key)) return find_by_id(kind, key);
  const auto& list = of(kind);
  std::string field(endpoint_key(kind));
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json::value& v = list[i].at(field);
    if (v.is_string() && v.as_string() == key) return i;
  }
  return npos;
}

bool Config::empty() const {
  return services.empty() && routes.empty() && consumers.empty() && plugins.empty() &&
         jwt_secrets.empty();
}

json::object DbError::body() const {
  json::object b;
  if (code == 0) {
    b["message"] = message;
    return b;
  }
  b["code"] = code;
  b["name"] = name;
  b["message"] = message;
  b["fields"] = fields;
  return b;
}

DbError DbError::schema_violation(const schema::Errors& errors) {
  DbError e;
  e.code = 2;
  e.name = "schema violation";
  e.message = schema::schema_violation_message(errors);
  e.fields = schema::errors_to_fields(errors);
  e.flat = errors;
  return e;
}

DbError DbError::not_found() {
  DbError e;
  e.http_status = 404;
  e.code = 0;
  e.message = "Not found";
  return e;
}

DbResult<json::object> insert(Config& config, Kind kind, json::object input,
                              const WriteContext& ctx) {
  auto id = input.find("id");
  if (id != input.end() && id->value().is_string() &&
      config.find_by_id(kind, id->value().as_string()) != npos) {
    DbError e;
    e.code = 3;
    e.name = "primary key violation";
    json::object key{{"id", id->value()}};
    e.message = "primary key violation on key '" + lua_pretty(key) + "'";
    e.fields = key;
    e.flat.add(field_path("id"), e.message);
    return e;
  }
  auto prepared = prepare(config, kind, std::move(input), nullptr, ctx);
  if (!prepared.ok()) return prepared;
  config.of(kind).push_back(prepared.value());
  return prepared;
}

DbResult<json::object> update(Config& config, Kind kind, std::string_view key, json::object patch,
                              const WriteContext& ctx) {
  std::size_t pos = config.find(kind, key);
  if (pos == npos) return DbError::not_found();
  json::object existing = config.of(kind)[pos];
  json::object merged = existing;
  // Kong merges nested records (a plugin's config) and replaces everything else.
  for (const auto& kv : patch) {
    auto it = merged.find(kv.key());
    if (kv.key() == "config" && it != merged.end() && it->value().is_object() &&
        kv.value().is_object()) {
      deep_merge(it->value().as_object(), kv.value().as_object());
    } else {
      merged[kv.key()] = kv.value();
    }
  }
  merged["id"] = existing.at("id");
  if (has_updated_at(kind)) merged.erase("updated_at");
  if (patch.find("created_at") == patch.end()) merged["created_at"] = existing.at("created_at");
  auto prepared = prepare(config, kind, std::move(merged), &existing, ctx);
  if (!prepared.ok()) return prepared;
  config.of(kind)[pos] = prepared.value();
  return prepared;
}

DbResult<json::object> upsert(Config& config, Kind kind, std::string_view key, json::object input,
                              const WriteContext& ctx) {
  std::size_t pos = config.find(kind, key);
  if (pos == npos) {
    if (is_uuid(key)) {
      input["id"] = std::string(key);
    } else {
      input[endpoint_key(kind)] = std::string(key);
    }
    return insert(config, kind, std::move(input), ctx);
  }
  json::object existing = config.of(kind)[pos];
  input["id"] = existing.at("id");
  if (!is_uuid(key)) input[endpoint_key(kind)] = std::string(key);
  if (input.find("created_at") == input.end()) input["created_at"] = existing.at("created_at");
  auto prepared = prepare(config, kind, std::move(input), &existing, ctx);
  if (!prepared.ok()) return prepared;
  config.of(kind)[pos] = prepared.value();
  return prepared;
}

DbResult<bool> remove(Config& config, Kind kind, std::string_view key) {
  std::size_t pos = config.find(kind, key);
  if (pos == npos) return false;
  json::value id = config.of(kind)[pos].at("id");
  json::value ref = json::object{{"id", id}};
  if (kind == Kind::kServices) {
    for (const auto& r : config.routes) {
      if (r.at("service") == ref) {
        DbError e;
        e.code = 4;
        e.name = "foreign key violation";
        e.message = "an existing 'routes' entity references this 'services' entity";
        e.fields["@referenced_by"] = "routes";
        e.flat.add(field_path("@referenced_by"), e.message);
        return e;
      }
    }
  }
  auto drop = [&](std::vector<json::object>& list, const char* field) {
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const json::object& o) { return o.at(field) == ref; }),
               list.end());
  };
  if (kind == Kind::kServices) drop(config.plugins, "service");
  if (kind == Kind::kRoutes) drop(config.plugins, "route");
  if (kind == Kind::kConsumers) {
    drop(config.plugins, "consumer");
    drop(config.jwt_secrets, "consumer");
  }
  auto& list = config.of(kind);
  list.erase(list.begin() + static_cast<std::ptrdiff_t>(config.find_by_id(kind, id.as_string())));
  return true;
}

json::object present(Kind kind, const json::object& stored) {
  if (kind != Kind::kPlugins) return stored;
  json::object out = stored;
  auto name = out.find("name");
  auto cfg = out.find("config");
  if (name == out.end() || cfg == out.end() || !cfg->value().is_object()) return out;
  const plugins::PluginSchema* s = plugins::find_schema(name->value().as_string());
  if (s && s->add_deprecated_fields) s->add_deprecated_fields(cfg->value().as_object());
  return out;
}

std::string lua_pretty(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::string:
      return "\"" + std::string(v.as_string()) + "\"";
    case json::kind::object: {
      std::map<std::string, const json::value*> sorted;
      for (const auto& kv : v.as_object()) sorted[std::string(kv.key())] = &kv.value();
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : sorted) {
        if (!first) out += ",";
        first = false;
        out += k + "=" + lua_pretty(*val);
      }
      return out + "}";
    }
    case json::kind::array: {
      std::string out = "{";
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out += ",";
        first = false;
        out += lua_pretty(e);
      }
      return out + "}";
    }
    default:
      return json::serialize(v);
  }
}

}  // namespace suoke::gateway::entities
