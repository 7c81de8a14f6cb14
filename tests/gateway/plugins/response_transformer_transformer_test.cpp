// The response-transformer's operations: Kong's semantics for top-level names and headers,
// and the nested path extension.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugins/response_transformer/transformer.h"
#include "gateway/plugins/response_transformer_test_util.h"

namespace suoke::gateway::plugins::response_transformer {
namespace {

namespace json = boost::json;
using testing::rt_config;

Config make(const std::vector<testing::RtEntries>& entries) {
  auto c = parse_config(rt_config(entries));
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

// Transforms `body` and returns the result parsed, so comparisons ignore formatting.
json::value run(const Config& config, std::string_view body) {
  auto out = transform_json_body(config, body);
  EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
  return out.ok() ? json::parse(*out) : json::value();
}

TEST(ResponseTransformerEntry, SplitsLikeKong) {
  auto e = split_entry("a:b");
  EXPECT_EQ(e.name, "a");
  EXPECT_EQ(e.value, "b");
  EXPECT_EQ(split_entry("a::b").value, "b");  // ":*" swallows every colon
  EXPECT_EQ(split_entry("a:b:c").value, "b:c");
  EXPECT_FALSE(split_entry("a:").value.has_value());
  EXPECT_FALSE(split_entry("a").value.has_value());
  EXPECT_EQ(split_entry("a").name, "a");
  EXPECT_EQ(split_entry(":x").name, "");
}

TEST(ResponseTransformerPath, Syntax) {
  auto p = parse_path("records[*].sensitive_data");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->segments.size(), 3u);
  EXPECT_EQ(p->segments[0].key, "records");
  EXPECT_EQ(p->segments[1].kind, PathSegment::Kind::kAll);
  EXPECT_EQ(p->segments[2].key, "sensitive_data");

  p = parse_path("data.user.personal_info");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->segments.size(), 3u);

  p = parse_path("a[2][*]");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->segments.size(), 3u);
  EXPECT_EQ(p->segments[1].kind, PathSegment::Kind::kIndex);
  EXPECT_EQ(p->segments[1].index, 2u);
  EXPECT_EQ(p->segments[2].kind, PathSegment::Kind::kAll);

  p = parse_path("[*].x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->segments[0].kind, PathSegment::Kind::kAll);

  p = parse_path(R"(a\.b.c)");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->segments.size(), 2u);
  EXPECT_EQ(p->segments[0].key, "a.b");

  p = parse_path("plain-name_1");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->segments.size(), 1u);

  for (const char* bad : {"a[", "a[x]", "a..b", "a.", ".a", "a[1]b", "a[]", "a\\", "a[-1]"}) {
    EXPECT_FALSE(parse_path(bad)) << bad;
    auto literal = path_or_literal(bad);
    ASSERT_EQ(literal.segments.size(), 1u);
    EXPECT_EQ(literal.segments[0].key, bad);
  }
}

TEST(ResponseTransformerJson, RemoveTopLevelAsKong) {
  auto c = make({{"remove", "json", {"a", "missing"}}});
  EXPECT_EQ(run(c, R"({"a":1,"b":2})"), json::parse(R"({"b":2})"));
}

TEST(ResponseTransformerJson, RemoveKeepsKeyOrder) {
  auto c = make({{"remove", "json", {"b"}}});
  auto out = transform_json_body(c, R"({"a":1,"b":2,"c":3,"d":4})");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"a":1,"c":3,"d":4})");
}

TEST(ResponseTransformerJson, RemoveKeepsKeyOrderAtEveryPosition) {
  // Removing member k of n keeps the others in order, for few members after it (moved off
  // the end and back) and for many (the object is rebuilt); nested values move intact.
  for (int n : {2, 5, 9, 12, 20}) {
    for (int k = 0; k < n; ++k) {
      std::string body = "{";
      std::string want = "{";
      for (int i = 0; i < n; ++i) {
        std::string member = "\"key_number_" + std::to_string(i) + "\":{\"v\":[" + std::to_string(i) + ",\"s\"]}";
        body += (i ? "," : "") + member;
        if (i != k) want += (want.size() > 1 ? "," : "") + member;
      }
      body += "}";
      want += "}";
      auto c = make({{"remove", "json", {"key_number_" + std::to_string(k)}}});
      auto out = transform_json_body(c, body);
      ASSERT_TRUE(out.ok());
      EXPECT_EQ(*out, want) << "n=" << n << " k=" << k;
    }
  }
}

