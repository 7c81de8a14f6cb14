#include "gateway/plugins/file_log/handler.h"

#include <boost/json.hpp>
#include <cctype>

#include "core/log.h"
#include "gateway/plugins/log_phase.h"

namespace suoke::gateway::plugins::file_log {
namespace json = boost::json;
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Kong's header tables: lower-case names, a repeated header becomes an array.
void add_header(json::object& headers, std::string name, std::string_view value) {
  auto it = headers.find(name);
  if (it == headers.end()) {
    headers.emplace(name, value);
  } else if (it->value().is_array()) {
    it->value().as_array().emplace_back(value);
  } else {
    json::array values{it->value(), json::string(value)};
    it->value() = std::move(values);
  }
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// kong.request.get_query(): `a=1&b&a=2` -> {"a":["1","2"],"b":true}.
json::object query_table(std::string_view query) {
  json::object out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = percent_decode(part.substr(0, eq));
    json::value value = eq == std::string_view::npos ? json::value(true) : json::value(percent_decode(part.substr(eq + 1)));
    auto it = out.find(key);
    if (it == out.end()) {
      out.emplace(key, std::move(value));
    } else if (it->value().is_array()) {
      it->value().as_array().push_back(std::move(value));
    } else {
      json::array values{it->value(), std::move(value)};
      it->value() = std::move(values);
    }
  }
  return out;
}

json::value optional_string(const std::string& s) { return s.empty() ? json::value(nullptr) : json::value(s); }

json::object route_json(const Route& r, const Snapshot& snapshot) {
  json::object o;
  o["id"] = r.id;
  o["name"] = optional_string(r.name);
  o["protocols"] = json::value_from(r.protocols);
  if (!r.methods.empty()) o["methods"] = json::value_from(r.methods);
  if (!r.hosts.empty()) o["hosts"] = json::value_from(r.hosts);
  if (!r.paths.empty()) o["paths"] = json::value_from(r.paths);
  o["regex_priority"] = r.regex_priority;
  o["strip_path"] = r.strip_path;
  o["preserve_host"] = r.preserve_host;
  o["path_handling"] = r.path_handling;
  if (r.created_at != 0) o["created_at"] = r.created_at;
  if (r.service_index != kNoIndex && r.service_index < snapshot.services.size()) {
    o["service"] = json::object{{"id", snapshot.services[r.service_index].id}};
  }
  return o;
}

json::object service_json(const Service& s) {
  json::object o;
  o["id"] = s.id;
  o["name"] = optional_string(s.name);
  o["protocol"] = s.protocol;
  o["host"] = s.host;
  o["port"] = s.port;
  o["path"] = optional_string(s.path);
  o["retries"] = s.retries;
  o["connect_timeout"] = s.connect_timeout_ms;
  o["write_timeout"] = s.write_timeout_ms;
  o["read_timeout"] = s.read_timeout_ms;
  o["enabled"] = s.enabled;
  return o;
}

}  // namespace

