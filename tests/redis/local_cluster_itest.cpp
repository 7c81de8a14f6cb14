// The Redis test fixtures (tests/support/redis_servers.h) against real servers: other tests
// rely on their kill9/restart and failover behaving as documented.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "support/redis_servers.h"

namespace suoke::testing {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

TEST(RedisServerFixture, ServesKillNineAndRestartsOnTheSamePortEmpty) {
  RedisServer server;
  int port = server.port();
  EXPECT_EQ(trim(redis_cli(port, "PING")), "PONG");
  EXPECT_EQ(trim(redis_cli(port, "SET", "k", "v")), "OK");
  EXPECT_EQ(trim(redis_cli(port, "EXPIRE", "k", 100)), "1");

  server.kill9();
  EXPECT_FALSE(server.running());
  int code = 0;
  redis_cli_args(port, {"PING"}, &code);
  EXPECT_NE(code, 0) << "a killed server must not answer";

  server.restart();
  EXPECT_EQ(server.port(), port);
  EXPECT_EQ(trim(redis_cli(port, "PING")), "PONG");
  // No persistence: what was written before the kill is gone.
  EXPECT_EQ(trim(redis_cli(port, "EXISTS", "k")), "0");
}

TEST(RedisServerFixture, PasswordAndAclUserAreEnforced) {
  RedisServer with_password({.password = "s3cret"});
  EXPECT_NE(redis_cli(with_password.port(), "GET", "k").find("NOAUTH"), std::string::npos);
  EXPECT_EQ(trim(with_password.cli("SET", "k", "v")), "OK");
  EXPECT_EQ(with_password.url(), "redis://:s3cret@127.0.0.1:" + std::to_string(with_password.port()));

  RedisServer with_user({.password = "pw", .user = "app", .extra_config = {"user default off"}});
  EXPECT_NE(redis_cli(with_user.port(), "GET", "k").find("NOAUTH"), std::string::npos);
  EXPECT_EQ(trim(with_user.cli("ACL", "WHOAMI")), "app");
  EXPECT_EQ(with_user.url(), "redis://app:pw@127.0.0.1:" + std::to_string(with_user.port()));
}

TEST(RedisServerFixture, DestructorStopsTheServerAndRemovesItsDir) {
  int port;
  std::string dir;
  {
    RedisServer server({.extra_config = {"databases 4"}});
    port = server.port();
    dir = server.dir();
    EXPECT_NE(redis_cli(port, "CONFIG", "GET", "databases").find("4"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_FALSE(redis_detail::answers_ping(port));
}

TEST(RedisClusterFixture, StartsHealthyAndPromotesAReplicaWhenAMasterIsKilled) {
  auto started = Clock::now();
  RedisCluster cluster({.node_timeout_ms = 2000});
  auto startup = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  EXPECT_LT(startup.count(), 10000) << "cluster startup should take a few seconds";
  std::printf("cluster startup: %lld ms\n", static_cast<long long>(startup.count()));

  ASSERT_EQ(cluster.ports().size(), 6u);
  for (size_t i = 1; i < cluster.ports().size(); ++i) EXPECT_EQ(cluster.ports()[i], cluster.ports()[0] + int(i));
  std::string url = cluster.seed_url();
  EXPECT_EQ(url.rfind("redis-cluster://127.0.0.1:" + std::to_string(cluster.ports()[0]) + ",", 0), 0u) << url;

  std::vector<int> masters = cluster.master_ports();
  std::vector<int> replicas = cluster.replica_ports();
  ASSERT_EQ(masters.size(), 3u);
  ASSERT_EQ(replicas.size(), 3u);
  for (int port : cluster.ports()) {
    EXPECT_EQ(redis_detail::info_field(cluster.cli(port, "CLUSTER", "INFO"), "cluster_state"), "ok");
  }

  // A write through redirects lands on a master and reaches its replica.
  EXPECT_EQ(trim(redis_cli(cluster.ports()[0], "-c", "SET", "{user:1}", "x")), "OK");

  int victim = masters[0];
  int follower = 0;
  for (int r : replicas) {
    if (cluster.master_of(r) == victim) follower = r;
  }
  ASSERT_NE(follower, 0) << "every master has a replica";

  auto killed = Clock::now();
  cluster.kill9(victim);
  EXPECT_FALSE(cluster.running(victim));
  // Redis itself needs up to ~1.5 x node-timeout to flag the master (PFAIL is set a
  // node-timeout after an unanswered ping, and pings go out every node-timeout/2 at most),
  // then 0.5-1 s for the election: measured 3.6-4.3 s with node-timeout 2000 here. So the
  // bound is 2 x node-timeout + 2 s, not node-timeout + 2 s, or this test would be flaky.
  auto limit = milliseconds(2 * cluster.node_timeout_ms() + 2000);
  bool promoted = false;
  while (Clock::now() - killed < limit + milliseconds(3000)) {
    if (redis_detail::info_field(cluster.cli(follower, "INFO", "replication"), "role") == "master" &&
        redis_detail::info_field(cluster.cli(follower, "CLUSTER", "INFO"), "cluster_state") == "ok") {
      promoted = true;
      break;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - killed);
  ASSERT_TRUE(promoted) << "replica " << follower << " not promoted after " << took.count() << " ms";
  EXPECT_LE(took.count(), limit.count()) << "failover slower than 2 x node-timeout + 2 s";
  std::printf("failover: %lld ms\n", static_cast<long long>(took.count()));

  ASSERT_TRUE(cluster.wait_healthy(milliseconds(5000)));
  std::vector<int> now_masters = cluster.master_ports();
  EXPECT_NE(std::find(now_masters.begin(), now_masters.end(), follower), now_masters.end());
  EXPECT_EQ(std::find(now_masters.begin(), now_masters.end(), victim), now_masters.end());

  // The killed node comes back as a replica of the node that took over its slots.
  cluster.restart(victim);
  auto deadline = Clock::now() + milliseconds(10000);
  while (Clock::now() < deadline && cluster.master_of(victim) != follower) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(cluster.master_of(victim), follower);
  EXPECT_TRUE(cluster.wait_healthy(milliseconds(10000)));
}

TEST(RedisClusterFixture, PasswordProtectedClusterStarts) {
  RedisCluster cluster({.node_timeout_ms = 2000, .password = "clusterpw"});
  EXPECT_NE(redis_cli(cluster.ports()[0], "CLUSTER", "INFO").find("NOAUTH"), std::string::npos);
  EXPECT_EQ(redis_detail::info_field(cluster.cli(cluster.ports()[0], "CLUSTER", "INFO"), "cluster_state"), "ok");
  EXPECT_EQ(cluster.seed_url().rfind("redis-cluster://:clusterpw@127.0.0.1:", 0), 0u);
}

}  // namespace
}  // namespace suoke::testing