TEST(ResponseTransformerJson, RemoveNestedObjectsAndArrays) {
  auto c = make({{"remove", "json", {"records[*].sensitive_data", "data.user.personal_info"}}});
  auto out = run(c, R"({
    "records":[{"id":1,"sensitive_data":"x"},{"id":2,"sensitive_data":{"ssn":"1"}},{"id":3},"str",7],
    "data":{"user":{"name":"n","personal_info":{"dob":"2000"}}}})");
  EXPECT_EQ(out, json::parse(R"({"records":[{"id":1},{"id":2},{"id":3},"str",7],
                                 "data":{"user":{"name":"n"}}})"));
}

TEST(ResponseTransformerJson, RemoveByIndexAndWholeArray) {
  EXPECT_EQ(
      run(make({{"remove", "json", {"records[0].x"}}}), R"({"records":[{"x":1,"y":1},{"x":2}]})"),
      json::parse(R"({"records":[{"y":1},{"x":2}]})"));
  EXPECT_EQ(run(make({{"remove", "json", {"records[1]"}}}), R"({"records":[1,2,3]})"),
            json::parse(R"({"records":[1,3]})"));
  EXPECT_EQ(run(make({{"remove", "json", {"records[9]"}}}), R"({"records":[1]})"),
            json::parse(R"({"records":[1]})"));
  EXPECT_EQ(run(make({{"remove", "json", {"records[*]"}}}), R"({"records":[1,2]})"),
            json::parse(R"({"records":[]})"));
  // A top-level array.
  EXPECT_EQ(run(make({{"remove", "json", {"[*].secret"}}}), R"([{"secret":1,"k":1},{"k":2}])"),
            json::parse(R"([{"k":1},{"k":2}])"));
  // Nested arrays of arrays.
  EXPECT_EQ(run(make({{"remove", "json", {"m[*][*].s"}}}), R"({"m":[[{"s":1,"t":1}],[{"s":2}]]})"),
            json::parse(R"({"m":[[{"t":1}],[{}]]})"));
}

TEST(ResponseTransformerJson, PathsThroughWrongTypesDoNothing) {
  auto c = make({{"remove", "json", {"a.b", "s[*].x", "n[0]"}}});
  EXPECT_EQ(run(c, R"({"a":[1],"s":{"x":1},"n":{"0":1}})"),
            json::parse(R"({"a":[1],"s":{"x":1},"n":{"0":1}})"));
  // A plain name on a top-level array or scalar changes nothing.
  EXPECT_EQ(run(make({{"remove", "json", {"a"}}}), "[1,2]"), json::parse("[1,2]"));
  EXPECT_EQ(run(make({{"remove", "json", {"a"}}}), "\"s\""), json::value("s"));
}

TEST(ResponseTransformerJson, DeepPathsReachEveryLevel) {
  auto c = make({{"remove", "json", {"**.sensitive_data", "**.personal_info"}}});
  EXPECT_EQ(
      run(c,
          R"({"sensitive_data":1,"records":[{"id":1,"sensitive_data":2,"nested":[{"personal_info":3}]}],
                       "patient":{"personal_info":{"sensitive_data":4},"id":"p"}})"),
      json::parse(R"({"records":[{"id":1,"nested":[{}]}],"patient":{"id":"p"}})"));
  // Deep under a prefix, and a deep add that must not recurse into what it creates.
  EXPECT_EQ(
      run(make({{"remove", "json", {"data.**.x"}}}), R"({"x":1,"data":{"x":2,"a":[{"x":3}]}})"),
      json::parse(R"({"x":1,"data":{"a":[{}]}})"));
  EXPECT_EQ(run(make({{"add", "json", {"**.a.b:1"}}}), R"({"k":{}})"),
            json::parse(R"({"k":{"a":{"b":"1"}},"a":{"b":"1"}})"));
  auto p = parse_path("**.x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->segments[0].kind, PathSegment::Kind::kDeep);
  EXPECT_FALSE(parse_path("a.**."));
  EXPECT_EQ(path_or_literal("**").segments[0].key, "**");
}

