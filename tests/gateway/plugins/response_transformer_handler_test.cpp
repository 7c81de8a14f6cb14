// The response-transformer handler's phases as the proxy drives them: header_filter decides,
// body_filter buffers and emits; compressed, oversize and invalid bodies; the decoder.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "gateway/plugins/response_transformer/decoder.h"
#include "gateway/plugins/response_transformer/handler.h"
#include "gateway/plugins/response_transformer_test_util.h"

namespace suoke::gateway::plugins::response_transformer {
namespace {

namespace json = boost::json;

class Headers : public HeaderView {
 public:
  explicit Headers(http::HeaderList h = {}) : h_(std::move(h)) {}
  std::size_t size() const override { return h_.size(); }
  std::string_view name(std::size_t i) const override { return h_[i].first; }
  std::string_view value(std::size_t i) const override { return h_[i].second; }
  std::string_view get(std::string_view n) const override { return http::find_header(h_, n); }

 private:
  http::HeaderList h_;
};

struct Fixture {
  explicit Fixture(std::vector<testing::RtEntries> entries, Limits limits = {}) {
    entity.name = "response-transformer";
    entity.config = testing::rt_config(entries);
    auto config = parse_config(entity.config);
    handler = std::make_unique<Handler>(entity, std::move(config).value(), limits);
    ctx.method = "GET";
    ctx.request_headers = &request_headers;
  }

  // Runs header_filter, then body_filter over `pieces` (the last with eof). Returns the
  // body the client receives.
  std::string respond(ResponseHead& head, const std::vector<std::string>& pieces) {
    handler->header_filter(ctx, head);
    std::string out;
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      std::string chunk = pieces[i];
      handler->body_filter(ctx, chunk, i + 1 == pieces.size());
      out += chunk;
    }
    return out;
  }

  gateway::Plugin entity;
  Headers request_headers;
  RequestContext ctx;
  std::unique_ptr<Handler> handler;
};

ResponseHead json_head(std::size_t length, http::HeaderList extra = {}) {
  ResponseHead head;
  head.status = 200;
  head.headers = {{"Content-Type", "application/json; charset=utf-8"}};
  if (length != std::string::npos)
    head.headers.emplace_back("Content-Length", std::to_string(length));
  for (auto& h : extra) head.headers.push_back(h);
  return head;
}

std::vector<std::string> split(const std::string& s, std::size_t piece) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < s.size(); i += piece) out.push_back(s.substr(i, piece));
  if (out.empty()) out.emplace_back();
  return out;
}

const std::string kHealth =
    R"({"records":[{"id":1,"sensitive_data":"s1","v":36.5},{"id":2,"sensitive_data":{"x":1}}],)"
    R"("data":{"user":{"name":"li","personal_info":{"phone":"1"}}}})";
const std::string kHealthClean =
    R"({"records":[{"id":1,"v":36.5},{"id":2}],"data":{"user":{"name":"li"}}})";
const std::vector<testing::RtEntries> kHealthConfig = {
    {"remove", "json", {"records[*].sensitive_data", "data.user.personal_info"}}};

TEST(ResponseTransformerHandler, AsksUpstreamForIdentityOnlyForJsonTransforms) {
  Fixture json_cfg(kHealthConfig);
  json_cfg.ctx.upstream_headers.emplace_back("accept-encoding", "gzip");
  json_cfg.handler->access(json_cfg.ctx);
  EXPECT_EQ(json_cfg.ctx.upstream_headers, (http::HeaderList{{"accept-encoding", "identity"}}));

  Fixture headers_only({{"add", "headers", {"x-a:1"}}});
  headers_only.handler->access(headers_only.ctx);
  EXPECT_TRUE(headers_only.ctx.upstream_headers.empty());
}

