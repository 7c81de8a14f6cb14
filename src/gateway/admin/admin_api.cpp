#include "gateway/admin/admin_api.h"

#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cctype>
#include <mutex>
#include <set>

#include "core/uuid.h"
#include "gateway/admin/body.h"
#include "gateway/declarative/declarative.h"
#include "gateway/plugins/registry.h"

namespace suoke::gateway::admin {
namespace {

namespace json = boost::json;
using entities::Config;
using entities::DbError;
using entities::DbResult;
using entities::Kind;

constexpr std::size_t kNpos = static_cast<std::size_t>(-1);
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

http::Response json_response(int status, const json::value& body) {
  return http::Response::json(status, json::serialize(body));
}

http::Response message(int status, std::string text) {
  return json_response(status, json::object{{"message", std::move(text)}});
}

http::Response not_found() { return message(404, "Not found"); }
http::Response method_not_allowed() { return message(405, "Method not allowed"); }

http::Response db_error(const DbError& e) { return json_response(e.http_status, e.body()); }

std::string base64(std::string_view in) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kTable[n >> 18];
    out += kTable[(n >> 12) & 63];
    out += kTable[(n >> 6) & 63];
    out += kTable[n & 63];
  }
  if (i < in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    if (i + 1 < in.size()) n |= uint8_t(in[i + 1]) << 8;
    out += kTable[n >> 18];
    out += kTable[(n >> 12) & 63];
    out += i + 1 < in.size() ? kTable[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+' || c == '-')
      v = 62;
    else if (c == '/' || c == '_')
      v = 63;
    else if (c == '=')
      break;
    else
      return std::nullopt;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xFF);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    out.emplace_back(url_decode(pair.substr(0, eq), true),
                     eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1), true));
  }
  return out;
}

std::optional<std::string> query_param(const std::vector<std::pair<std::string, std::string>>& q,
                                       std::string_view name) {
  for (const auto& [k, v] : q) {
    if (k == name) return v;
  }
  return std::nullopt;
}

json::value id_ref(const json::object& entity) { return json::object{{"id", entity.at("id")}}; }

// A list endpoint's scope: entities whose `field` references `parent`.
struct Scope {
  const char* field = nullptr;
  json::value ref;
};

bool in_scope(const json::object& e, const Scope& scope) {
  return !scope.field || e.at(scope.field) == scope.ref;
}