TEST(ResponseTransformerJson, RenameKeepsPositionAndOverwrites) {
  auto c = make({{"rename", "json", {"a:z", "missing:q", "data.ssn:social"}}});
  auto out = transform_json_body(c, R"({"a":1,"b":2,"data":{"ssn":"x","k":1}})");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"z":1,"b":2,"data":{"social":"x","k":1}})");
  EXPECT_EQ(run(make({{"rename", "json", {"a:b"}}}), R"({"a":1,"b":2})"),
            json::parse(R"({"b":1})"));
  // rename of a null value still renames (present in Kong: cjson.null is not nil).
  EXPECT_EQ(run(make({{"rename", "json", {"a:b"}}}), R"({"a":null})"),
            json::parse(R"({"b":null})"));
}

TEST(ResponseTransformerJson, ReplaceOnlyWhenPresentAndNotFalse) {
  auto c = make({{"replace", "json", {"a:new", "missing:x", "f:x", "n:x", "records[*].v:r"}}});
  EXPECT_EQ(run(c, R"({"a":"old","f":false,"n":null,"records":[{"v":1},{"w":1}]})"),
            json::parse(R"({"a":"new","f":false,"n":"x","records":[{"v":"r"},{"w":1}]})"));
}

TEST(ResponseTransformerJson, AddOnlyWhenAbsentOrFalse) {
  auto c =
      make({{"add", "json", {"a:new", "b:added", "f:x", "meta.version:2", "records[*].tag:t"}}});
  EXPECT_EQ(run(c, R"({"a":"old","f":false,"records":[{"tag":"keep"},{}]})"),
            json::parse(R"({"a":"old","f":"x","b":"added","meta":{"version":"2"},
                            "records":[{"tag":"keep"},{"tag":"t"}]})"));
  // An empty value disables the entry.
  EXPECT_EQ(run(make({{"add", "json", {"e:"}}}), "{}"), json::parse("{}"));
}

TEST(ResponseTransformerJson, AppendLikeKong) {
  auto c = make(
      {{"append", "json", {"s:x", "arr:x", "absent:x", "num:x", "obj:x", "records[*].tags:t"}}});
  EXPECT_EQ(run(c, R"({"s":"a","arr":["a"],"num":1,"obj":{"k":1},"records":[{"tags":["a"]},{}]})"),
            json::parse(R"({"s":["a","x"],"arr":["a","x"],"num":["x"],"obj":{"k":1},"absent":["x"],
                            "records":[{"tags":["a","t"]},{"tags":["t"]}]})"));
}

TEST(ResponseTransformerJson, JsonTypes) {
  auto c =
      make({{"add", "json", {"n:42", "d:36.5", "b:true", "f:yes", "s:7", "bad:4x"}},
            {"add", "json_types", {"number", "number", "boolean", "boolean", "string", "number"}}});
  auto out = transform_json_body(c, "{}");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"n":42,"d":36.5,"b":true,"f":false,"s":"7"})");
  // json_types shorter than json: the rest are strings.
  auto c2 = make({{"replace", "json", {"a:1", "b:2"}}, {"replace", "json_types", {"number"}}});
  EXPECT_EQ(run(c2, R"({"a":0,"b":0})"), json::parse(R"({"a":1,"b":"2"})"));
  auto c3 = make({{"append", "json", {"a:false"}}, {"append", "json_types", {"boolean"}}});
  EXPECT_EQ(run(c3, R"({"a":[true]})"), json::parse(R"({"a":[true,false]})"));
}

