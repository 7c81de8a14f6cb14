// RESP parser: every type, split feeds at every byte boundary, binary payloads, limits and
// precise errors for garbage.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redis/resp/encoder.h"
#include "redis/resp/parser.h"
#include "support/redis_value.h"

namespace suoke::redis::resp {
namespace {

using T = Value::Type;
using suoke::testing::same;

// Parses `wire` fed in one piece; expects exactly the values it holds and no leftover.
std::vector<Value> parse_all(std::string_view wire, ParserLimits limits = {}) {
  Parser p(limits);
  p.feed(wire);
  std::vector<Value> out;
  for (;;) {
    auto r = p.next();
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok() || !r->has_value()) break;
    out.push_back(std::move(**r));
  }
  EXPECT_EQ(p.buffered(), 0u);
  return out;
}

std::string parse_error(std::string_view wire, ParserLimits limits = {}) {
  Parser p(limits);
  p.feed(wire);
  for (;;) {
    auto r = p.next();
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind, "protocol");
      // Sticky: the stream cannot be resynchronised.
      auto again = p.next();
      EXPECT_FALSE(again.ok());
      EXPECT_TRUE(p.failed());
      return r.error().message;
    }
    if (!r->has_value()) return "";
  }
}

Value bulk(std::string s) {
  Value v;
  v.type = T::kBulkString;
  v.str = std::move(s);
  return v;
}

TEST(RespParser, Resp2Types) {
  auto v = parse_all("+OK\r\n-ERR bad thing\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n");
  ASSERT_EQ(v.size(), 9u);
  EXPECT_EQ(v[0].type, T::kSimpleString);
  EXPECT_EQ(v[0].str, "OK");
  EXPECT_TRUE(v[1].is_error());
  EXPECT_EQ(v[1].str, "ERR bad thing");
  EXPECT_EQ(v[2].integer, 42);
  EXPECT_EQ(v[3].integer, -7);
  EXPECT_EQ(v[4].str, "hello");
  EXPECT_EQ(v[5].type, T::kBulkString);
  EXPECT_EQ(v[5].str, "");
  EXPECT_TRUE(v[6].is_null());
  EXPECT_TRUE(v[7].is_null());
  EXPECT_EQ(v[8].type, T::kArray);
  EXPECT_TRUE(v[8].elements.empty());
}

TEST(RespParser, IntegerExtremes) {
  auto v = parse_all(":9223372036854775807\r\n:-9223372036854775808\r\n");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].integer, INT64_MAX);
  EXPECT_EQ(v[1].integer, INT64_MIN);
  EXPECT_NE(parse_error(":9223372036854775808\r\n").find("overflows"), std::string::npos);
}

TEST(RespParser, NestedArraysWithNil) {
  auto v = parse_all("*3\r\n*2\r\n:1\r\n$-1\r\n*0\r\n*1\r\n*1\r\n$1\r\nx\r\n");
  ASSERT_EQ(v.size(), 1u);
  ASSERT_EQ(v[0].elements.size(), 3u);
  EXPECT_EQ(v[0].elements[0].elements[0].integer, 1);
  EXPECT_TRUE(v[0].elements[0].elements[1].is_null());
  EXPECT_TRUE(v[0].elements[1].elements.empty());
  EXPECT_EQ(v[0].elements[2].elements[0].elements[0].str, "x");
}

TEST(RespParser, BinaryBulkWithNulCrLf) {
  std::string payload("a\0b\r\n\xff\xfe\r", 8);
  std::string wire = "$8\r\n" + payload + "\r\n";
  auto v = parse_all(wire);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].str, payload);
}

