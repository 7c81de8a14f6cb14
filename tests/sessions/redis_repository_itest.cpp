// The contract suite against real servers (a standalone redis-server and a 6-node cluster,
// started once per test binary and flushed before every test), plus what only Redis has:
// the per-user index key and its TTL, type errors, stale index entries.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sessions/contract_backend.h"
#include "sessions/redis_repository.h"
#include "sessions/repository.h"
#include "support/redis_servers.h"

namespace suoke::sessions::testing {
namespace {

using suoke::testing::RedisCluster;
using suoke::testing::RedisServer;

// Started on first use, on the test thread, and stopped at exit: one cluster start (1-2 s)
// for the whole binary instead of one per test.
RedisServer& standalone() {
  static RedisServer* server = new RedisServer();
  static std::unique_ptr<RedisServer> owner(server);
  return *server;
}
RedisCluster& cluster() {
  static RedisCluster* c = new RedisCluster();
  static std::unique_ptr<RedisCluster> owner(c);
  return *c;
}
const std::vector<int>& cluster_masters() {
  static const std::vector<int> masters = cluster().master_ports();
  return masters;
}

int64_t to_int(const std::string& reply) {
  try {
    return std::stoll(reply);
  } catch (const std::exception&) {
    throw std::runtime_error("redis-cli replied \"" + reply + "\" where an integer was expected");
  }
}

class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(bool is_cluster) : is_cluster_(is_cluster) {}

  SessionRepository& open(SessionOptions options) override {
    repo_.reset();
    flush();
    auto repo = open_session_repository(url(), options);
    if (!repo.ok()) throw std::runtime_error("open_session_repository: " + repo.error().message);
    repo_ = std::move(*repo);
    return *repo_;
  }
  int64_t pttl_ms(std::string_view session_id) override {
    return to_int(cli("PTTL", session_key(session_id)));
  }
  void store_garbage(std::string_view session_id, const std::string& bytes) override {
    EXPECT_EQ(cli("SET", session_key(session_id), bytes), "OK\n");
  }
  void let_time_pass(int64_t ms) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }

  std::string url() const { return is_cluster_ ? cluster().seed_url() : standalone().url(); }
  // redis-cli following cluster redirects.
  template <class... Args>
  std::string cli(const Args&... args) {
    return is_cluster_ ? cluster().cli(cluster().ports()[0], "-c", args...)
                       : standalone().cli(args...);
  }
  void flush() {
    if (!is_cluster_) {
      standalone().cli("FLUSHALL");
      return;
    }
    for (int port : cluster_masters()) cluster().cli(port, "FLUSHALL");
  }

 private:
  bool is_cluster_;
  std::unique_ptr<SessionRepository> repo_;
};

INSTANTIATE_TEST_SUITE_P(
    Redis, SessionRepositoryContract,
    ::testing::Values(BackendParam{"redis", [] { return std::make_unique<RedisBackend>(false); }},
                      BackendParam{"redis_cluster",
                                   [] { return std::make_unique<RedisBackend>(true); }}),
    backend_name);

// Redis-only behaviour, on both topologies.
class RedisSessions : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<RedisBackend>(GetParam());
    repo_ = &backend_->open({});
  }
  Session make(std::string id, std::string user, int64_t last_active) {
    Session s;
    s.session_id = std::move(id);
    s.user_id = std::move(user);
    s.last_active = last_active;
    return s;
  }

  std::unique_ptr<RedisBackend> backend_;
  SessionRepository* repo_ = nullptr;
};

TEST_P(RedisSessions, FactoryNamesTheTopology) {
  EXPECT_EQ(repo_->backend(), GetParam() ? "redis-cluster" : "redis");
}

TEST_P(RedisSessions, KeysFollowTheSeedLayout) {
  ASSERT_TRUE(repo_->save(make("abc", "u1", 5), 120).ok());
  EXPECT_EQ(backend_->cli("TYPE", "session:abc"), "string\n");
  EXPECT_EQ(backend_->cli("TYPE", "user_sessions:u1"), "zset\n");
  EXPECT_EQ(backend_->cli("ZSCORE", "user_sessions:u1", "abc"), "5\n");
  EXPECT_NE(backend_->cli("GET", "session:abc").find("\"session_id\":\"abc\""), std::string::npos);
}

