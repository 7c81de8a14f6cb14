#include <gtest/gtest.h>

#include <set>

#include "core/clock.h"
#include "core/json_string.h"
#include "core/result.h"
#include "core/uuid.h"

namespace suoke {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Error::make("not positive: " + std::to_string(v), "parse");
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "not positive: -1");
  EXPECT_EQ(bad.error().kind, "parse");
  Result<void> v = Ok();
  EXPECT_TRUE(v.ok());
  Result<void> e = Error::make("x");
  EXPECT_FALSE(e.ok());
}

TEST(Uuid, IsCanonicalVersion4AndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = uuid_v4();
    ASSERT_TRUE(is_uuid(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b');
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(is_uuid("not-a-uuid"));
  EXPECT_FALSE(is_uuid("123e4567-e89b-12d3-a456-42661417400g"));
  EXPECT_TRUE(is_uuid("123E4567-E89B-12D3-A456-426614174000"));
}

TEST(FakeClock, AdvancesOnlyWhenTold) {
  FakeClock clock(1000);
  EXPECT_EQ(clock.now_ms(), 1000);
  clock.advance_ms(2500);
  EXPECT_EQ(clock.now_seconds(), 3);
}

TEST(JsonString, EscapesQuotesBackslashesAndControlBytesOnly) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\r\t\b\f\x01\x1f\0 \xe4\xbd\xa0", 17));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u0000 \xe4\xbd\xa0\"");
  out.clear();
  append_json_string(out, "");
  EXPECT_EQ(out, "\"\"");
}

TEST(JsonString, EveryByteAtEveryPositionOfStringsUpToFortyBytes) {
  // The scan works sixteen bytes at a time: every byte value, at every offset of a string
  // longer than two blocks, must be escaped exactly as one byte at a time would.
  auto reference = [](std::string_view s) {
    static const char* hex = "0123456789abcdef";
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c == '\b') out += "\\b";
      else if (c == '\f') out += "\\f";
      else if (c < 0x20) out += std::string("\\u00") + hex[c >> 4] + hex[c & 15];
      else out += static_cast<char>(c);
    }
    return out + "\"";
  };
  for (std::size_t length = 1; length <= 40; ++length) {
    for (int byte = 0; byte < 256; ++byte) {
      for (std::size_t at = 0; at < length; ++at) {
        std::string s(length, 'x');
        s[at] = static_cast<char>(byte);
        std::string out = "prefix";
        append_json_string(out, s);
        ASSERT_EQ(out, "prefix" + reference(s)) << "byte " << byte << " at " << at << " of " << length;
        // The pointer writer, into a buffer of the documented size, gives the same bytes.
        std::string buffer(kMaxJsonEscapeGrowth * length, '?');
        char* end = write_json_escaped(buffer.data(), s);
        ASSERT_EQ("\"" + std::string(buffer.data(), end) + "\"", reference(s));
        // Two bytes to escape: the scan resumes after the first one.
        if (at + 1 < length) {
          s[length - 1] = '"';
          out.clear();
          append_json_string(out, s);
          ASSERT_EQ(out, reference(s)) << "byte " << byte << " at " << at << " of " << length;
        }
      }
    }
  }
  std::string mixed;
  for (int i = 0; i < 1000; ++i) mixed.push_back(static_cast<char>((i * 37) % 256));
  std::string out;
  append_json_string(out, mixed);
  EXPECT_EQ(out, reference(mixed));
}

}  // namespace
}  // namespace suoke
