#include "gateway/plugins/file_log/handler.h"

#include <boost/json.hpp>
#include <cctype>
#include <optional>
#include <vector>

#include "core/json_string.h"
#include "core/log.h"
#include "gateway/plugins/log_phase.h"

namespace suoke::gateway::plugins::file_log {
namespace json = boost::json;
namespace {

// The record is written straight into one string: building a boost::json::object first cost
// about 55% of all the gateway's instructions per request with the seed's plugin chain
// (callgrind), all of it allocation and hashing for a value that is serialized at once.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view k) {
    separate();
    string_literal(k);
    out_ += ':';
    after_key_ = true;
  }
  void value(std::string_view v) {
    separate();
    string_literal(v);
  }
  void value(const char* v) { value(std::string_view(v)); }
  void value(int64_t v) {
    separate();
    out_ += std::to_string(v);
  }
  void value(int v) { value(static_cast<int64_t>(v)); }
  void value(uint64_t v) {
    separate();
    out_ += std::to_string(v);
  }
  void value(bool v) {
    separate();
    out_ += v ? "true" : "false";
  }
  void null() {
    separate();
    out_ += "null";
  }
  void optional_string(std::string_view v) {
    if (v.empty()) {
      null();
    } else {
      value(v);
    }
  }
  void string_array(const std::vector<std::string>& values) {
    begin_array();
    for (const auto& v : values) value(v);
    end_array();
  }

 private:
  void open(char c) {
    separate();
    out_ += c;
    first_ = true;
  }
  void close(char c) {
    out_ += c;
    first_ = false;
  }
  // A comma before every element but the first of its container; none right after a key.
  void separate() {
    if (after_key_) {
      after_key_ = false;
      first_ = false;
      return;
    }
    if (!first_) out_ += ',';
    first_ = false;
  }
  void string_literal(std::string_view v) { append_json_string(out_, v); }

  std::string& out_;
  bool first_ = true;
  bool after_key_ = false;
};

void lower_into(std::string_view s, std::string& out) {
  out.assign(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// Kong's header tables: lower-case names in first-seen order, a repeated header becomes an
// array of its values.
struct HeaderTable {
  struct Entry {
    std::string name;
    std::vector<std::string_view> values;
  };
  std::vector<Entry> entries;

  void add(std::string_view name, std::string_view value) {
    std::string lowered;
    lower_into(name, lowered);
    for (auto& e : entries) {
      if (e.name == lowered) {
        e.values.push_back(value);
        return;
      }
    }
    entries.push_back({std::move(lowered), {value}});
  }
  void write(JsonWriter& w) const {
    w.begin_object();
    for (const auto& e : entries) {
      w.key(e.name);
      if (e.values.size() == 1) {
        w.value(e.values[0]);
      } else {
        w.begin_array();
        for (auto v : e.values) w.value(v);
        w.end_array();
      }
    }
    w.end_object();
  }
};

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) {
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// kong.request.get_query(): `a=1&b&a=2` -> {"a":["1","2"],"b":true}.
void write_query_table(JsonWriter& w, std::string_view query) {
  struct Entry {
    std::string key;
    std::vector<std::optional<std::string>> values;  // nullopt: a bare key (true)
  };
  std::vector<Entry> entries;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string key = percent_decode(part.substr(0, eq));
    std::optional<std::string> value;
    if (eq != std::string_view::npos) value = percent_decode(part.substr(eq + 1));
    Entry* found = nullptr;
    for (auto& e : entries) {
      if (e.key == key) found = &e;
    }
    if (found == nullptr) {
      entries.push_back({std::move(key), {}});
      found = &entries.back();
    }
    found->values.push_back(std::move(value));
  }
  auto write_one = [&w](const std::optional<std::string>& v) {
    if (v) {
      w.value(*v);
    } else {
      w.value(true);
    }
  };
  w.begin_object();
  for (const auto& e : entries) {
    w.key(e.key);
    if (e.values.size() == 1) {
      write_one(e.values[0]);
    } else {
      w.begin_array();
      for (const auto& v : e.values) write_one(v);
      w.end_array();
    }
  }
  w.end_object();
}

void write_route(JsonWriter& w, const Route& r, const Snapshot& snapshot) {
  w.begin_object();
  w.key("id");
  w.value(r.id);
  w.key("name");
  w.optional_string(r.name);
  w.key("protocols");
  w.string_array(r.protocols);
  if (!r.methods.empty()) {
    w.key("methods");
    w.string_array(r.methods);
  }
  if (!r.hosts.empty()) {
    w.key("hosts");
    w.string_array(r.hosts);
  }
  if (!r.paths.empty()) {
    w.key("paths");
    w.string_array(r.paths);
  }
  w.key("regex_priority");
  w.value(r.regex_priority);
  w.key("strip_path");
  w.value(r.strip_path);
  w.key("preserve_host");
  w.value(r.preserve_host);
  w.key("path_handling");
  w.value(r.path_handling);
  if (r.created_at != 0) {
    w.key("created_at");
    w.value(r.created_at);
  }
  if (r.service_index != kNoIndex && r.service_index < snapshot.services.size()) {
    w.key("service");
    w.begin_object();
    w.key("id");
    w.value(snapshot.services[r.service_index].id);
    w.end_object();
  }
  w.end_object();
}

void write_service(JsonWriter& w, const Service& s) {
  w.begin_object();
  w.key("id");
  w.value(s.id);
  w.key("name");
  w.optional_string(s.name);
  w.key("protocol");
  w.value(s.protocol);
  w.key("host");
  w.value(s.host);
  w.key("port");
  w.value(static_cast<int64_t>(s.port));
  w.key("path");
  w.optional_string(s.path);
  w.key("retries");
  w.value(s.retries);
  w.key("connect_timeout");
  w.value(s.connect_timeout_ms);
  w.key("write_timeout");
  w.value(s.write_timeout_ms);
  w.key("read_timeout");
  w.value(s.read_timeout_ms);
  w.key("enabled");
  w.value(s.enabled);
  w.end_object();
}

}  // namespace