TEST(RespParser, Resp3Types) {
  auto v = parse_all(
      "_\r\n#t\r\n#f\r\n,3.14\r\n,inf\r\n(3492890328409238509324850943850943825024385\r\n!21\r\nSYNTAX invalid syntax\r\n"
      "=15\r\ntxt:Some string\r\n%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n~2\r\n+a\r\n+b\r\n"
      ">3\r\n+message\r\n+chan\r\n+hi\r\n|1\r\n+key-popularity\r\n:1\r\n:99\r\n");
  ASSERT_EQ(v.size(), 12u);
  EXPECT_TRUE(v[0].is_null());
  EXPECT_EQ(v[1].type, T::kBoolean);
  EXPECT_EQ(v[1].integer, 1);
  EXPECT_EQ(v[2].integer, 0);
  EXPECT_EQ(v[3].type, T::kDouble);
  EXPECT_EQ(v[3].str, "3.14");
  EXPECT_EQ(v[4].str, "inf");
  EXPECT_EQ(v[5].type, T::kBigNumber);
  EXPECT_TRUE(v[6].is_error());
  EXPECT_EQ(v[6].str, "SYNTAX invalid syntax");
  EXPECT_EQ(v[7].type, T::kVerbatim);
  EXPECT_EQ(v[7].str, "Some string");
  EXPECT_EQ(v[8].type, T::kMap);
  ASSERT_EQ(v[8].elements.size(), 4u);
  EXPECT_EQ(v[8].elements[2].str, "second");
  EXPECT_EQ(v[9].type, T::kSet);
  EXPECT_EQ(v[10].type, T::kPush);
  EXPECT_TRUE(v[10].is_array());
  // The attribute is dropped; the value it annotates remains.
  EXPECT_EQ(v[11].type, T::kInteger);
  EXPECT_EQ(v[11].integer, 99);
}

TEST(RespParser, AttributeInsideArrayDoesNotCount) {
  auto v = parse_all("*2\r\n|1\r\n+a\r\n+b\r\n:1\r\n:2\r\n");
  ASSERT_EQ(v.size(), 1u);
  ASSERT_EQ(v[0].elements.size(), 2u);
  EXPECT_EQ(v[0].elements[1].integer, 2);
}

// Every split of the stream into two feeds, and byte-at-a-time, gives the same values.
TEST(RespParser, SplitAtEveryByteBoundary) {
  std::string bin("k\0\r\n\xc3\x28", 6);
  std::string wire = "+OK\r\n*3\r\n$6\r\n" + bin + "\r\n*2\r\n:-12\r\n$-1\r\n%1\r\n+f\r\n,1.5\r\n-MOVED 3999 127.0.0.1:6381\r\n" +
                     "$0\r\n\r\n*-1\r\n=8\r\ntxt:abcd\r\n";
  auto expected = parse_all(wire);
  ASSERT_EQ(expected.size(), 6u);
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    Parser p;
    std::vector<Value> got;
    auto drain = [&] {
      for (;;) {
        auto r = p.next();
        ASSERT_TRUE(r.ok()) << r.error().message;
        if (!r->has_value()) return;
        got.push_back(std::move(**r));
      }
    };
    p.feed(std::string_view(wire).substr(0, cut));
    drain();
    p.feed(std::string_view(wire).substr(cut));
    drain();
    ASSERT_EQ(got.size(), expected.size()) << "cut at " << cut;
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same(got[i], expected[i])) << "cut " << cut;
  }
  Parser p;
  std::vector<Value> got;
  for (char c : wire) {
    char* dst = p.prepare(1);
    *dst = c;
    p.commit(1);
    for (;;) {
      auto r = p.next();
      ASSERT_TRUE(r.ok());
      if (!r->has_value()) break;
      got.push_back(std::move(**r));
    }
  }
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same(got[i], expected[i]));
  EXPECT_EQ(p.consumed(), wire.size());
}

TEST(RespParser, LargePipelineInSmallChunks) {
  std::string wire;
  for (int i = 0; i < 5000; ++i) append_value(&wire, bulk("value-" + std::to_string(i)));
  Parser p;
  int n = 0;
  for (std::size_t off = 0; off < wire.size(); off += 7) {
    p.feed(std::string_view(wire).substr(off, 7));
    for (;;) {
      auto r = p.next();
      ASSERT_TRUE(r.ok());
      if (!r->has_value()) break;
      ASSERT_EQ((*r)->str, "value-" + std::to_string(n));
      ++n;
    }
  }
  EXPECT_EQ(n, 5000);
}