TEST(ResponseTransformerJson, KongOrderOfOperations) {
  // remove -> rename -> replace -> add -> append, whatever the order in the config.
  auto c = make({{"append", "json", {"r:app"}},
                 {"add", "json", {"a:added", "r:not-added"}},
                 {"replace", "json", {"r:replaced", "a:never"}},
                 {"rename", "json", {"old:r"}},
                 {"remove", "json", {"a"}}});
  EXPECT_EQ(run(c, R"({"a":"orig","old":"v"})"),
            json::parse(R"({"r":["replaced","app"],"a":"added"})"));
}

TEST(ResponseTransformerJson, InvalidJsonIsAnError) {
  auto c = make({{"remove", "json", {"a"}}});
  EXPECT_FALSE(transform_json_body(c, "{\"a\":").ok());
  EXPECT_FALSE(transform_json_body(c, "not json").ok());
  EXPECT_FALSE(transform_json_body(c, "").ok());
  EXPECT_FALSE(transform_json_body(c, "{} trailing").ok());
  std::string deep(300, '[');
  deep += std::string(300, ']');
  EXPECT_FALSE(transform_json_body(c, deep).ok());  // deeper than the walkers allow
}

TEST(ResponseTransformerJson, SerializationKeepsNumbersAndText) {
  auto c = make({{"remove", "json", {"zzz"}}});
  auto out =
      transform_json_body(c, R"({"t":36.5,"i":-12,"u":18446744073709551615,"e":1e400,"z":1.0,)"
                             R"("s":"caf\u00e9 \"q\" \\ \n \u0001 /","k\"ey":[true,false,null]})");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            "{\"t\":36.5,\"i\":-12,\"u\":18446744073709551615,\"e\":1e999,\"z\":1,"
            "\"s\":\"caf\xc3\xa9 \\\"q\\\" \\\\ \\n \\u0001 /\",\"k\\\"ey\":[true,false,null]}");
  EXPECT_TRUE(json::parse(*out).is_object());
}

// What parse + transform + serialize writes, or nullopt when the parser rejects the body:
// the reference for the text fast path that top-level removes take.
std::optional<std::string> through_the_parser(const Config& config, std::string_view body) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 256;
  json::value document = json::parse(body, ec, {}, options);
  if (ec) return std::nullopt;
  transform_json(config, document);
  std::string out;
  serialize_json(document, out);
  return out;
}

TEST(ResponseTransformerJson, TopLevelRemovesAsTextMatchTheParserByteForByte) {
  auto c = make({{"remove", "json", {"sensitive_data", "personal_info", "a\\.b"}}});  // a\.b: the key "a.b"
  ASSERT_TRUE(c.removes_top_level_keys_only);
  std::string wide = "{";
  for (int i = 0; i < 40; ++i) wide += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  wide += ",\"personal_info\":1}";
  std::string deep(100, '[');
  deep += std::string(100, ']');
  const std::vector<std::string> bodies = {
      // canonical: edited as text
      R"({"id":42,"name":"bench","status":"ok","sensitive_data":"4111","personal_info":"a@b"})",
      R"({"sensitive_data":{"x":[1,{"y":null}]},"a.b":true,"personal_info":[],"z":false})",
      R"({"personal_info":1})", R"({})", R"([1,2,{"personal_info":1}])", R"("text")", "0",
      "-7", "123456789012345678", R"({"a":{"sensitive_data":1},"b":[{}],"c":"x y~"})",
      R"({"n":{"n":{"n":{}}},"sensitive_data":-0})",
      // not canonical: the parser decides (same output, or the same rejection)
      R"({"sensitive_data":1,"sensitive_data":2,"x":3})", R"({"x":1,"y":{"k":1,"k":2}})",
      R"({ "a": 1, "personal_info": 2 })", " {\"a\":1}", "{\"a\":1}\n",
      R"({"t":36.5,"z":1.0,"e":1e400,"E":2E3,"u":18446744073709551615,"v":1234567890123456789})",
      R"({"s":"caf\u00e9 \/ \" \\","personal_info":"x"})", "{\"s\":\"caf\xc3\xa9\"}",
      "{\"s\":\"bad \xff utf8\"}", "{\"s\":\"tab\there\"}", R"({"n":01})", R"({"n":-})",
      R"({"n":-0,"personal_info":1})", R"({"a":1,})", R"({"a":1)", R"({"a" 1})", R"([1,])",
      R"({"a":tru})", R"({"a":nul})", "", "nul", "{} {}", "[", R"({"a":[1 2]})", wide, deep,
      std::string(300, '[') + std::string(300, ']')};
  for (const auto& body : bodies) {
    auto want = through_the_parser(c, body);
    auto got = transform_json_body(c, body);
    ASSERT_EQ(got.ok(), want.has_value()) << body;
    if (want) {
      EXPECT_EQ(*got, *want) << body;
    }
  }
  // The canonical bench body loses exactly its two fields, bytes kept.
  auto out = transform_json_body(c, bodies[0]);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"id":42,"name":"bench","status":"ok"})");
}

