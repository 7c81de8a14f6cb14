#include "gateway/plugins/file_log/handler.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "core/json_scan.h"
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

using json_scan::copy_plain;
using json_scan::lower_ascii_word;

// Writes the record into a buffer sized once (prepare()), through a plain pointer: no
// capacity check, no std::string call per piece. Every write stays within the bound.
class Cursor {
 public:
  explicit Cursor(char* p) : p_(p) {}
  char* position() const { return p_; }

  template <std::size_t N>
  void literal(const char (&text)[N]) {
    std::memcpy(p_, text, N - 1);
    p_ += N - 1;
  }
  void raw(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void put(char c) { *p_++ = c; }
  void escaped(std::string_view s) {
    char* end = copy_plain<false>(p_, s.data(), s.size());
    p_ = end != nullptr ? end : write_json_escaped(p_, s);
  }
  void string(std::string_view s) {
    put('"');
    escaped(s);
    put('"');
  }
  // Escaping and lower-casing commute (escapes only add '\\', '"', digits and lower-case
  // letters), so the text is lower-cased where it was written.
  void lower_string(std::string_view s) {
    if (char* end = copy_plain<true>(p_ + 1, s.data(), s.size())) {
      *p_ = '"';
      *end = '"';
      p_ = end + 1;
      return;
    }
    char* c = p_ + 1;
    string(s);
    char* end = p_ - 1;
    for (; c + 8 <= end; c += 8) {
      uint64_t w;
      std::memcpy(&w, c, 8);
      w = lower_ascii_word(w);
      std::memcpy(c, &w, 8);
    }
    for (; c < end; ++c) {
      if (*c >= 'A' && *c <= 'Z') *c = static_cast<char>(*c - 'A' + 'a');
    }
  }
  void number(int64_t v) { p_ = std::to_chars(p_, p_ + kMaxNumber, v).ptr; }
  void number(uint64_t v) { p_ = std::to_chars(p_, p_ + kMaxNumber, v).ptr; }

  static constexpr std::size_t kMaxNumber = 24;

 private:
  char* p_;
};

bool is_redacted(std::string_view name) {
  return http::iequals(name, "authorization") || http::iequals(name, "proxy-authorization");
}

// Room a header table may take: every name and value escaped, plus punctuation.
template <class Names, class Values>
std::size_t header_table_bound(std::size_t count, Names name_of, Values value_of) {
  std::size_t n = 2;
  for (std::size_t i = 0; i < count; ++i) {
    n += kMaxJsonEscapeGrowth * (name_of(i).size() + value_of(i).size()) +
         16;  // quotes, ':', ',', '[]', "REDACTED"
  }
  return n;
}

// Kong's header tables: lower-case names in first-seen order, a repeated header becomes an
// array of its values, credentials (request only) are "REDACTED". Written straight from the
// header list, without building a table: a name is written where it first appears, with the
// values of its later repetitions.
template <class Names, class Values>
void write_header_table(Cursor& out, std::size_t count, Names name_of, Values value_of,
                        bool redact) {
  // The names are fetched once and every likely pair compared once, by length first; bit i of
  // `repeat` marks a header named like an earlier one, bit i of `repeated` a first occurrence
  // that has later ones. Up to 64 headers (always, in practice) everything stays on the stack.
  constexpr std::size_t kInline = 64;
  std::array<std::string_view, kInline> inline_names;
  std::array<uint64_t, 2> inline_bits{};
  std::vector<std::string_view> heap_names;
  std::vector<uint64_t> heap_bits;
  const std::size_t words = (count + 63) / 64;
  std::string_view* names = inline_names.data();
  uint64_t* repeat = inline_bits.data();
  if (count > kInline) {
    heap_names.resize(count);
    heap_bits.assign(2 * words, 0);
    names = heap_names.data();
    repeat = heap_bits.data();
  }
  uint64_t* repeated = repeat + words;
  auto bit = [](const uint64_t* bits, std::size_t i) { return (bits[i / 64] >> (i % 64)) & 1; };
  auto set = [](uint64_t* bits, std::size_t i) { bits[i / 64] |= uint64_t{1} << (i % 64); };
  // A 64-bit filter of (length, first and last letter): a name whose bit is not set yet
  // cannot repeat an earlier one, so the pairwise scan runs only for likely repeats.
  uint64_t seen = 0;
  for (std::size_t i = 0; i < count; ++i) {
    names[i] = name_of(i);
    const std::string_view name = names[i];
    const unsigned key = name.empty() ? 0
                                      : static_cast<unsigned>(name.size()) * 7 +
                                            static_cast<unsigned>(name.front() | 0x20) * 3 +
                                            static_cast<unsigned>(name.back() | 0x20);
    const uint64_t filter_bit = uint64_t{1} << (key % 64);
    const bool maybe_repeat = (seen & filter_bit) != 0;
    seen |= filter_bit;
    if (!maybe_repeat) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (names[j].size() == name.size() && http::iequals(names[j], name)) {
        set(repeat, i);
        set(repeated, j);  // the first match is the first occurrence
        break;
      }
    }
  }
  out.put('{');
  bool first = true;
  for (std::size_t i = 0; i < count; ++i) {
    if (bit(repeat, i)) continue;
    std::string_view name = names[i];
    if (!first) out.put(',');
    first = false;
    out.lower_string(name);
    out.put(':');
    if (redact && is_redacted(name)) {
      out.literal("\"REDACTED\"");
      continue;
    }
    if (!bit(repeated, i)) {
      out.string(value_of(i));
      continue;
    }
    out.put('[');
    out.string(value_of(i));
    for (std::size_t j = i + 1; j < count; ++j) {
      if (names[j].size() != name.size() || !http::iequals(names[j], name)) continue;
      out.put(',');
      out.string(value_of(j));
    }
    out.put(']');
  }
  out.put('}');
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
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

std::string fragment(const std::function<void(JsonWriter&)>& write) {
  std::string out;
  JsonWriter w(out);
  write(w);
  return out;
}

std::string route_fragment(const Route& r, const Snapshot& snapshot) {
  return fragment([&](JsonWriter& w) { write_route(w, r, snapshot); });
}

std::string service_fragment(const Service& s) {
  return fragment([&](JsonWriter& w) { write_service(w, s); });
}

// One element of "tries": the service's address (no balancer, so every try is the same).
std::string try_fragment(const Service& s) {
  return fragment([&](JsonWriter& w) {
    w.begin_object();
    w.key("ip");
    w.value(s.host);
    w.key("port");
    w.value(static_cast<int64_t>(s.port));
    w.end_object();
  });
}

std::string consumer_fragment(const Consumer& c) {
  return fragment([&](JsonWriter& w) {
    w.begin_object();
    w.key("id");
    w.value(c.id);
    w.key("username");
    w.optional_string(c.username);
    w.key("custom_id");
    w.optional_string(c.custom_id);
    w.end_object();
  });
}

// Index of `item` in `items`, or npos when it is not an element of that vector.
template <class T>
std::size_t index_in(const std::vector<T>& items, const T* item) {
  if (item == nullptr || items.empty() || item < items.data() ||
      item >= items.data() + items.size()) {
    return std::string::npos;
  }
  return static_cast<std::size_t>(item - items.data());
}

}  // namespace