TEST(RespParser, PreciseErrors) {
  EXPECT_EQ(parse_error("+OK\r\n?what\r\n"),
            "RESP protocol error: unknown type byte '?' at byte 5 (expected one of + - : $ * _ , # ! = ( % ~ > |)");
  EXPECT_EQ(parse_error("$x\r\nab\r\n"), "RESP protocol error: expected bulk length at byte 1, got 'x'");
  EXPECT_EQ(parse_error("$3\r\nabcd\r\n"), "RESP protocol error: expected '\\r\\n' after bulk string at byte 7, got 'd'");
  EXPECT_EQ(parse_error(":12a\r\n"), "RESP protocol error: expected integer at byte 3, got 'a'");
  EXPECT_EQ(parse_error(":\r\n"), "RESP protocol error: expected integer at byte 1, got '\\r'");
  EXPECT_EQ(parse_error("+OK\rX"), "RESP protocol error: expected '\\n' after '\\r' at byte 4, got 'X'");
  EXPECT_EQ(parse_error("*2\r\n:1\r\n\x01"),
            "RESP protocol error: unknown type byte '\\x01' at byte 8 (expected one of + - : $ * _ , # ! = ( % ~ > |)");
  EXPECT_EQ(parse_error("$-2\r\n"), "RESP protocol error: invalid bulk length -2 at byte 1");
  EXPECT_EQ(parse_error("*-5\r\n"), "RESP protocol error: invalid aggregate length -5 at byte 1");
  EXPECT_EQ(parse_error("#x\r\n"), "RESP protocol error: expected 't' or 'f' after '#' at byte 1, got 'x'");
  EXPECT_EQ(parse_error("_x\r\n"), "RESP protocol error: expected '\\r\\n' after '_' at byte 1, got 'x'");
  EXPECT_NE(parse_error("=3\r\nabc\r\n").find("verbatim format"), std::string::npos);
}

TEST(RespParser, Limits) {
  ParserLimits limits;
  limits.max_bulk_length = 10;
  limits.max_array_length = 4;
  limits.max_depth = 3;
  limits.max_line_length = 16;
  EXPECT_EQ(parse_error("$11\r\n", limits),
            "RESP protocol error: bulk length 11 at byte 1 exceeds the limit of 10 bytes");
  // 512 MB default: one byte more is refused before anything is allocated.
  EXPECT_NE(parse_error("$536870913\r\n").find("exceeds the limit of 536870912 bytes"), std::string::npos);
  EXPECT_NE(parse_error("*5\r\n", limits).find("aggregate length 5 at byte 1 exceeds"), std::string::npos);
  EXPECT_NE(parse_error("%3\r\n", limits).find("exceeds"), std::string::npos);
  EXPECT_EQ(parse_error("*1\r\n*1\r\n*1\r\n*1\r\n", limits), "RESP protocol error: nesting deeper than 3 at byte 12");
  EXPECT_NE(parse_error("+aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", limits).find("without CRLF"), std::string::npos);
  // A huge declared array is not reserved up front.
  Parser p;
  p.feed("*100000000\r\n:1\r\n");
  auto r = p.next();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(RespParser, IncompleteInputWaits) {
  for (std::string_view partial : {"$5\r\nhel", "*2\r\n:1\r\n", "+OK", "+OK\r", "$5", ":1"}) {
    Parser p;
    p.feed(partial);
    auto r = p.next();
    ASSERT_TRUE(r.ok()) << partial;
    EXPECT_FALSE(r->has_value()) << partial;
  }
}

TEST(RespEncoder, CommandsAreArraysOfBulkStrings) {
  std::string out;
  append_command(&out, Command{"SET", std::string("k\0y", 3), ""});
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$3\r\nk\0y\r\n$0\r\n\r\n", 28));
  append_command(&out, {"PING"});
  EXPECT_EQ(out.substr(28), "*1\r\n$4\r\nPING\r\n");
  // A command parses back as an array of the same bulk strings.
  Command cmd{"HSET", "h", std::string(1000, '\0'), "\xff\r\n"};
  auto v = parse_all(encode_command(cmd));
  ASSERT_EQ(v.size(), 1u);
  ASSERT_EQ(v[0].elements.size(), 4u);
  for (std::size_t i = 0; i < cmd.size(); ++i) EXPECT_EQ(v[0].elements[i].str, cmd[i]);
}

TEST(RespEncoder, ValueRoundTrip) {
  Value arr;
  arr.type = T::kArray;
  arr.elements.push_back(bulk(std::string("\0\1\2", 3)));
  Value i;
  i.type = T::kInteger;
  i.integer = -99;
  arr.elements.push_back(i);
  arr.elements.push_back(Value{});
  Value err;
  err.type = T::kError;
  err.str = "ERR multi\r\nline";
  arr.elements.push_back(err);
  Value b;
  b.type = T::kBoolean;
  b.integer = 1;
  arr.elements.push_back(b);
  auto v = parse_all(encode_value(arr));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(same(v[0], arr));
}

}  // namespace
}  // namespace suoke::redis::resp