TEST(ResponseTransformerHandler, TransformsChunkedPiecesAndDropsContentLength) {
  Fixture f(kHealthConfig);
  ResponseHead head = json_head(kHealth.size(), {{"X-Up", "1"}});
  std::string body = f.respond(head, split(kHealth, 7));
  EXPECT_EQ(body, kHealthClean);
  EXPECT_EQ(http::find_header(head.headers, "content-length"), "");
  EXPECT_EQ(http::find_header(head.headers, "x-up"), "1");
  EXPECT_EQ(head.status, 200);
}

TEST(ResponseTransformerHandler, HeadersAndJsonTogether) {
  Fixture f({{"remove", "headers", {"server"}},
             {"add", "headers", {"x-transformed:yes"}},
             {"add", "json", {"meta.source:suoke"}}});
  ResponseHead head = json_head(2, {{"Server", "up"}});
  EXPECT_EQ(f.respond(head, {"{}"}), R"({"meta":{"source":"suoke"}})");
  EXPECT_EQ(http::find_header(head.headers, "server"), "");
  EXPECT_EQ(http::find_header(head.headers, "x-transformed"), "yes");
}

TEST(ResponseTransformerHandler, NonJsonIsUntouched) {
  Fixture f(kHealthConfig);
  ResponseHead head;
  head.status = 200;
  head.headers = {{"Content-Type", "text/plain"}, {"Content-Length", "11"}};
  EXPECT_EQ(f.respond(head, {"hello", " world"}), "hello world");
  EXPECT_EQ(http::find_header(head.headers, "content-length"), "11");

  Fixture no_type(kHealthConfig);
  ResponseHead bare;
  bare.status = 200;
  bare.headers = {{"Content-Length", "13"}};
  EXPECT_EQ(no_type.respond(bare, {R"({"records":1})"}), R"({"records":1})");
}

TEST(ResponseTransformerHandler, HeadAnd204AreUntouched) {
  Fixture f(kHealthConfig);
  f.ctx.method = "HEAD";
  ResponseHead head = json_head(100);
  f.handler->header_filter(f.ctx, head);
  EXPECT_EQ(http::find_header(head.headers, "content-length"), "100");

  Fixture g(kHealthConfig);
  ResponseHead no_content = json_head(std::string::npos);
  no_content.status = 204;
  EXPECT_EQ(g.respond(no_content, {""}), "");
}

TEST(ResponseTransformerHandler, InvalidJsonPassesThroughUnchanged) {
  Fixture f(kHealthConfig);
  ResponseHead head = json_head(std::string::npos);
  std::string broken = R"({"records":[{"sensitive_data":1})";
  EXPECT_EQ(f.respond(head, split(broken, 5)), broken);
}

TEST(ResponseTransformerHandler, DecodesGzipDeflateAndRawDeflate) {
  for (const char* encoding : {"gzip", "x-gzip", "deflate", "raw"}) {
    std::string encoded = std::string_view(encoding) == "deflate" ? testing::zlib_deflate(kHealth)
                          : std::string_view(encoding) == "raw"   ? testing::raw_deflate(kHealth)
                                                                  : testing::gzip(kHealth);
    Fixture f(kHealthConfig);
    std::string ce = std::string_view(encoding) == "raw" ? "deflate" : encoding;
    ResponseHead head = json_head(encoded.size(), {{"Content-Encoding", ce}});
    EXPECT_EQ(f.respond(head, split(encoded, 3)), kHealthClean) << encoding;
    EXPECT_EQ(http::find_header(head.headers, "content-encoding"), "") << encoding;
    EXPECT_EQ(http::find_header(head.headers, "content-length"), "") << encoding;
  }
}

