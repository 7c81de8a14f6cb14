#include "sessions/session.h"

#include <gtest/gtest.h>

namespace suoke::sessions {
namespace {

TEST(SessionJson, RoundTripsEveryField) {
  Session s;
  s.session_id = "s-1";
  s.user_id = "u-1";
  s.created_at = 1;
  s.last_active = -2;
  s.history = {{"q", "a", 3}, {"", "", 0}};
  s.metadata["k"] = boost::json::array{1, "two", nullptr};
  auto parsed = parse_session(serialize_session(s));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, s);
}

TEST(SessionJson, ReadsWhatTheSeedWrites) {
  // json.dumps(session_data, ensure_ascii=False) with time.time() floats and no metadata.
  auto parsed = parse_session(
      R"({"session_id": "abc", "user_id": "u", "created_at": 1700000000.5, "last_active": 1700000001,)"
      R"( "history": [{"user_message": "你好", "assistant_message": "您好！", "timestamp": 1700000000.25}],)"
      R"( "extra": true})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->created_at, 1700000000);
  EXPECT_EQ(parsed->last_active, 1700000001);
  ASSERT_EQ(parsed->history.size(), 1u);
  EXPECT_EQ(parsed->history[0].assistant_message, "您好！");
  EXPECT_TRUE(parsed->metadata.empty());
}

TEST(SessionJson, RejectsGarbageWithAClearMessage) {
  struct Case {
    std::string stored;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"", "not JSON"},
      {"\x89PNG\r\n", "not JSON"},
      {"{\"session_id\": \"s\",", "not JSON"},
      {"42", "not a JSON object"},
      {R"({"user_id": "u"})", "missing \"session_id\""},
      {R"({"session_id": "s"})", "missing \"user_id\""},
      {R"({"session_id": ["s"], "user_id": "u"})", "\"session_id\" is not a string"},
      {R"({"session_id": "s", "user_id": "u", "last_active": "now"})",
       "\"last_active\" is not an integer"},
      {R"({"session_id": "s", "user_id": "u", "last_active": 1e300})",
       "\"last_active\" is not an integer"},
      {R"({"session_id": "s", "user_id": "u", "metadata": []})", "\"metadata\" is not an object"},
      {R"({"session_id": "s", "user_id": "u", "history": {}})", "\"history\" is not an array"},
      {R"({"session_id": "s", "user_id": "u", "history": [{"user_message": "a"}, 7]})",
       "history[1]: not an object"},
      {R"({"session_id": "s", "user_id": "u", "history": [{"user_message": 1}]})",
       "history[0]: \"user_message\" is not a string"},
      {std::string(10000, '['), "not JSON"},
  };
  for (const auto& c : cases) {
    auto parsed = parse_session(c.stored);
    ASSERT_FALSE(parsed.ok()) << c.stored;
    EXPECT_EQ(parsed.error().kind, "parse");
    EXPECT_NE(parsed.error().message.find(c.says), std::string::npos) << parsed.error().message;
  }
}

TEST(SessionJson, BinaryStringsRoundTrip) {
  Session s;
  s.session_id = std::string("\0\xff\xfe", 3);
  s.user_id = "\x7f\x80";
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  s.history = {{all, "🙂", 1}};
  auto parsed = parse_session(serialize_session(s));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, s);
}

TEST(SessionJson, TrimKeepsTheNewestTurns) {
  Session s;
  for (int i = 0; i < 5; ++i) s.history.push_back({std::to_string(i), "", i});
  trim_history(s, 10);
  EXPECT_EQ(s.history.size(), 5u);
  trim_history(s, 2);
  ASSERT_EQ(s.history.size(), 2u);
  EXPECT_EQ(s.history[0].user_message, "3");
  EXPECT_EQ(s.history[1].user_message, "4");
  trim_history(s, 0);
  EXPECT_TRUE(s.history.empty());
}

}  // namespace
}  // namespace suoke::sessions