TEST(ResponseTransformerJson, OnlyPlainTopLevelRemovesTakeTheTextPath) {
  EXPECT_TRUE(make({{"remove", "json", {"a", "b"}}}).removes_top_level_keys_only);
  EXPECT_FALSE(make({{"remove", "json", {"a.b"}}}).removes_top_level_keys_only);
  EXPECT_FALSE(make({{"remove", "json", {"a[*]"}}}).removes_top_level_keys_only);
  EXPECT_FALSE(make({{"remove", "json", {"a"}}, {"rename", "json", {"b:c"}}}).removes_top_level_keys_only);
  EXPECT_FALSE(make({{"remove", "headers", {"x"}}}).removes_top_level_keys_only);
}

TEST(ResponseTransformerHeaders, EveryOperationInKongOrder) {
  auto c = make({{"remove", "headers", {"x-remove", "x-gone"}},
                 {"rename", "headers", {"x-old:x-new", "x-missing:x-nothing"}},
                 {"replace", "headers", {"x-rep:replaced", "x-absent:no"}},
                 {"add", "headers", {"x-add:added", "x-rep:not-added", "x-new:not-added"}},
                 {"append", "headers", {"x-multi:two", "x-app:v"}}});
  http::HeaderList h{{"X-Remove", "1"},
                     {"x-old", "o1"},
                     {"X-Old", "o2"},
                     {"X-Rep", "a"},
                     {"x-rep", "b"},
                     {"X-Multi", "one"},
                     {"Content-Type", "text/plain"}};
  transform_headers(c, h);
  http::HeaderList expected{
      {"X-Rep", "replaced"}, {"X-Multi", "one"}, {"Content-Type", "text/plain"},
      {"x-new", "o1"},       {"x-new", "o2"},    {"x-add", "added"},
      {"x-multi", "two"},    {"x-app", "v"}};
  EXPECT_EQ(h, expected);
}

TEST(ResponseTransformerHeaders, RemoveThenAddAddsAgain) {
  auto c = make({{"remove", "headers", {"server"}}, {"add", "headers", {"server:suoke"}}});
  http::HeaderList h{{"Server", "nginx"}};
  transform_headers(c, h);
  EXPECT_EQ(h, (http::HeaderList{{"server", "suoke"}}));
}

TEST(ResponseTransformerContentType, JsonDetection) {
  for (const char* yes :
       {"application/json", "Application/JSON; charset=utf-8", "application/problem+json",
        "application/vnd.api+json;v=1", "text/html, application/json", " application/json "}) {
    EXPECT_TRUE(is_json_content_type(yes)) << yes;
  }
  for (const char* no :
       {"", "text/plain", "application/jsonx", "text/json", "application/javascript", "json",
        "application/+json", "multipart/form-data; boundary=json"}) {
    EXPECT_FALSE(is_json_content_type(no)) << no;
  }
}

TEST(ResponseTransformerConfig, HasJsonTransform) {
  EXPECT_FALSE(make({{"remove", "headers", {"a"}}}).has_json_transform());
  EXPECT_TRUE(make({{"rename", "json", {"a:b"}}}).has_json_transform());
}

}  // namespace
}  // namespace suoke::gateway::plugins::response_transformer
