// Fuzzes the response-transformer with arbitrary bytes as the upstream body, through a fixed
// config that uses every operation and every kind of path (top-level, nested, [*], [n],
// **, rename, typed values). The first byte picks the route through the code:
//   0..63    transform_json_body directly, and the output must be JSON again; also the text
//            fast path for top-level removes against parse + serialize (same bytes)
//   64..127  the handler, plain body, split into pieces at the next bytes' positions
//   128..191 the handler with Content-Encoding: gzip (the rest is the compressed stream)
//   192..255 the handler with Content-Encoding: deflate
// The handler runs with a small cap so the oversize paths are reached too.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/plugins/response_transformer/handler.h"
#include "gateway/plugins/response_transformer/transformer.h"

namespace {

namespace json = boost::json;
namespace rt = suoke::gateway::plugins::response_transformer;
using suoke::gateway::plugins::RequestContext;
using suoke::gateway::plugins::ResponseHead;

json::object make_config() {
  auto list = [](std::initializer_list<const char*> items) {
    json::array a;
    for (const char* i : items) a.emplace_back(i);
    return a;
  };
  json::object c;
  c["remove"] = json::object{
      {"json", list({"sensitive_data", "records[*].sensitive_data", "data.user.personal_info",
                     "records[0]", "**.secret", "[*].x", "a[", "list[*]"})},
      {"headers", list({"x-internal"})}};
  c["rename"] = json::object{{"json", list({"old:new", "data.ssn:social", "records[*].a:b"})},
                             {"headers", list({"x-old:x-new"})}};
  c["replace"] =
      json::object{{"json", list({"status:ok", "records[*].value:0", "n:1.5", "tags[*]:t"})},
                   {"json_types", list({"string", "number", "number", "boolean"})},
                   {"headers", list({"server:suoke"})}};
  c["add"] = json::object{
      {"json", list({"added:yes", "meta.version:2", "**.seen.flag:true", "records[*].tag:t"})},
      {"json_types", list({"string", "number", "boolean", "string"})},
      {"headers", list({"x-added:1"})}};
  c["append"] = json::object{{"json", list({"tags:x", "records[*].history:h", "s:1"})},
                             {"json_types", list({"string", "string", "number"})},
                             {"headers", list({"x-app:1"})}};
  return c;
}

// Only removes of top-level keys (the seed's use): the transformer may edit such bodies as text.
json::object make_removes_only_config() {
  json::object c;
  for (const char* op : {"remove", "rename", "replace", "add", "append"}) {
    c[op] = json::object{{"json", json::array{}}, {"headers", json::array{}}, {"json_types", json::array{}}};
  }
  c["remove"].as_object()["json"] = json::array{"sensitive_data", "personal_info", "a", "status", "x"};
  return c;
}

struct Fixture {
  Fixture() {
    auto removes = rt::parse_config(make_removes_only_config());
    if (!removes.ok() || !removes->removes_top_level_keys_only) std::abort();
    removes_as_text = removes.value();
    removes_parsed = removes.value();
    removes_parsed.removes_top_level_keys_only = false;  // forces parse + serialize
    entity.name = "response-transformer";
    entity.config = make_config();
    auto parsed = rt::parse_config(entity.config);
    if (!parsed.ok()) std::abort();
    config = parsed.value();
    rt::Limits limits;
    limits.max_body_bytes = 64 * 1024;
    handler = std::make_unique<rt::Handler>(entity, config, limits);
  }
  suoke::gateway::Plugin entity;
  rt::Config config;
  rt::Config removes_as_text, removes_parsed;
  std::unique_ptr<rt::Handler> handler;
};

const Fixture& fixture() {
  static const Fixture* f = new Fixture();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Fixture& f = fixture();
  uint8_t mode = data[0];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  if (mode < 64) {
    auto out = rt::transform_json_body(f.config, body);
    if (out.ok()) {
      boost::system::error_code ec;
      json::parse_options options;
      options.max_depth = 1024;  // the input may be up to 256 deep, and add nests further
      json::parse(*out, ec, {}, options);
      if (ec) std::abort();  // the transformer must always emit JSON
    }
    // Differential: the text path for top-level removes must give byte for byte what parsing
    // and serializing gives, and refuse exactly the bodies the parser refuses.
    auto as_text = rt::transform_json_body(f.removes_as_text, body);
    auto parsed = rt::transform_json_body(f.removes_parsed, body);
    if (as_text.ok() != parsed.ok()) std::abort();
    if (as_text.ok() && *as_text != *parsed) std::abort();
    return 0;
  }

  RequestContext ctx;
  ctx.method = "GET";
  ResponseHead head;
  head.status = 200;
  head.headers = {{"Content-Type", "application/json"}, {"X-Internal", "1"}, {"Server", "up"}};
  if (mode >= 128) head.headers.emplace_back("Content-Encoding", mode < 192 ? "gzip" : "deflate");
  f.handler->access(ctx);
  f.handler->header_filter(ctx, head);
  // Split points come from the body itself so pieces vary with the input.
  std::size_t step = 1 + (body.empty() ? 0 : static_cast<uint8_t>(body[0]) % 97);
  std::string out;
  for (std::size_t at = 0;; at += step) {
    bool eof = at + step >= body.size();
    std::string chunk(body.substr(std::min(at, body.size()), step));
    f.handler->body_filter(ctx, chunk, eof);
    out += chunk;
    if (eof) break;
  }
  return 0;
}