TEST(ResponseTransformerHandler, CorruptGzipNeverLeaksTheBody) {
  std::string encoded = testing::gzip(kHealth);
  encoded[encoded.size() - 6] ^= 0x55;  // CRC-32
  Fixture f(kHealthConfig);
  ResponseHead head = json_head(encoded.size(), {{"Content-Encoding", "gzip"}});
  std::string body = f.respond(head, {encoded});
  EXPECT_EQ(body.find("sensitive_data"), std::string::npos);
  EXPECT_NE(body.find("invalid compressed response body"), std::string::npos);

  Fixture truncated(kHealthConfig);
  ResponseHead head2 = json_head(std::string::npos, {{"Content-Encoding", "gzip"}});
  body = truncated.respond(head2, {encoded.substr(0, encoded.size() / 2)});
  EXPECT_EQ(body.find("sensitive_data"), std::string::npos);
}

TEST(ResponseTransformerHandler, UnsupportedEncodingIs502) {
  Fixture f(kHealthConfig);
  ResponseHead head = json_head(10, {{"Content-Encoding", "br"}});
  std::string body = f.respond(head, {"0123456789"});
  EXPECT_EQ(head.status, 502);
  EXPECT_EQ(http::find_header(head.headers, "content-encoding"), "");
  EXPECT_EQ(http::find_header(head.headers, "content-length"), "");
  EXPECT_EQ(json::parse(body).at("message"),
            "response body with Content-Encoding br cannot be transformed");
}