struct SnapshotFragments {
  const Snapshot* snapshot = nullptr;
  std::vector<std::string> routes;     // by route index
  std::vector<std::string> services;   // by service index
  std::vector<std::string> tries;      // by service index
  std::vector<std::string> consumers;  // by consumer index
};

std::shared_ptr<const SnapshotFragments> build_fragments(const Snapshot& snapshot) {
  auto f = std::make_shared<SnapshotFragments>();
  f->snapshot = &snapshot;
  for (const Route& r : snapshot.routes) f->routes.push_back(route_fragment(r, snapshot));
  for (const Service& s : snapshot.services) {
    f->services.push_back(service_fragment(s));
    f->tries.push_back(try_fragment(s));
  }
  for (const Consumer& c : snapshot.consumers) f->consumers.push_back(consumer_fragment(c));
  return f;
}

namespace {

// What a record needs besides the context: the snapshot-level objects (from the fragments, or
// serialized now for a context of another snapshot), the query table, and the buffer size.
struct RecordParts {
  std::string_view route, service, one_try, consumer;                         // empty: absent
  std::string route_text, service_text, try_text, consumer_text, query_json;  // when computed
  std::size_t bound = 0;
};

std::size_t string_bound(std::string_view s) { return kMaxJsonEscapeGrowth * s.size() + 2; }

void prepare(RecordParts& parts, const RequestContext& ctx, const SnapshotFragments* fragments) {
  // Fragments only serve the snapshot they were built from.
  if (fragments != nullptr && fragments->snapshot != ctx.snapshot) fragments = nullptr;
  if (ctx.route != nullptr && ctx.snapshot != nullptr) {
    std::size_t i = fragments ? index_in(ctx.snapshot->routes, ctx.route) : std::string::npos;
    parts.route =
        i != std::string::npos
            ? std::string_view(fragments->routes[i])
            : std::string_view(parts.route_text = route_fragment(*ctx.route, *ctx.snapshot));
  }
  if (ctx.service != nullptr) {
    std::size_t i = fragments ? index_in(ctx.snapshot->services, ctx.service) : std::string::npos;
    if (i != std::string::npos) {
      parts.service = fragments->services[i];
      parts.one_try = fragments->tries[i];
    } else {
      parts.service = parts.service_text = service_fragment(*ctx.service);
      parts.one_try = parts.try_text = try_fragment(*ctx.service);
    }
  }
  if (ctx.consumer != nullptr) {
    std::size_t i = fragments ? index_in(ctx.snapshot->consumers, ctx.consumer) : std::string::npos;
    parts.consumer = i != std::string::npos
                         ? std::string_view(fragments->consumers[i])
                         : std::string_view(parts.consumer_text = consumer_fragment(*ctx.consumer));
  }
  if (!ctx.query.empty()) {
    JsonWriter w(parts.query_json);
    write_query_table(w, ctx.query);
  }

  std::size_t n = 1024;  // the fixed keys and punctuation (about 400 bytes) and the numbers
  n += 2 * (string_bound(ctx.path) + string_bound(ctx.query));  // uri and url
  n += string_bound(ctx.host.empty() ? std::string_view("localhost") : ctx.host);
  n += string_bound(ctx.method) + string_bound(ctx.upstream_uri) + string_bound(ctx.client_ip);
  n += string_bound(ctx.credential_id) + (ctx.consumer ? string_bound(ctx.consumer->id) : 0);
  n += parts.query_json.size() + parts.route.size() + parts.service.size() + parts.consumer.size();
  if (ctx.tries > 0) n += static_cast<std::size_t>(ctx.tries) * (parts.one_try.size() + 1);
  if (ctx.request_headers != nullptr) {
    const HeaderView& h = *ctx.request_headers;
    n += header_table_bound(
        h.size(), [&h](std::size_t i) { return h.name(i); },
        [&h](std::size_t i) { return h.value(i); });
  }
  const http::HeaderList& rh = ctx.response_head;
  n += header_table_bound(
      rh.size(), [&rh](std::size_t i) -> std::string_view { return rh[i].first; },
      [&rh](std::size_t i) -> std::string_view { return rh[i].second; });
  parts.bound = n;
}

char* write_record(char* begin, const RequestContext& ctx, const RecordParts& parts) {
  Cursor out(begin);
  out.literal("{\"request\":{\"uri\":\"");
  out.escaped(ctx.path);
  if (!ctx.query.empty()) {
    out.put('?');
    out.escaped(ctx.query);
  }
  out.literal("\",\"url\":\"http://");
  out.escaped(ctx.host.empty() ? std::string_view("localhost") : ctx.host);
  out.escaped(ctx.path);
  if (!ctx.query.empty()) {
    out.put('?');
    out.escaped(ctx.query);
  }
  out.literal("\",\"querystring\":");
  if (ctx.query.empty()) {
    out.literal("{}");
  } else {
    out.raw(parts.query_json);
  }
  out.literal(",\"method\":");
  out.string(ctx.method);
  out.literal(",\"headers\":");
  if (ctx.request_headers != nullptr) {
    const HeaderView& h = *ctx.request_headers;
    write_header_table(
        out, h.size(), [&h](std::size_t i) { return h.name(i); },
        [&h](std::size_t i) { return h.value(i); }, true);
  } else {
    out.literal("{}");
  }
  out.literal(",\"size\":");
  out.number(static_cast<uint64_t>(request_size(ctx)));
  out.literal("},\"upstream_uri\":");
  out.string(ctx.upstream_uri);
  bool from_service = !ctx.exit && ctx.upstream_latency_ms >= 0;
  out.literal(",\"upstream_status\":\"");
  if (from_service) out.number(static_cast<int64_t>(ctx.status));
  out.literal("\",\"response\":{\"status\":");
  out.number(static_cast<int64_t>(ctx.status));
  out.literal(",\"headers\":");
  const http::HeaderList& rh = ctx.response_head;
  write_header_table(
      out, rh.size(), [&rh](std::size_t i) -> std::string_view { return rh[i].first; },
      [&rh](std::size_t i) -> std::string_view { return rh[i].second; }, false);
  out.literal(",\"size\":");
  out.number(static_cast<uint64_t>(response_size(ctx)));
  out.literal("},\"latencies\":{\"kong\":");
  out.number(ctx.proxy_latency_ms);
  out.literal(",\"proxy\":");
  out.number(ctx.upstream_latency_ms);
  out.literal(",\"request\":");
  out.number(ctx.request_latency_ms);
  out.literal(",\"receive\":0},\"tries\":[");
  if (ctx.service != nullptr) {
    for (int i = 0; i < ctx.tries; ++i) {
      if (i > 0) out.put(',');
      out.raw(parts.one_try);
    }
  }
  out.put(']');

  if (!ctx.credential_id.empty()) {
    out.literal(",\"authenticated_entity\":{\"id\":");
    out.string(ctx.credential_id);
    if (ctx.consumer != nullptr) {
      out.literal(",\"consumer_id\":{\"id\":");
      out.string(ctx.consumer->id);
      out.put('}');
    }
    out.put('}');
  }
  if (!parts.route.empty()) {
    out.literal(",\"route\":");
    out.raw(parts.route);
  }
  if (!parts.service.empty()) {
    out.literal(",\"service\":");
    out.raw(parts.service);
  }
  if (!parts.consumer.empty()) {
    out.literal(",\"consumer\":");
    out.raw(parts.consumer);
  }
  out.literal(",\"client_ip\":");
  out.string(ctx.client_ip);
  out.literal(",\"started_at\":");
  out.number(ctx.started_at_ms);
  // kong.response.get_source(): "service", "exit" (a plugin answered) or "error".
  if (ctx.exit) {
    out.literal(",\"source\":\"exit\"");
  } else if (from_service) {
    out.literal(",\"source\":\"service\"");
  } else {
    out.literal(",\"source\":\"error\"");
  }
  out.literal(",\"workspace_name\":\"default\"}");
  return out.position();
}

}  // namespace