bool has_tags(const json::object& e, const std::string& filter) {
  // Kong: "a,b" means all of them, "a/b" any of them.
  bool any_mode = filter.find('/') != std::string::npos;
  std::vector<std::string> wanted;
  std::string cur;
  for (char c : filter) {
    if (c == ',' || c == '/') {
      wanted.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  wanted.push_back(cur);
  std::set<std::string> tags;
  const json::value& t = e.at("tags");
  if (t.is_array()) {
    for (const auto& v : t.as_array()) {
      if (v.is_string()) tags.insert(std::string(v.as_string()));
    }
  }
  bool all = true, some = false;
  for (const auto& w : wanted) {
    bool has = tags.count(w) > 0;
    all = all && has;
    some = some || has;
  }
  return any_mode ? some : all;
}

}  // namespace

struct AdminApi::Impl {
  store::ConfigStore& store;
  StatusProvider status;
  std::string node_id = uuid_v4();
  json::object configuration;
  std::mutex config_mutex;

  Impl(store::ConfigStore& s, StatusProvider p) : store(s), status(std::move(p)) {}

  entities::WriteContext ctx(bool form) const {
    entities::WriteContext c;
    c.now_s = store.now_s();
    c.coerce_strings = form;
    return c;
  }

  http::Response created_or(int status, DbResult<json::object> r, Kind kind) {
    if (!r.ok()) return db_error(r.error());
    return json_response(status, entities::present(kind, r.value()));
  }

  http::Response list(const http::Request& req, Kind kind, const Scope& scope, std::string base) {
    auto q = parse_query(req.query());
    int size = kDefaultPageSize;
    if (auto s = query_param(q, "size")) {
      char* end = nullptr;
      long n = std::strtol(s->c_str(), &end, 10);
      if (s->empty() || *end != '\0') {
        return json_response(
            400, json::object{
                     {"code", 9}, {"name", "invalid size"}, {"message", "size must be a number"}});
      }
      if (n < 1 || n > kMaxPageSize) {
        return json_response(400,
                             json::object{{"code", 9},
                                          {"name", "invalid size"},
                                          {"message", "size must be an integer between 1 and " +
                                                          std::to_string(kMaxPageSize)}});
      }
      size = static_cast<int>(n);
    }
    Config config = store.config();
    std::vector<const json::object*> all;
    auto tags = query_param(q, "tags");
    for (const auto& e : config.of(kind)) {
      if (!in_scope(e, scope)) continue;
      if (tags && !has_tags(e, *tags)) continue;
      all.push_back(&e);
    }
    std::size_t start = 0;
    if (auto off = query_param(q, "offset"); off && !off->empty()) {
      auto id = unbase64(*off);
      start = kNpos;
      if (id) {
        for (std::size_t i = 0; i < all.size(); ++i) {
          if (all[i]->at("id").as_string() == *id) start = i;
        }
      }
      if (start == kNpos) {
        return json_response(
            400, json::object{{"code", 7},
                              {"name", "invalid offset"},
                              {"message", "'" + *off + "' is not a valid offset: " +
                                              (id ? "no such entity" : "bad base64 encoding")}});
      }
    }
    json::array data;
    std::size_t end = std::min(all.size(), start + static_cast<std::size_t>(size));
    for (std::size_t i = start; i < end; ++i) data.push_back(entities::present(kind, *all[i]));
    json::object body;
    body["data"] = std::move(data);
    if (end < all.size()) {
      std::string offset = base64(std::string(all[end]->at("id").as_string()));
      std::string next = base + "?offset=" + url_encode(offset);
      if (query_param(q, "size")) next += "&size=" + std::to_string(size);
      if (tags) next += "&tags=" + url_encode(*tags);
      body["offset"] = offset;
      body["next"] = next;
    } else {
      body["next"] = nullptr;
    }
    return json_response(200, body);
  }

  // POST to a collection; `scope` injects the parent reference of nested endpoints.
  http::Response create(const http::Request& req, Kind kind, const Scope& scope) {
    auto body = parse_body(req);
    if (!body) return message(400, "Cannot parse JSON body");
    json::object input = std::move(body->object);
    if (scope.field) input[scope.field] = scope.ref;
    auto c = ctx(body->form);
    auto r = store.write([&](Config& cfg) { return entities::insert(cfg, kind, input, c); });
    return created_or(201, std::move(r), kind);
  }

  // GET/PATCH/PUT/DELETE on one entity. `scope` restricts it to a parent (404 otherwise).
  http::Response entity(const http::Request& req, Kind kind, const std::string& key,
                        const Scope& scope) {
    const std::string& m = req.method;
    if (m == "GET") {
      Config cfg = store.config();
      std::size_t pos = cfg.find(kind, key);
      if (pos == kNpos || !in_scope(cfg.of(kind)[pos], scope)) return not_found();
      return json_response(200, entities::present(kind, cfg.of(kind)[pos]));
    }
    if (m == "DELETE") {
      auto r = store.write([&](Config& cfg) -> DbResult<json::object> {
        std::size_t pos = cfg.find(kind, key);
        if (pos == kNpos || !in_scope(cfg.of(kind)[pos], scope)) return json::object{};
        auto removed = entities::remove(cfg, kind, key);
        if (!removed.ok()) return removed.error();
        return json::object{};
      });
      if (!r.ok()) return db_error(r.error());
      http::Response resp;
      resp.status = 204;
      return resp;
    }
    if (m == "PATCH" || m == "PUT") {
      auto body = parse_body(req);
      if (!body) return message(400, "Cannot parse JSON body");
      json::object input = std::move(body->object);
      if (scope.field) input[scope.field] = scope.ref;
      auto c = ctx(body->form);
      bool patch = m == "PATCH";
      auto r = store.write([&](Config& cfg) -> DbResult<json::object> {
        std::size_t pos = cfg.find(kind, key);
        if (pos != kNpos && !in_scope(cfg.of(kind)[pos], scope)) return DbError::not_found();
        if (patch) return entities::update(cfg, kind, key, input, c);
        return entities::upsert(cfg, kind, key, input, c);
      });
      return created_or(200, std::move(r), kind);
    }
    return method_not_allowed();
  }

  http::Response collection(const http::Request& req, Kind kind, const Scope& scope,
                            const std::string& base) {
    if (req.method == "GET") return list(req, kind, scope, base);
    if (req.method == "POST") return create(req, kind, scope);
    return method_not_allowed();
  }

  http::Response root(const http::Request& req) {
    if (req.method != "GET") return method_not_allowed();
    char host[256] = {0};
    ::gethostname(host, sizeof host - 1);
    json::object available;
    json::object loaded;
    for (const auto* s : plugins::all_schemas()) {
      available[s->name] =
          json::object{{"version", plugins::kKongVersion}, {"priority", s->priority}};
      loaded[s->name] = true;
    }
    std::set<std::string> enabled;
    for (const auto& p : store.config().plugins)
      enabled.insert(std::string(p.at("name").as_string()));
    json::array enabled_list;
    for (const auto& n : enabled) enabled_list.push_back(json::value(n));
    json::object conf{{"database", "off"},
                      {"role", "traditional"},
                      {"router_flavor", "traditional_compatible"},
                      {"plugins", json::array{"bundled"}},
                      {"loaded_plugins", loaded}};
    {
      std::lock_guard<std::mutex> lock(config_mutex);
      for (const auto& kv : configuration) conf[kv.key()] = kv.value();
    }
    json::object body{{"version", plugins::kKongVersion},
                      {"edition", "community"},
                      {"tagline", "Welcome to kong"},
                      {"node_id", node_id},
                      {"hostname", host},
                      {"lua_version", "suoke (C++20)"},
                      {"configuration", conf},
                      {"plugins", json::object{{"available_on_server", available},
                                               {"enabled_in_cluster", enabled_list}}},
                      {"timers", json::object{{"running", 0}, {"pending", 0}}},
                      {"pids", json::object{{"master", static_cast<int64_t>(::getpid())},
                                            {"workers", json::array{}}}}};
    return json_response(200, body);
  }

  http::Response status_page(const http::Request& req) {
    if (req.method != "GET") return method_not_allowed();
    json::object server = status ? status() : json::object{};
    for (const char* k :
         {"connections_accepted", "connections_active", "connections_handled",
          "connections_reading", "connections_waiting", "connections_writing", "total_requests"}) {
      if (server.find(k) == server.end()) server[k] = 0;
    }
    json::object body{{"database", json::object{{"reachable", true}}},
                      {"server", server},
                      {"configuration_hash", store.snapshot()->configuration_hash}};
    return json_response(200, body);
  }

  http::Response config_endpoint(const http::Request& req) {
    if (req.method == "GET") {
      auto q = parse_query(req.query());
      auto format = query_param(q, "format");
      if (format && *format == "json") {
        return json_response(200, declarative::to_document(store.config()));
      }
      return json_response(200, json::object{{"config", store.export_declarative(true)}});
    }
    if (req.method != "POST") return method_not_allowed();
    // Kong accepts {"config": "<yaml or json text>"}, a form field `config`, or the
    // declarative document itself; we also take raw YAML.
    std::string ctype(req.header("Content-Type"));
    json::value document;
    std::string text;
    bool have_text = false;
    if (ctype.find("yaml") != std::string::npos) {
      text = req.body;
      have_text = true;
    } else {
      auto body = parse_body(req);
      if (!body) return message(400, "Cannot parse JSON body");
      auto it = body->object.find("config");
      if (it != body->object.end() && it->value().is_string()) {
        text = std::string(it->value().as_string());
        have_text = true;
      } else {
        document = std::move(body->object);
      }
    }
    if (have_text) {
      auto parsed = declarative::parse_text(text);
      if (!parsed.ok()) {
        return json_response(400, json::object{{"code", 14},
                                               {"name", "invalid declarative configuration"},
                                               {"message", parsed.error().message},
                                               {"fields", json::object{}}});
      }
      document = std::move(parsed.value());
    }
    std::vector<std::string> lines;
    auto loaded = store.load_declarative_document(document, "config", &lines);
    if (!loaded.ok()) {
      if (loaded.error().kind == "io") return message(500, loaded.error().message);
      json::object fields;
      json::array flat;
      for (const auto& l : lines) {
        auto sep = l.find(": ");
        fields[l.substr(0, sep)] = sep == std::string::npos ? l : l.substr(sep + 2);
        flat.push_back(json::value(l));
      }
      return json_response(400, json::object{{"code", 14},
                                             {"name", "invalid declarative configuration"},
                                             {"message", loaded.error().message},
                                             {"fields", fields},
                                             {"flattened_errors", flat}});
    }
    return json_response(201, declarative::to_document(store.config()));
  }

  // Resolves a parent entity for nested endpoints; nullopt when it does not exist.
  std::optional<json::object> parent(Kind kind, const std::string& key) {
    Config cfg = store.config();
    std::size_t pos = cfg.find(kind, key);
    if (pos == kNpos) return std::nullopt;
    return cfg.of(kind)[pos];
  }

  http::Response dispatch(const http::Request& req) {
    std::vector<std::string> seg;
    std::string_view path = req.path();
    while (!path.empty()) {
      auto slash = path.find('/');
      std::string_view s = path.substr(0, slash);
      if (!s.empty()) seg.push_back(url_decode(s, false));
      if (slash == std::string_view::npos) break;
      path = path.substr(slash + 1);
    }
    const std::size_t n = seg.size();
    if (n == 0) return root(req);
    const std::string& top = seg[0];
    if (top == "status" && n == 1) return status_page(req);
    if (top == "config" && n == 1) return config_endpoint(req);

    auto nested = [&](Kind parent_kind, const std::string& key, const char* field, Kind child,
                      const std::string& base) -> http::Response {
      auto p = parent(parent_kind, key);
      if (!p) return not_found();
      Scope scope{field, id_ref(*p)};
      if (n == 3) return collection(req, child, scope, base);
      return entity(req, child, seg[3], scope);
    };

    if (top == "services") {
      if (n == 1) return collection(req, Kind::kServices, {}, "/services");
      if (n == 2) return entity(req, Kind::kServices, seg[1], {});
      if (n <= 4 && seg[2] == "routes") {
        return nested(Kind::kServices, seg[1], "service", Kind::kRoutes,
                      "/services/" + seg[1] + "/routes");
      }
      if (n <= 4 && seg[2] == "plugins") {
        return nested(Kind::kServices, seg[1], "service", Kind::kPlugins,
                      "/services/" + seg[1] + "/plugins");
      }
      return not_found();
    }
    if (top == "routes") {
      if (n == 1) return collection(req, Kind::kRoutes, {}, "/routes");
      if (n == 2) return entity(req, Kind::kRoutes, seg[1], {});
      if (n <= 4 && seg[2] == "plugins") {
        return nested(Kind::kRoutes, seg[1], "route", Kind::kPlugins,
                      "/routes/" + seg[1] + "/plugins");
      }
      if (n == 3 && seg[2] == "service") {
        if (req.method != "GET") return method_not_allowed();
        auto r = parent(Kind::kRoutes, seg[1]);
        if (!r || !r->at("service").is_object()) return not_found();
        return entity(req, Kind::kServices, std::string(r->at("service").at("id").as_string()), {});
      }
      return not_found();
    }
    if (top == "consumers") {
      if (n == 1) return collection(req, Kind::kConsumers, {}, "/consumers");
      if (n == 2) return entity(req, Kind::kConsumers, seg[1], {});
      if (n <= 4 && seg[2] == "plugins") {
        return nested(Kind::kConsumers, seg[1], "consumer", Kind::kPlugins,
                      "/consumers/" + seg[1] + "/plugins");
      }
      if (n <= 4 && seg[2] == "jwt") {
        return nested(Kind::kConsumers, seg[1], "consumer", Kind::kJwtSecrets,
                      "/consumers/" + seg[1] + "/jwt");
      }
      return not_found();
    }
    if (top == "plugins") {
      if (n == 1) return collection(req, Kind::kPlugins, {}, "/plugins");
      if (n == 2 && seg[1] == "enabled") {
        if (req.method != "GET") return method_not_allowed();
        json::array names;
        for (const auto* s : plugins::all_schemas()) names.push_back(json::value(s->name));
        return json_response(200, json::object{{"enabled_plugins", names}});
      }
      if (n == 2) return entity(req, Kind::kPlugins, seg[1], {});
      return not_found();
    }
    if (top == "jwts") {
      if (n == 1) {
        if (req.method != "GET") return method_not_allowed();
        return list(req, Kind::kJwtSecrets, {}, "/jwts");
      }
      if (n == 2) return entity(req, Kind::kJwtSecrets, seg[1], {});
      if (n == 3 && seg[2] == "consumer") {
        if (req.method != "GET") return method_not_allowed();
        auto j = parent(Kind::kJwtSecrets, seg[1]);
        if (!j) return not_found();
        return entity(req, Kind::kConsumers, std::string(j->at("consumer").at("id").as_string()),
                      {});
      }
      return not_found();
    }
    return not_found();
  }
};

AdminApi::AdminApi(store::ConfigStore& store, StatusProvider status)
    : impl_(std::make_unique<Impl>(store, std::move(status))) {}

AdminApi::~AdminApi() = default;

void AdminApi::set_configuration(json::object configuration) {
  std::lock_guard<std::mutex> lock(impl_->config_mutex);
  impl_->configuration = std::move(configuration);
}

http::Response AdminApi::handle(const http::Request& request) {
  try {
    return impl_->dispatch(request);
  } catch (const std::exception& e) {
    // A bug, not bad input: every input path returns errors as values. Keep the process up.
    return message(500, std::string("An unexpected error occurred: ") + e.what());
  }
}

}  // namespace suoke::gateway::admin