std::string serialize(const RequestContext& ctx) {
  std::string out;
  out.reserve(1024);
  JsonWriter w(out);
  w.begin_object();

  std::string request_uri(ctx.path);
  if (!ctx.query.empty()) {
    request_uri += '?';
    request_uri += ctx.query;
  }
  w.key("request");
  w.begin_object();
  w.key("uri");
  w.value(request_uri);
  std::string url = "http://";
  url += ctx.host.empty() ? std::string_view("localhost") : ctx.host;
  url += request_uri;
  w.key("url");
  w.value(url);
  w.key("querystring");
  write_query_table(w, ctx.query);
  w.key("method");
  w.value(ctx.method);
  HeaderTable request_headers;
  if (ctx.request_headers != nullptr) {
    for (std::size_t i = 0; i < ctx.request_headers->size(); ++i) {
      std::string_view name = ctx.request_headers->name(i);
      // Kong redacts credentials in logs.
      if (http::iequals(name, "authorization") || http::iequals(name, "proxy-authorization")) {
        std::string lowered;
        lower_into(name, lowered);
        bool seen = false;
        for (auto& e : request_headers.entries) {
          if (e.name == lowered) {
            e.values = {"REDACTED"};
            seen = true;
          }
        }
        if (!seen) request_headers.entries.push_back({std::move(lowered), {"REDACTED"}});
        continue;
      }
      request_headers.add(name, ctx.request_headers->value(i));
    }
  }
  w.key("headers");
  request_headers.write(w);
  w.key("size");
  w.value(static_cast<uint64_t>(request_size(ctx)));
  w.end_object();

  w.key("upstream_uri");
  w.value(ctx.upstream_uri);
  bool from_service = !ctx.exit && ctx.upstream_latency_ms >= 0;
  w.key("upstream_status");
  w.value(from_service ? std::to_string(ctx.status) : std::string());

  w.key("response");
  w.begin_object();
  w.key("status");
  w.value(ctx.status);
  HeaderTable response_headers;
  for (const auto& [k, v] : ctx.response_head) response_headers.add(k, v);
  w.key("headers");
  response_headers.write(w);
  w.key("size");
  w.value(static_cast<uint64_t>(response_size(ctx)));
  w.end_object();

  w.key("latencies");
  w.begin_object();
  w.key("kong");
  w.value(ctx.proxy_latency_ms);
  w.key("proxy");
  w.value(ctx.upstream_latency_ms);
  w.key("request");
  w.value(ctx.request_latency_ms);
  w.key("receive");
  w.value(0);
  w.end_object();

  w.key("tries");
  w.begin_array();
  for (int i = 0; i < ctx.tries && ctx.service != nullptr; ++i) {
    w.begin_object();
    w.key("ip");
    w.value(ctx.service->host);
    w.key("port");
    w.value(static_cast<int64_t>(ctx.service->port));
    w.end_object();
  }
  w.end_array();

  if (!ctx.credential_id.empty()) {
    w.key("authenticated_entity");
    w.begin_object();
    w.key("id");
    w.value(ctx.credential_id);
    if (ctx.consumer != nullptr) {
      w.key("consumer_id");
      w.begin_object();
      w.key("id");
      w.value(ctx.consumer->id);
      w.end_object();
    }
    w.end_object();
  }
  if (ctx.route != nullptr && ctx.snapshot != nullptr) {
    w.key("route");
    write_route(w, *ctx.route, *ctx.snapshot);
  }
  if (ctx.service != nullptr) {
    w.key("service");
    write_service(w, *ctx.service);
  }
  if (ctx.consumer != nullptr) {
    w.key("consumer");
    w.begin_object();
    w.key("id");
    w.value(ctx.consumer->id);
    w.key("username");
    w.optional_string(ctx.consumer->username);
    w.key("custom_id");
    w.optional_string(ctx.consumer->custom_id);
    w.end_object();
  }
  w.key("client_ip");
  w.value(ctx.client_ip);
  w.key("started_at");
  w.value(ctx.started_at_ms);
  // kong.response.get_source(): "service", "exit" (a plugin answered) or "error".
  w.key("source");
  w.value(ctx.exit ? "exit" : (from_service ? "service" : "error"));
  w.key("workspace_name");
  w.value("default");
  w.end_object();
  return out;
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
