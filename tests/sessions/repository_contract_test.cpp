// The one SessionRepository suite, run against every backend: memory here; redis and
// redis-cluster are instantiated in redis_repository_itest.cpp (real servers).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/clock.h"
#include "sessions/contract_backend.h"
#include "sessions/memory_repository.h"
#include "sessions/repository.h"
#include "sessions/session.h"
#include "telemetry/metrics.h"

namespace suoke::sessions::testing {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

Session make_session(std::string id, std::string user, int64_t last_active, int turns = 2) {
  Session s;
  s.session_id = std::move(id);
  s.user_id = std::move(user);
  s.created_at = kT0;
  s.last_active = last_active;
  for (int i = 0; i < turns; ++i) {
    s.history.push_back(
        Turn{"question " + std::to_string(i), "answer " + std::to_string(i), kT0 + i});
  }
  s.metadata["channel"] = "app";
  s.metadata["nested"] = boost::json::object{{"constitution", "qi-deficiency"}, {"score", 0.75}};
  return s;
}

std::vector<std::string> ids(const std::vector<Session>& sessions) {
  std::vector<std::string> out;
  for (const auto& s : sessions) out.push_back(s.session_id);
  return out;
}

uint64_t ops(const char* operation, const char* status) {
  return telemetry::Registry::global()
      .counter("sessions_total", "", {{"operation", operation}, {"status", status}})
      .value();
}

TEST_P(SessionRepositoryContract, SaveThenGetReturnsTheSameSession) {
  auto& repo = open();
  Session s = make_session("s1", "u1", kT0 + 5);
  ASSERT_TRUE(repo.save(s).ok());
  auto got = repo.get("s1");
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, s);
}

TEST_P(SessionRepositoryContract, MissingSessionIsNulloptNotAnError) {
  auto& repo = open();
  auto got = repo.get("nope");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_FALSE(got->has_value());
}

TEST_P(SessionRepositoryContract, SaveReplacesTheEarlierVersion) {
  auto& repo = open();
  Session s = make_session("s1", "u1", kT0);
  ASSERT_TRUE(repo.save(s).ok());
  s.history.push_back(Turn{"more", "sure", kT0 + 10});
  s.last_active = kT0 + 10;
  ASSERT_TRUE(repo.save(s).ok());
  auto got = repo.get("s1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ(**got, s);
  EXPECT_EQ(*repo.count_active(), 1u);
}

TEST_P(SessionRepositoryContract, RemoveDeletesOnceAndReportsWhetherItDid) {
  auto& repo = open();
  ASSERT_TRUE(repo.save(make_session("s1", "u1", kT0)).ok());
  auto removed = repo.remove("s1");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*repo.remove("s1"));
  EXPECT_FALSE(repo.get("s1")->has_value());
  EXPECT_TRUE(repo.list_user_sessions("u1")->empty());
  EXPECT_EQ(backend().pttl_ms("s1"), -2);
}