std::string serialize(const RequestContext& ctx) {
  json::object record;

  std::string request_uri(ctx.path);
  if (!ctx.query.empty()) {
    request_uri += '?';
    request_uri += ctx.query;
  }
  json::object request;
  request["uri"] = request_uri;
  std::string url = "http://";
  url += ctx.host.empty() ? std::string_view("localhost") : ctx.host;
  url += request_uri;
  request["url"] = url;
  request["querystring"] = query_table(ctx.query);
  request["method"] = ctx.method;
  json::object request_headers;
  if (ctx.request_headers != nullptr) {
    for (std::size_t i = 0; i < ctx.request_headers->size(); ++i) {
      std::string name = lower(ctx.request_headers->name(i));
      // Kong redacts credentials in logs.
      if (name == "authorization" || name == "proxy-authorization") {
        request_headers[name] = "REDACTED";
        continue;
      }
      add_header(request_headers, std::move(name), ctx.request_headers->value(i));
    }
  }
  request["headers"] = std::move(request_headers);
  request["size"] = request_size(ctx);
  record["request"] = std::move(request);

  std::string upstream_uri = ctx.upstream_uri;
  record["upstream_uri"] = upstream_uri;
  bool from_service = !ctx.exit && ctx.upstream_latency_ms >= 0;
  record["upstream_status"] = from_service ? std::to_string(ctx.status) : std::string();

  json::object response;
  response["status"] = ctx.status;
  json::object response_headers;
  for (const auto& [k, v] : ctx.response_head) add_header(response_headers, lower(k), v);
  response["headers"] = std::move(response_headers);
  response["size"] = response_size(ctx);
  record["response"] = std::move(response);

  json::object latencies;
  latencies["kong"] = ctx.proxy_latency_ms;
  latencies["proxy"] = ctx.upstream_latency_ms;
  latencies["request"] = ctx.request_latency_ms;
  latencies["receive"] = 0;
  record["latencies"] = std::move(latencies);

  json::array tries;
  for (int i = 0; i < ctx.tries && ctx.service != nullptr; ++i) {
    tries.push_back(json::object{{"ip", ctx.service->host}, {"port", ctx.service->port}});
  }
  record["tries"] = std::move(tries);

  if (!ctx.credential_id.empty()) {
    json::object entity{{"id", ctx.credential_id}};
    if (ctx.consumer != nullptr) entity["consumer_id"] = json::object{{"id", ctx.consumer->id}};
    record["authenticated_entity"] = std::move(entity);
  }
  if (ctx.route != nullptr && ctx.snapshot != nullptr) record["route"] = route_json(*ctx.route, *ctx.snapshot);
  if (ctx.service != nullptr) record["service"] = service_json(*ctx.service);
  if (ctx.consumer != nullptr) {
    json::object consumer{{"id", ctx.consumer->id}};
    consumer["username"] = optional_string(ctx.consumer->username);
    consumer["custom_id"] = optional_string(ctx.consumer->custom_id);
    record["consumer"] = std::move(consumer);
  }
  record["client_ip"] = ctx.client_ip;
  record["started_at"] = ctx.started_at_ms;
  // kong.response.get_source(): "service", "exit" (a plugin answered) or "error".
  record["source"] = ctx.exit ? "exit" : (from_service ? "service" : "error");
  record["workspace_name"] = "default";
  return json::serialize(record);
}

Handler::Handler(const gateway::Plugin& entity, std::shared_ptr<LogWriter> writer)
    : PluginHandler(entity), writer_(std::move(writer)) {}

void Handler::log(const RequestContext& ctx) const {
  std::string line = serialize(ctx);
  line += '\n';
  writer_->push(std::move(line));  // never waits for the disk; a full queue drops and counts
}

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity, const Snapshot& snapshot,
                                                    PluginRuntime& runtime) {
  const json::value* path = entity.config.if_contains("path");
  if (path == nullptr || !path->is_string() || path->as_string().empty()) {
    return Error::make("config.path: required field missing", "schema");
  }
  std::string file(path->as_string());
  const json::value* reopen = entity.config.if_contains("reopen");
  const json::value* custom = entity.config.if_contains("custom_fields_by_lua");
  if (custom != nullptr && custom->is_object() && !custom->as_object().empty()) {
    log::warn("file-log: custom_fields_by_lua is ignored (no Lua runtime)", {{"plugin", entity.id}, {"path", file}});
  }
  // One writer per file for the whole process lifetime: snapshot swaps reuse it.
  auto writer = runtime.shared<LogWriter>("file-log:" + file, [&] { return std::make_shared<LogWriter>(file); });
  writer->set_reopen_each_batch(reopen != nullptr && reopen->is_bool() && reopen->as_bool());
  return std::unique_ptr<PluginHandler>(std::make_unique<Handler>(entity, std::move(writer)));
}

}  // namespace suoke::gateway::plugins::file_log
