// http::MessageParser (src/http/parser.h): every rejection with its error, every framing, and
// the same result whether a message arrives in one piece, split at any byte or byte by byte.
#include "http/parser.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace suoke::http {
namespace {

using E = bhttp::error;

struct Options {
  Limits limits;
  bool skip = false;        // response to HEAD
  bool eof = false;         // the peer closes after the input
  bool chunk_sink = false;  // re-frame body pieces as chunks
};

struct Result {
  beast::error_code ec;
  bool done = false;
  std::size_t used = 0;  // bytes of this message consumed
  std::string method, target, reason, body;
  bhttp::verb verb = bhttp::verb::unknown;
  int version = 0, status = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<bhttp::field> ids;
  bool keep_alive = false, chunked = false, expect_continue = false;
  std::optional<uint64_t> content_length;
  uint64_t body_bytes = 0;

  bool operator==(const Result&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  os << "{ec=" << r.ec.message() << " done=" << r.done << " used=" << r.used << " body=" << r.body
     << " fields=" << r.fields.size() << "}";
  return os;
}

// Feeds `msg` as a connection does: `first` bytes, then `piece` bytes at a time, each put()
// seeing the unconsumed bytes plus the new ones.
template <bool isRequest>
Result parse(std::string_view msg, const Options& o, std::size_t first, std::size_t piece) {
  HeaderStore store;
  MessageParser<isRequest> p(store, o.limits);
  if (o.skip) p.skip(true);
  Result r;
  p.set_sink(BodySink{&r.body, o.chunk_sink});
  std::string buffered;
  std::size_t fed = 0;
  for (;;) {
    std::size_t n = std::min(fed == 0 ? first : piece, msg.size() - fed);
    buffered.append(msg.substr(fed, n));
    fed += n;
    if (buffered.empty()) break;
    beast::error_code ec;
    std::size_t used = p.put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
    EXPECT_LE(used, buffered.size());
    buffered.erase(0, used);
    r.used += used;
    if (ec && ec != E::need_more) {
      r.ec = ec;
      break;
    }
    if (p.is_done()) break;
    if (fed == msg.size() && (used == 0 || ec == E::need_more)) break;
  }
  if (!r.ec && !p.is_done() && o.eof) p.put_eof(r.ec);
  if (!r.ec && !p.is_done()) r.ec = E::need_more;
  r.done = p.is_done();
  if (p.is_header_done() && (!r.ec || r.ec == E::need_more)) {
    r.method = p.method_string();
    r.verb = p.method();
    r.target = isRequest ? p.target() : std::string_view{};
    r.reason = isRequest ? std::string_view{} : p.reason();
    r.version = p.version();
    r.status = p.status();
    for (std::size_t i = 0; i < store.size(); ++i) {
      r.fields.emplace_back(store.name(i), store.value(i));
      r.ids.push_back(store.id(i));
    }
    r.keep_alive = p.keep_alive();
    r.chunked = p.chunked();
    r.expect_continue = p.expect_continue();
    r.content_length = p.content_length();
    r.body_bytes = p.body_bytes();
  }
  return r;
}

// Parses in one piece, then split at every byte position, then byte by byte; all must agree.
template <bool isRequest>
Result parse_all(std::string_view msg, const Options& o = {}) {
  Result whole = parse<isRequest>(msg, o, msg.size(), msg.size());
  for (std::size_t k = 1; k < msg.size(); ++k) {
    Result split = parse<isRequest>(msg, o, k, msg.size());
    EXPECT_EQ(split, whole) << "split at " << k << " of " << testing::PrintToString(msg);
    if (split != whole) break;
  }
  EXPECT_EQ((parse<isRequest>(msg, o, 1, 1)), whole) << "byte by byte";
  return whole;
}

Result req(std::string_view msg, const Options& o = {}) { return parse_all<true>(msg, o); }
Result resp(std::string_view msg, const Options& o = {}) { return parse_all<false>(msg, o); }

constexpr std::string_view kHost = "Host: h\r\n";

std::string get_with(std::string_view fields) {
  return "GET / HTTP/1.1\r\n" + std::string(kHost) + std::string(fields) + "\r\n";
}

// ---- request line ----

TEST(ParserRequestLine, Valid) {
  Result r = req("PATCH /a/b?c=d%20e HTTP/1.0\r\n\r\n");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.method, "PATCH");
  EXPECT_EQ(r.verb, bhttp::verb::patch);
  EXPECT_EQ(r.target, "/a/b?c=d%20e");
  EXPECT_EQ(r.version, 10);
  EXPECT_FALSE(r.keep_alive);
  r = req("FOO * HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.verb, bhttp::verb::unknown);
  EXPECT_EQ(r.method, "FOO");
  EXPECT_EQ(r.target, "*");
  EXPECT_EQ(r.version, 11);
  EXPECT_TRUE(r.keep_alive);
}

TEST(ParserRequestLine, Rejections) {
  const std::pair<std::string_view, E> cases[] = {
      {"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_method},
      {" GET / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_method},
      {"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_method},
      {"GET\r\n\r\n", E::bad_method},
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target},
      {"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target},
      {"GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target},
      {"GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", E::bad_target},
      {"GET /\r\n\r\n", E::bad_target},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", E::bad_version},
      {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", E::bad_version},
      {"GET / http/1.1\r\nHost: h\r\n\r\n", E::bad_version},
      {"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", E::bad_version},
      {"GET / HTTP/1.10\r\nHost: h\r\n\r\n", E::bad_version},
      {"GET / HTTP/1.1\nHost: h\r\n\r\n", E::bad_version},  // bare LF, as Beast
      {"GET / HTTP/1.1\rHost: h\r\n\r\n", E::bad_line_ending},
  };
  for (const auto& [msg, want] : cases) {
    EXPECT_EQ(req(msg).ec, want) << testing::PrintToString(msg);
  }
}

// ---- fields ----

TEST(ParserFields, ValuesAreTrimmedAndKeptInOrder) {
  Result r = req(get_with("X-A:  one two \t\r\nx-a:two\r\nEmpty:\r\nObs: caf\xc3\xa9\tok\r\n"));
  ASSERT_FALSE(r.ec) << r.ec.message();
  std::vector<std::pair<std::string, std::string>> want = {
      {"Host", "h"}, {"X-A", "one two"}, {"x-a", "two"}, {"Empty", ""}, {"Obs", "caf\xc3\xa9\tok"}};
  EXPECT_EQ(r.fields, want);
}

TEST(ParserFields, Rejections) {
  const std::pair<std::string, E> cases[] = {
      {get_with("Bad Name: x\r\n"), E::bad_field},
      {get_with("Name : x\r\n"), E::bad_field},
      {get_with(": x\r\n"), E::bad_field},
      {get_with("NoColon\r\n"), E::bad_field},
      {get_with("N(ame): x\r\n"), E::bad_field},
      {get_with("X: a\x01z\r\n"), E::bad_value},
      {get_with("X: a\x7fz\r\n"), E::bad_value},
      {get_with(std::string("X: a\0z\r\n", 8)), E::bad_value},
      {get_with("X: a\nY: b\r\n"), E::bad_value},  // bare LF, as Beast
      {get_with("X: a\rz\r\n"), E::bad_line_ending},
      {get_with("X: a\r\n b\r\n"), E::bad_obs_fold},
      {get_with("X: a\r\n\tb\r\n"), E::bad_obs_fold},
      {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", E::bad_obs_fold},
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", E::bad_line_ending},
      {get_with("Connection: close;x\r\n"), E::bad_value},
      {get_with("Connection: a b\r\n"), E::bad_value},
      {"GET / HTTP/1.1\r\nX: y\r\n\r\n", E::bad_field},  // HTTP/1.1 without Host
  };
  for (const auto& [msg, want] : cases) {
    EXPECT_EQ(req(msg).ec, want) << testing::PrintToString(msg);
  }
  std::string nul_name = "GET / HTTP/1.1\r\nHost: h\r\nA";
  nul_name.push_back('\0');
  nul_name += ": b\r\n\r\n";
  EXPECT_EQ(req(nul_name).ec, E::bad_field);
}

TEST(ParserFields, IdsOfTheNamesTheGatewayCompares) {
  const std::pair<std::string_view, bhttp::field> cases[] = {
      {"Host", bhttp::field::host},
      {"HOST", bhttp::field::host},
      {"connection", bhttp::field::connection},
      {"Content-Length", bhttp::field::content_length},
      {"transfer-ENCODING", bhttp::field::transfer_encoding},
      {"Expect", bhttp::field::expect},
      {"Upgrade", bhttp::field::upgrade},
      {"Trailer", bhttp::field::trailer},
      {"TE", bhttp::field::te},
      {"Proxy-Connection", bhttp::field::proxy_connection},
      {"Keep-Alive", bhttp::field::keep_alive},
      {"Content-Type", bhttp::field::unknown},
      {"Date", bhttp::field::unknown},
      {"Hosts", bhttp::field::unknown},
      {"Hos", bhttp::field::unknown},
      {"Keep_Alive", bhttp::field::unknown},
      {"Content-Lengtx", bhttp::field::unknown},
      {"X-Request-Id", bhttp::field::unknown},
      {"Accept", bhttp::field::unknown},
      {"Tf", bhttp::field::unknown},
  };
  for (const auto& [name, id] : cases) EXPECT_EQ(classify_field(name), id) << name;
  Result r = req(get_with("CONNECTION: keep-alive\r\nX-Y: z\r\nTe: trailers\r\n"));
  ASSERT_FALSE(r.ec);
  std::vector<bhttp::field> ids = {bhttp::field::host, bhttp::field::connection,
                                   bhttp::field::unknown, bhttp::field::te};
  EXPECT_EQ(r.ids, ids);
  HeaderStore store;
  Limits limits;
  RequestParser p(store, limits);
  std::string msg = get_with("X-Request-Id: abc\r\n");
  beast::error_code ec;
  p.put(boost::asio::buffer(msg), ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(store.find("x-request-ID"), "abc");
  EXPECT_EQ(store.find(bhttp::field::host), "h");
  EXPECT_TRUE(store.find("absent").empty());
}

TEST(ParserFields, KeepAliveAndExpect) {
  EXPECT_TRUE(req(get_with("")).keep_alive);
  EXPECT_FALSE(req(get_with("Connection: Close\r\n")).keep_alive);
  EXPECT_FALSE(req(get_with("Connection: upgrade, close\r\n")).keep_alive);
  EXPECT_TRUE(req(get_with("Connection: closed\r\n")).keep_alive);
  EXPECT_FALSE(req("GET / HTTP/1.0\r\n\r\n").keep_alive);
  EXPECT_TRUE(req("GET / HTTP/1.0\r\nConnection: ,Keep-Alive\r\n\r\n").keep_alive);
  EXPECT_TRUE(req(get_with("Expect: 100-Continue\r\n")).expect_continue);
  EXPECT_FALSE(req(get_with("Expect: 100-continue-x\r\n")).expect_continue);
}

// ---- framing ----

TEST(ParserFraming, ContentLength) {
  Result r = req("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.body_bytes, 5u);
  EXPECT_EQ(r.content_length, 5u);
  EXPECT_FALSE(r.chunked);
  // Identical repeats are one length.
  r = req("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.body, "hi");
  // No length, no chunked: a request has no body.
  r = req("POST /p HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.content_length, std::nullopt);
  // Re-framed as one chunk per piece when the sink asks for it.
  Options o;
  o.chunk_sink = true;
  r = parse<true>("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", o, 1000, 1000);
  EXPECT_EQ(r.body, "5\r\nhello\r\n");
}

TEST(ParserFraming, ContentLengthRejections) {
  const std::pair<std::string_view, E> cases[] = {
      {"1a", E::bad_content_length},
      {"-1", E::bad_content_length},
      {"+1", E::bad_content_length},
      {"", E::bad_content_length},
      {"5, 5", E::bad_content_length},
      {"1 2", E::bad_content_length},
      {"18446744073709551616", E::bad_content_length},
  };
  for (const auto& [value, want] : cases) {
    std::string msg = get_with("Content-Length: " + std::string(value) + "\r\n");
    EXPECT_EQ(req(msg).ec, want) << value;
  }
  EXPECT_EQ(req(get_with("Content-Length: 5\r\nContent-Length: 6\r\n")).ec,
            E::multiple_content_length);
  // Either order of Content-Length and Transfer-Encoding is a smuggling attempt.
  EXPECT_EQ(req(get_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")).ec,
            E::bad_content_length);
  EXPECT_EQ(req(get_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")).ec,
            E::bad_transfer_encoding);
  EXPECT_EQ(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n").ec,
            E::bad_content_length);
  std::string max = get_with("Content-Length: 18446744073709551615\r\n");
  Options unlimited;
  unlimited.limits.max_body_bytes = 0;
  Result r = parse<true>(max, unlimited, max.size(), max.size());
  EXPECT_FALSE(r.done);
  EXPECT_EQ(r.ec, E::need_more);
  EXPECT_EQ(r.content_length, UINT64_MAX);
}

TEST(ParserFraming, TransferEncodingRejections) {
  const std::pair<std::string_view, E> cases[] = {
      {"Transfer-Encoding: chunked, gzip\r\n", E::bad_transfer_encoding},
      {"Transfer-Encoding: gzip\r\n", E::bad_transfer_encoding},  // request: no length
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", E::bad_transfer_encoding},
      {"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n", E::bad_transfer_encoding},
      {"Transfer-Encoding:\r\n", E::bad_transfer_encoding},
      {"Transfer-Encoding: chunked;q=1\r\n", E::bad_transfer_encoding},
  };
  for (const auto& [fields, want] : cases) {
    EXPECT_EQ(req(get_with(fields)).ec, want) << fields;
  }
  EXPECT_EQ(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").ec,
            E::bad_transfer_encoding);
}

TEST(ParserFraming, Chunked) {
  std::string msg =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "5\r\nhello\r\n"
      "1;name=value;flag ; q=\"a\\\"b\"\r\n!\r\n"
      "A\r\n0123456789\r\n"
      "0;last\r\nX-Trailer: t\r\nOther: u\r\n\r\n";
  Result r = req(msg);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(r.chunked);
  EXPECT_EQ(r.used, msg.size());
  EXPECT_EQ(r.body, "hello!0123456789");
  EXPECT_EQ(r.body_bytes, 16u);
  EXPECT_EQ(r.content_length, std::nullopt);
  // Trailer fields are not added to the store.
  EXPECT_EQ(r.fields.size(), 2u);
  r = req("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n000\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_TRUE(r.body.empty());
  // Trailers never change framing or keep-alive.
  r =
      req("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0\r\nConnection: close\r\nContent-Length: 9\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_TRUE(r.keep_alive);
}

TEST(ParserFraming, ChunkedRejections) {
  const std::string head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::pair<std::string_view, E> cases[] = {
      {"g\r\nx\r\n0\r\n\r\n", E::bad_chunk},
      {" 1\r\nx\r\n0\r\n\r\n", E::bad_chunk},
      {"10000000000000000\r\n", E::bad_chunk},
      {"1\r\nxy\r\n0\r\n\r\n", E::bad_chunk},
      {"1\r\nx\n0\r\n\r\n", E::bad_chunk},
      {"1 \r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1;\r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1;a=\r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1;a b\r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1;a=\"b\r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1;a=\"\x01\"\r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"0x1\r\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1\nx\r\n0\r\n\r\n", E::bad_chunk_extension},
      {"1\rx\r\n0\r\n\r\n", E::bad_line_ending},
      {"0\r\nBad Name: x\r\n\r\n", E::bad_field},
      {"0\r\nX: a\x01\r\n\r\n", E::bad_value},
      {"0\r\nX: a\r\n b\r\n\r\n", E::bad_obs_fold},
      {"0\r\n\r\r\n", E::bad_line_ending},
  };
  for (const auto& [body, want] : cases) {
    EXPECT_EQ(req(head + std::string(body)).ec, want) << testing::PrintToString(body);
  }
}

TEST(ParserFraming, Responses) {
  Result r = resp("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.body, "abc");
  EXPECT_TRUE(r.keep_alive);
  r = resp("HTTP/1.0 404 \r\n\r\n", Options{.limits = {}, .eof = true});
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.reason, "");
  EXPECT_EQ(r.version, 10);
  r = resp(
      "HTTP/1.1 200 Fine \t\x80\xff ok\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(r.reason, "Fine \t\x80\xff ok");
  EXPECT_EQ(r.body, "abc");
  EXPECT_TRUE(r.chunked);
  EXPECT_TRUE(r.keep_alive);
  // No body whatever the head says: 1xx, 204, 304 and the answer to HEAD.
  for (std::string_view status : {"100", "103", "204", "304"}) {
    r = resp("HTTP/1.1 " + std::string(status) + " X\r\nContent-Length: 5\r\n\r\n");
    EXPECT_FALSE(r.ec) << status;
    EXPECT_TRUE(r.done) << status;
    EXPECT_EQ(r.content_length, 5u);
  }
  Options head;
  head.skip = true;
  std::string msg = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  r = resp(msg, head);
  ASSERT_FALSE(r.ec);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.used, msg.size());
  EXPECT_EQ(r.content_length, 5u);
  r = resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", head);
  ASSERT_FALSE(r.ec);
  EXPECT_TRUE(r.done);
}

TEST(ParserFraming, ResponseUntilEof) {
  Options eof;
  eof.eof = true;
  for (std::string_view te : {"", "Transfer-Encoding: gzip\r\n"}) {
    std::string msg = "HTTP/1.1 200 OK\r\n" + std::string(te) + "\r\nall of it";
    Result r = resp(msg, eof);
    ASSERT_FALSE(r.ec) << r.ec.message();
    EXPECT_TRUE(r.done);
    EXPECT_EQ(r.body, "all of it");
    EXPECT_FALSE(r.keep_alive);
    EXPECT_FALSE(r.chunked);
    // Without the EOF the body goes on.
    r = parse<false>(msg, {}, msg.size(), msg.size());
    EXPECT_FALSE(r.done);
  }
  // A length or chunked body cut short by EOF is partial.
  EXPECT_EQ(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", eof).ec, E::partial_message);
  EXPECT_EQ(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n", eof).ec,
            E::partial_message);
  EXPECT_EQ(resp("HTTP/1.1 200 OK\r\nContent-", eof).ec, E::partial_message);
}

TEST(ParserStatusLine, Rejections) {
  const std::pair<std::string_view, E> cases[] = {
      {"HTTP/1.1 2x0 OK\r\n\r\n", E::bad_status},
      {"HTTP/1.1 200\r\n\r\n", E::bad_status},
      {"HTTP/1.1 2000 OK\r\n\r\n", E::bad_status},
      {"HTTP/1.1  200 OK\r\n\r\n", E::bad_status},
      {"HTTP/1.2 200 OK\r\n\r\n", E::bad_version},
      {"HTTP/1.1\r\n\r\n", E::bad_version},
      {"HTTP/1.1_200 OK\r\n\r\n", E::bad_version},
      {"HTTPS/1.1 200 OK\r\n\r\n", E::bad_version},
      {"HTTP/1.1 200 O\x01K\r\n\r\n", E::bad_reason},
      {"HTTP/1.1 200 O\x7fK\r\n\r\n", E::bad_reason},
      {"HTTP/1.1 200 OK\nX: y\r\n\r\n", E::bad_reason},
  };
  for (const auto& [msg, want] : cases) {
    EXPECT_EQ(resp(msg).ec, want) << testing::PrintToString(msg);
  }
}

// ---- limits ----

TEST(ParserLimits, HeaderLimitCountsTheWholeHead) {
  std::string msg = get_with("X: " + std::string(40, 'v') + "\r\n");
  Options o;
  o.limits.max_header_bytes = msg.size();
  Result r = req(msg, o);
  EXPECT_FALSE(r.ec) << r.ec.message();
  o.limits.max_header_bytes = msg.size() - 1;
  r = req(msg, o);
  EXPECT_EQ(r.ec, E::header_limit);
  EXPECT_EQ(status_for_parse_error(r.ec), 431);
  // Reached mid-line with no end in sight.
  o.limits.max_header_bytes = 20;
  EXPECT_EQ(req(msg, o).ec, E::header_limit);
  // Trailers and chunk-size lines are bounded by it too.
  std::string chunked =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "1\r\nx\r\n0\r\nX: " +
      std::string(100, 't') + "\r\n\r\n";
  o.limits.max_header_bytes = 100;
  EXPECT_EQ(req(chunked, o).ec, E::header_limit);
  std::string ext = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                    std::string(120, 'e') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_EQ(req(ext, o).ec, E::header_limit);
}

TEST(ParserLimits, BodyLimitCountsDecodedBytes) {
  Options o;
  o.limits.max_body_bytes = 4;
  Result r = req("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", o);
  EXPECT_EQ(r.ec, E::body_limit);
  EXPECT_EQ(status_for_parse_error(r.ec), 413);
  EXPECT_FALSE(req("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nhell", o).ec);
  const std::string head = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_FALSE(req(head + "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", o).ec);
  EXPECT_EQ(req(head + "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n", o).ec, E::body_limit);
  Options eof = o;
  eof.eof = true;
  EXPECT_FALSE(resp("HTTP/1.1 200 OK\r\n\r\nabcd", eof).ec);
  EXPECT_EQ(parse<false>("HTTP/1.1 200 OK\r\n\r\nabcde", eof, 100, 100).ec, E::body_limit);
  EXPECT_EQ(status_for_parse_error(E::bad_field), 400);
}

// ---- connection use ----

TEST(ParserConnection, PipelinedMessagesOneAtATime) {
  std::string stream =
      "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n";
  HeaderStore store;
  Limits limits;
  std::string body;
  std::optional<RequestParser> p;
  std::vector<std::string> seen;
  std::string_view rest = stream;
  for (int i = 0; i < 3; ++i) {
    p.emplace(store, limits);
    body.clear();
    p->set_sink({&body, false});
    beast::error_code ec;
    std::size_t used = p->put(boost::asio::buffer(rest.data(), rest.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(p->is_done());
    seen.push_back(std::string(p->target()) + ":" + body + ":" + std::to_string(store.size()));
    rest.remove_prefix(used);
  }
  EXPECT_TRUE(rest.empty());
  std::vector<std::string> want = {"/1:abc:2", "/2::1", "/3:z:2"};
  EXPECT_EQ(seen, want);
}

TEST(ParserConnection, NotEagerStopsAfterTheHead) {
  HeaderStore store;
  Limits limits;
  RequestParser p(store, limits);
  p.eager(false);
  std::string body;
  p.set_sink({&body, false});
  std::string msg = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
  beast::error_code ec;
  std::size_t used = p.put(boost::asio::buffer(msg), ec);
  ASSERT_FALSE(ec);
  EXPECT_TRUE(p.is_header_done());
  EXPECT_FALSE(p.is_done());
  EXPECT_EQ(used, msg.size() - 5);
  EXPECT_TRUE(body.empty());
  p.eager(true);
  used = p.put(boost::asio::buffer(msg.data() + used, 5), ec);
  ASSERT_FALSE(ec);
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(body, "hello");
}

TEST(ParserConnection, IncompleteHeadConsumesNothing) {
  HeaderStore store;
  Limits limits;
  RequestParser p(store, limits);
  std::string msg = "GET /x HTTP/1.1\r\nHost: h\r\nX-Long: ";
  beast::error_code ec;
  EXPECT_EQ(p.put(boost::asio::buffer(msg), ec), 0u);
  EXPECT_EQ(ec, E::need_more);
  EXPECT_TRUE(p.got_some());
  EXPECT_FALSE(p.is_header_done());
  msg += std::string(1000, 'a') + "\r\n\r\n";
  EXPECT_EQ(p.put(boost::asio::buffer(msg), ec), msg.size());
  EXPECT_FALSE(ec);
  EXPECT_TRUE(p.is_done());
  EXPECT_EQ(store.find("x-long").size(), 1000u);
  // A done parser refuses more input.
  EXPECT_EQ(p.put(boost::asio::buffer(msg), ec), 0u);
  EXPECT_EQ(ec, E::stale_parser);
}

}  // namespace
}  // namespace suoke::http