TEST_P(SessionRepositoryContract, TtlIsSetByTheSaveItself) {
  auto& repo = open();
  ASSERT_TRUE(repo.save(make_session("s1", "u1", kT0), 60).ok());
  // Right after the save, with no other command in between: the write carried the TTL.
  int64_t pttl = backend().pttl_ms("s1");
  EXPECT_GT(pttl, 50'000);
  EXPECT_LE(pttl, 60'000);
  // The default is an hour.
  ASSERT_TRUE(repo.save(make_session("s2", "u1", kT0)).ok());
  EXPECT_GT(backend().pttl_ms("s2"), 3'500'000);
  EXPECT_LE(backend().pttl_ms("s2"), 3'600'000);
}

TEST_P(SessionRepositoryContract, TouchRefreshesTheTtlOfExistingSessionsOnly) {
  auto& repo = open();
  ASSERT_TRUE(repo.save(make_session("s1", "u1", kT0), 10).ok());
  auto touched = repo.touch("s1", 7200);
  ASSERT_TRUE(touched.ok()) << touched.error().message;
  EXPECT_TRUE(*touched);
  EXPECT_GT(backend().pttl_ms("s1"), 7'000'000);
  auto absent = repo.touch("nope", 60);
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(*absent);
  EXPECT_EQ(backend().pttl_ms("nope"), -2);
}

TEST_P(SessionRepositoryContract, SessionsExpireAfterTheirTtl) {
  auto& repo = open();
  ASSERT_TRUE(repo.save(make_session("short", "u1", kT0 + 2), 1).ok());
  ASSERT_TRUE(repo.save(make_session("long", "u1", kT0 + 1), 60).ok());
  ASSERT_TRUE(repo.save(make_session("touched", "u1", kT0), 1).ok());
  ASSERT_TRUE(*repo.touch("touched", 60));
  backend().let_time_pass(1'100);
  EXPECT_FALSE(repo.get("short")->has_value());
  EXPECT_FALSE(*repo.touch("short", 60));
  EXPECT_TRUE(repo.get("long")->has_value());
  EXPECT_TRUE(repo.get("touched")->has_value());
  EXPECT_EQ(*repo.count_active(), 2u);
  EXPECT_EQ(ids(*repo.list_user_sessions("u1")), (std::vector<std::string>{"long", "touched"}));
}

TEST_P(SessionRepositoryContract, HistoryIsTrimmedToTheNewestTurnsOnSave) {
  SessionOptions options;
  options.max_history_turns = 3;
  auto& repo = open(options);
  Session s = make_session("s1", "u1", kT0, 10);
  ASSERT_TRUE(repo.save(s).ok());
  auto got = repo.get("s1");
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_EQ((*got)->history.size(), 3u);
  EXPECT_EQ((*got)->history.front().user_message, "question 7");
  EXPECT_EQ((*got)->history.back().assistant_message, "answer 9");
  // The caller's session is left alone.
  EXPECT_EQ(s.history.size(), 10u);
}

TEST_P(SessionRepositoryContract, CountActiveCountsEverySessionAcrossScanBatches) {
  auto& repo = open();
  EXPECT_EQ(*repo.count_active(), 0u);
  // More than one SCAN batch (COUNT 1000) per server, spread over every master of a cluster.
  constexpr int kSessions = 2500;
  for (int i = 0; i < kSessions; ++i) {
    auto r = repo.save(
        make_session("s" + std::to_string(i), "u" + std::to_string(i % 50), kT0 + i, 1), 600);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  auto n = repo.count_active();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, static_cast<std::size_t>(kSessions));
  // The per-user index keys are not sessions.
  EXPECT_EQ(repo.list_user_sessions("u7", 1000)->size(), static_cast<std::size_t>(kSessions / 50));
}

TEST_P(SessionRepositoryContract, ListUserSessionsIsNewestFirstWithLimit) {
  auto& repo = open();
  ASSERT_TRUE(repo.save(make_session("a", "alice", kT0 + 30)).ok());
  ASSERT_TRUE(repo.save(make_session("b", "alice", kT0 + 10)).ok());
  ASSERT_TRUE(repo.save(make_session("c", "alice", kT0 + 50)).ok());
  ASSERT_TRUE(repo.save(make_session("d", "alice", kT0 + 20)).ok());
  ASSERT_TRUE(repo.save(make_session("e", "alice", kT0 + 40)).ok());
  ASSERT_TRUE(repo.save(make_session("x", "bob", kT0 + 99)).ok());
  // Equal last_active: the greater session_id first (Redis ZREVRANGE order).
  ASSERT_TRUE(repo.save(make_session("f", "alice", kT0 + 50)).ok());

  auto top3 = repo.list_user_sessions("alice", 3);
  ASSERT_TRUE(top3.ok()) << top3.error().message;
  EXPECT_EQ(ids(*top3), (std::vector<std::string>{"f", "c", "e"}));
  EXPECT_EQ(ids(*repo.list_user_sessions("alice", 100)),
            (std::vector<std::string>{"f", "c", "e", "a", "d", "b"}));
  EXPECT_EQ(ids(*repo.list_user_sessions("bob")), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(repo.list_user_sessions("nobody")->empty());
  EXPECT_TRUE(repo.list_user_sessions("alice", 0)->empty());

  // Activity reorders; removal and a change of owner take sessions off the list.
  ASSERT_TRUE(repo.save(make_session("b", "alice", kT0 + 60)).ok());
  ASSERT_TRUE(*repo.remove("c"));
  ASSERT_TRUE(repo.save(make_session("e", "bob", kT0 + 70)).ok());
  EXPECT_EQ(ids(*repo.list_user_sessions("alice", 3)), (std::vector<std::string>{"b", "f", "a"}));
  EXPECT_EQ(ids(*repo.list_user_sessions("bob")), (std::vector<std::string>{"x", "e"}));
}

TEST_P(SessionRepositoryContract, BinaryAndUnicodeContentRoundTrips) {
  auto& repo = open();
  Session s = make_session("会话-🙂-\x01", "用户 \"quoted\" \\ tab\t", kT0);
  std::string binary;
  for (int c = 0; c < 256; ++c) binary.push_back(static_cast<char>(c));  // NUL, controls, non-UTF-8
  s.history.push_back(Turn{binary, "中医体质辨识：气虚质 🌿 \u2028 end", kT0 + 1});
  s.history.push_back(Turn{std::string("a\0b", 3), "", -1});
  s.metadata["bytes"] = binary;
  s.metadata["emoji"] = "🙂🙃";
  ASSERT_TRUE(repo.save(s).ok());
  auto got = repo.get(s.session_id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(**got, s);
  auto listed = repo.list_user_sessions(s.user_id);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front(), s);
  EXPECT_TRUE(*repo.touch(s.session_id, 60));
  EXPECT_TRUE(*repo.remove(s.session_id));
}

TEST_P(SessionRepositoryContract, GarbageUnderASessionKeyIsAClearError) {
  auto& repo = open();
  const std::vector<std::string> garbage = {
      "not json at all",
      "[1,2,3]",
      R"({"session_id": 5, "user_id": "u"})",
      R"({"session_id": "g", "user_id": "u", "history": "nope"})",
      R"({"session_id": "g", "user_id": "u", "history": [{"user_message": "hi", "timestamp": "yesterday"}]})",
      R"({"session_id": "someone-else", "user_id": "u"})",
      std::string(100, '{'),
  };
  for (const auto& bytes : garbage) {
    backend().store_garbage("g", bytes);
    auto got = repo.get("g");
    ASSERT_FALSE(got.ok()) << bytes;
    EXPECT_EQ(got.error().kind, "parse") << bytes;
    EXPECT_NE(got.error().message.find("session \"g\""), std::string::npos) << got.error().message;
    EXPECT_NE(got.error().message.find("invalid"), std::string::npos) << got.error().message;
  }
  // Still removable, and counted as a key under session:*.
  EXPECT_EQ(*repo.count_active(), 1u);
  EXPECT_TRUE(*repo.remove("g"));
  EXPECT_FALSE(repo.get("g")->has_value());
}

TEST_P(SessionRepositoryContract, InvalidArgumentsAreRefused) {
  auto& repo = open();
  EXPECT_EQ(repo.save(make_session("", "u", kT0)).error().kind, "invalid");
  EXPECT_EQ(repo.save(make_session("s", "u", kT0), 0).error().kind, "invalid");
  EXPECT_EQ(repo.save(make_session("s", "u", kT0), -5).error().kind, "invalid");
  EXPECT_EQ(repo.get("").error().kind, "invalid");
  EXPECT_EQ(repo.touch("s", 0).error().kind, "invalid");
  EXPECT_EQ(repo.remove("").error().kind, "invalid");
  EXPECT_FALSE(repo.get("s")->has_value());
}

TEST_P(SessionRepositoryContract, OperationsAreCounted) {
  auto& repo = open();
  const uint64_t saves = ops("save", "ok");
  const uint64_t misses = ops("get", "not_found");
  const uint64_t hits = ops("get", "ok");
  const uint64_t errors = ops("save", "error");
  ASSERT_TRUE(repo.save(make_session("s1", "u1", kT0)).ok());
  ASSERT_TRUE(repo.get("s1")->has_value());
  ASSERT_FALSE(repo.get("nope")->has_value());
  ASSERT_FALSE(repo.save(make_session("", "u1", kT0)).ok());
  EXPECT_EQ(ops("save", "ok"), saves + 1);
  EXPECT_EQ(ops("get", "ok"), hits + 1);
  EXPECT_EQ(ops("get", "not_found"), misses + 1);
  EXPECT_EQ(ops("save", "error"), errors + 1);
  const std::string text = telemetry::Registry::global().render();
  EXPECT_NE(text.find("session_operation_duration_seconds_count{operation=\"get\"}"),
            std::string::npos);
  EXPECT_NE(text.find("active_sessions{backend=\"" + std::string(repo.backend()) + "\"}"),
            std::string::npos)
      << "count_active or the store itself reports the gauge";
}

// The embedded backend, on a FakeClock.
class MemoryBackend final : public Backend {
 public:
  SessionRepository& open(SessionOptions options) override {
    repo_.reset();
    options.clock = &clock_;
    options.sweep_interval = std::chrono::milliseconds(0);
    repo_ = std::make_unique<MemorySessionRepository>(options);
    return *repo_;
  }
  int64_t pttl_ms(std::string_view session_id) override {
    return repo_->ttl_ms(session_id).value_or(-2);
  }
  void store_garbage(std::string_view session_id, const std::string& bytes) override {
    ASSERT_TRUE(repo_->store_raw(session_id, bytes, 3600).ok());
  }
  void let_time_pass(int64_t ms) override { clock_.advance_ms(ms); }

 private:
  FakeClock clock_;
  std::unique_ptr<MemorySessionRepository> repo_;
};

INSTANTIATE_TEST_SUITE_P(Memory, SessionRepositoryContract,
                         ::testing::Values(BackendParam{
                             "memory", [] { return std::make_unique<MemoryBackend>(); }}),
                         backend_name);

}  // namespace
}  // namespace suoke::sessions::testing