TEST(ResponseTransformerHandler, OversizeContentLengthIs502) {
  Limits limits;
  limits.max_body_bytes = 16;
  Fixture f(kHealthConfig, limits);
  ResponseHead head = json_head(kHealth.size(), {{"ETag", "\"x\""}});
  std::string body = f.respond(head, split(kHealth, 10));
  EXPECT_EQ(head.status, 502);
  EXPECT_EQ(body, R"x({"message":"response body too large to transform (limit 16 bytes)"})x");
  EXPECT_EQ(http::find_header(head.headers, "content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(http::find_header(head.headers, "content-length"), "");
  EXPECT_EQ(http::find_header(head.headers, "etag"), "");
  EXPECT_EQ(oversize_message(16), body);
}

TEST(ResponseTransformerHandler, OversizePassThroughKeepsTheBody) {
  Limits limits;
  limits.max_body_bytes = 16;
  limits.pass_through_oversize = true;
  Fixture f(kHealthConfig, limits);
  ResponseHead head = json_head(kHealth.size());
  EXPECT_EQ(f.respond(head, split(kHealth, 10)), kHealth);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(http::find_header(head.headers, "content-length"), std::to_string(kHealth.size()));
}

TEST(ResponseTransformerHandler, ChunkedOversizeAbortsWithoutLeaking) {
  Limits limits;
  limits.max_body_bytes = 40;
  Fixture f(kHealthConfig, limits);
  ResponseHead head = json_head(std::string::npos);
  std::string body = f.respond(head, split(kHealth, 10));
  // The head is gone already: the response is aborted and nothing of the body leaks.
  EXPECT_TRUE(f.ctx.abort_response);
  EXPECT_EQ(body.find("sensitive_data"), std::string::npos) << body;
  EXPECT_EQ(body.find("secret"), std::string::npos) << body;
}

TEST(ResponseTransformerHandler, ChunkedOversizePassThroughStreams) {
  Limits limits;
  limits.max_body_bytes = 40;
  limits.pass_through_oversize = true;
  Fixture f(kHealthConfig, limits);
  ResponseHead head = json_head(std::string::npos);
  EXPECT_EQ(f.respond(head, split(kHealth, 10)), kHealth);

  // A gzip body over the cap once decoded streams decoded (Content-Encoding is gone).
  std::string big = R"({"pad":")" + std::string(100000, 'a') + R"("})";
  std::string encoded = testing::gzip(big);
  Fixture g(kHealthConfig, limits);
  ResponseHead gz = json_head(std::string::npos, {{"Content-Encoding", "gzip"}});
  std::string got = g.respond(gz, split(encoded, 7));
  EXPECT_TRUE(got == big) << got.size() << " bytes, starting " << got.substr(0, 40);
}

TEST(ResponseTransformerHandler, GzipBombStopsAtTheCap) {
  Limits limits;
  limits.max_body_bytes = 1 << 20;
  std::string big = R"({"pad":")" + std::string(8 << 20, 'a') + R"("})";
  std::string encoded = testing::gzip(big);
  ASSERT_LT(encoded.size(), limits.max_body_bytes);  // the Content-Length looks harmless
  Fixture f(kHealthConfig, limits);
  ResponseHead head = json_head(encoded.size(), {{"Content-Encoding", "gzip"}});
  // Decoding grows past the cap after the head is sent: aborted, nothing forwarded.
  EXPECT_EQ(f.respond(head, split(encoded, 4096)), "");
  EXPECT_TRUE(f.ctx.abort_response);
}

TEST(ResponseTransformerHandler, ExitBodiesAreTransformedToo) {
  // The proxy runs header_filter/body_filter on exits (e.g. a jwt 401) with the whole body.
  Fixture f({{"add", "json", {"hint:login"}}});
  ResponseHead head = json_head(std::string::npos);
  head.status = 401;
  EXPECT_EQ(f.respond(head, {R"({"message":"Unauthorized"})"}),
            R"({"message":"Unauthorized","hint":"login"})");
}

TEST(ResponseTransformerLimits, FromEnvironment) {
  ::setenv("SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES", "1234", 1);
  ::setenv("SUOKE_RESPONSE_TRANSFORMER_OVERSIZE", "pass-through", 1);
  Limits l = Limits::from_environment();
  EXPECT_EQ(l.max_body_bytes, 1234u);
  EXPECT_TRUE(l.pass_through_oversize);
  ::setenv("SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES", "12x", 1);
  ::setenv("SUOKE_RESPONSE_TRANSFORMER_OVERSIZE", "maybe", 1);
  l = Limits::from_environment();
  EXPECT_EQ(l.max_body_bytes, kDefaultMaxBodyBytes);
  EXPECT_FALSE(l.pass_through_oversize);
  ::unsetenv("SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES");
  ::unsetenv("SUOKE_RESPONSE_TRANSFORMER_OVERSIZE");
  l = Limits::from_environment();
  EXPECT_EQ(l.max_body_bytes, 8u * 1024 * 1024);
}

TEST(ResponseTransformerDecoder, ByteByByteAndMultiMember) {
  std::string a = "hello ", b = "world";
  std::string encoded = testing::gzip(a) + testing::gzip(b);
  BodyDecoder d(BodyDecoder::Format::kGzip);
  std::string out;
  for (char c : encoded) ASSERT_TRUE(d.feed(std::string_view(&c, 1), out, 1 << 20).ok());
  EXPECT_TRUE(d.finish().ok());
  EXPECT_EQ(out, "hello world");
}

TEST(ResponseTransformerDecoder, RejectsGarbage) {
  BodyDecoder d(BodyDecoder::Format::kGzip);
  std::string out;
  EXPECT_FALSE(d.feed("not gzip at all", out, 1 << 20).ok());

  BodyDecoder trailing(BodyDecoder::Format::kGzip);
  EXPECT_FALSE(trailing.feed(testing::gzip("x") + "junk", out, 1 << 20).ok());

  BodyDecoder empty(BodyDecoder::Format::kDeflate);
  EXPECT_FALSE(empty.finish().ok());

  BodyDecoder header_fields(BodyDecoder::Format::kGzip);
  // FNAME set: a zero-terminated name precedes the data.
  std::string named("\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\x03name.json\0", 20);
  std::string plain = testing::gzip("{}");
  named += plain.substr(10);
  out.clear();
  EXPECT_TRUE(header_fields.feed(named, out, 1 << 20).ok());
  EXPECT_TRUE(header_fields.finish().ok());
  EXPECT_EQ(out, "{}");
}

}  // namespace
}  // namespace suoke::gateway::plugins::response_transformer