void serialize_into(std::string& out, const RequestContext& ctx,
                    const SnapshotFragments* fragments) {
  RecordParts parts;
  prepare(parts, ctx, fragments);
  const std::size_t at = out.size();
  out.resize(at + parts.bound);
  char* end = write_record(out.data() + at, ctx, parts);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

std::string serialize(const RequestContext& ctx, const SnapshotFragments* fragments) {
  std::string out;
  serialize_into(out, ctx, fragments);
  return out;
}

Handler::Handler(const gateway::Plugin& entity, std::shared_ptr<LogWriter> writer,
                 std::shared_ptr<const SnapshotFragments> fragments)
    : PluginHandler(entity), writer_(std::move(writer)), fragments_(std::move(fragments)) {}

void Handler::log(const RequestContext& ctx) const {
  RecordParts parts;
  prepare(parts, ctx, fragments_.get());
  const std::size_t need = parts.bound + 1;  // and the newline
  // Straight into the writer's queue when a chunk has the room; never waits for the disk,
  // and a full queue drops the record and counts it.
  if (LogWriter::Reservation room = writer_->reserve(need); room.data != nullptr) {
    char* end = write_record(room.data, ctx, parts);
    *end++ = '\n';
    writer_->commit(room, static_cast<std::size_t>(end - room.data));
    return;
  }
  // A record bigger than a chunk (or a full queue): through a per-thread buffer kept at its
  // size.
  constexpr std::size_t kInitialBuffer = 16 << 10;
  thread_local std::string buffer;
  if (buffer.size() < need) buffer.resize(std::max(need, kInitialBuffer));
  char* end = write_record(buffer.data(), ctx, parts);
  *end++ = '\n';
  writer_->push(std::string_view(buffer.data(), static_cast<std::size_t>(end - buffer.data())));
  if (buffer.size() > (1u << 20)) std::string().swap(buffer);  // one huge record: give it back
}

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime) {
  const json::value* path = entity.config.if_contains("path");
  if (path == nullptr || !path->is_string() || path->as_string().empty()) {
    return Error::make("config.path: required field missing", "schema");
  }
  std::string file(path->as_string());
  const json::value* reopen = entity.config.if_contains("reopen");
  const json::value* custom = entity.config.if_contains("custom_fields_by_lua");
  if (custom != nullptr && custom->is_object() && !custom->as_object().empty()) {
    log::warn("file-log: custom_fields_by_lua is ignored (no Lua runtime)",
              {{"plugin", entity.id}, {"path", file}});
  }
  // One writer per file for the whole process lifetime: snapshot swaps reuse it.
  auto writer = runtime.shared<LogWriter>("file-log:" + file,
                                          [&] { return std::make_shared<LogWriter>(file); });
  writer->set_reopen_each_batch(reopen != nullptr && reopen->is_bool() && reopen->as_bool());
  return std::unique_ptr<PluginHandler>(
      std::make_unique<Handler>(entity, std::move(writer), build_fragments(snapshot)));
}

}  // namespace suoke::gateway::plugins::file_log