TEST_P(RedisSessions, UserIndexLivesAsLongAsItsLongestLivedSession) {
  ASSERT_TRUE(repo_->save(make("a", "u", 1), 600).ok());
  ASSERT_TRUE(repo_->save(make("b", "u", 2), 30).ok());  // a shorter TTL does not shorten the index
  EXPECT_GT(to_int(backend_->cli("PTTL", "user_sessions:u")), 590'000);
  ASSERT_TRUE(*repo_->touch("b", 7200));
  EXPECT_GT(to_int(backend_->cli("PTTL", "user_sessions:u")), 7'100'000);
}

TEST_P(RedisSessions, StaleIndexEntriesAreSkippedAndPruned) {
  ASSERT_TRUE(repo_->save(make("a", "u", 1)).ok());
  ASSERT_TRUE(repo_->save(make("b", "u", 2)).ok());
  ASSERT_TRUE(repo_->save(make("c", "u", 3)).ok());
  // Gone behind the repository's back (expired, or deleted by another tool).
  backend_->cli("DEL", "session:c");
  auto listed = repo_->list_user_sessions("u", 2);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].session_id, "b");
  EXPECT_EQ((*listed)[1].session_id, "a");
  EXPECT_EQ(backend_->cli("ZSCORE", "user_sessions:u", "c"), "\n");
  EXPECT_EQ(backend_->cli("ZCARD", "user_sessions:u"), "2\n");
}

TEST_P(RedisSessions, WrongTypeUnderASessionKeyIsAnErrorAndStillRemovable) {
  backend_->cli("HSET", "session:h", "f", "v");
  auto got = repo_->get("h");
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("WRONGTYPE"), std::string::npos) << got.error().message;
  auto removed = repo_->remove("h");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(*removed);
  EXPECT_EQ(backend_->cli("EXISTS", "session:h"), "0\n");
}

TEST_P(RedisSessions, CountScansEveryMasterInSeveralBatches) {
  // Over 1000 keys on every master, so SCAN takes more than one COUNT-1000 batch on each.
  const int sessions = GetParam() ? 4000 : 1500;
  for (int i = 0; i < sessions; ++i) {
    auto r = repo_->save(make("s" + std::to_string(i), "u", i), 600);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  if (GetParam()) {
    for (int port : cluster_masters())
      EXPECT_GT(to_int(cluster().cli(port, "DBSIZE")), 1000) << port;
  }
  auto n = repo_->count_active();
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, static_cast<std::size_t>(sessions));
}

TEST_P(RedisSessions, ConcurrentSavesRemovesAndListsAgree) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 60;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  // A reader lists (and prunes) while writers save and remove in the same user's index.
  std::thread reader([&] {
    while (!done.load()) {
      if (!repo_->list_user_sessions("u", 50).ok()) ++failures;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!repo_->save(make(id, "u", i)).ok()) ++failures;
        if (i % 3 == 0) {
          auto r = repo_->remove(id);
          if (!r.ok() || !*r) ++failures;
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  const std::size_t expected = kThreads * (kPerThread - kPerThread / 3);
  auto listed = repo_->list_user_sessions("u", 10000);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(listed->size(), expected);
  EXPECT_EQ(*repo_->count_active(), expected);
  EXPECT_EQ(to_int(backend_->cli("ZCARD", "user_sessions:u")), static_cast<int64_t>(expected));
}

INSTANTIATE_TEST_SUITE_P(Topology, RedisSessions, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "redis_cluster" : "redis");
                         });

TEST(RedisSessionFactory, UnreachableServerIsAClearError) {
  auto repo = open_session_repository("redis://127.0.0.1:1");
  ASSERT_FALSE(repo.ok());
  EXPECT_NE(repo.error().message.find("session store redis"), std::string::npos)
      << repo.error().message;
}

}  // namespace
}  // namespace suoke::sessions::testing
