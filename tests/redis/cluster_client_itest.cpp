// The cluster client against real 6-node clusters (3 masters, 3 replicas) from
// tests/support/redis_servers.h: routing and hash tags, client-side CROSSSLOT, pipelines,
// SCAN over every master, ASK/MOVED/TRYAGAIN during a hand-driven slot migration under load,
// failover under load (kill -9 of a master) and bad input.
//
// One shared cluster serves the tests that leave the topology as they found it; the
// migration and failover tests change it, so each gets its own (about 1-2 s to start).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "redis/client.h"
#include "redis/cluster/cluster_client.h"
#include "redis/cluster/crc16.h"
#include "redis/cluster/slot_map.h"
#include "redis/url.h"
#include "support/redis_servers.h"

namespace suoke::redis::cluster {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
using testing::RedisCluster;
using testing::RedisServer;

// Created on first use by the main (test) thread and stopped at exit: the servers die with
// the thread that forked them (see redis_servers.h).
RedisCluster& shared_cluster() {
  static auto* cluster = new RedisCluster();
  static struct Stopper {
    ~Stopper() { delete cluster; }
  } stopper;
  return *cluster;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::unique_ptr<Client> connect_or_die(const std::string& url, ClientOptions options = {}) {
  auto c = Client::connect(url, options);
  if (!c.ok()) {
    ADD_FAILURE() << "connect " << url << ": " << c.error().message;
    return nullptr;
  }
  return std::move(c.value());
}

ClusterClient& as_cluster(Client& c) { return dynamic_cast<ClusterClient&>(c); }

std::string node_id(const RedisCluster& cluster, int port) {
  return trim(cluster.cli(port, "CLUSTER", "MYID"));
}

// Slot -> port of its master, from CLUSTER NODES (line-based, unlike CLUSTER SHARDS as
// redis-cli prints it), independent of the client under test.
std::vector<int> slot_owners(const RedisCluster& cluster) {
  std::vector<int> owners(kSlotCount, 0);
  std::istringstream nodes(cluster.cli(cluster.master_ports().front(), "CLUSTER", "NODES"));
  std::string line;
  while (std::getline(nodes, line)) {
    std::istringstream f(line);
    std::string id, addr, flags, master, ping, pong, epoch, link, range;
    f >> id >> addr >> flags >> master >> ping >> pong >> epoch >> link;
    if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos)
      continue;
    int port = std::stoi(addr.substr(addr.rfind(':') + 1, addr.find('@')));
    while (f >> range) {
      if (range.front() == '[') continue;  // migrating/importing markers
      auto dash = range.find('-');
      int lo = std::stoi(range.substr(0, dash));
      int hi = dash == std::string::npos ? lo : std::stoi(range.substr(dash + 1));
      for (int s = lo; s <= hi; ++s) owners[s] = port;
    }
  }
  return owners;
}

int owner_port(const RedisCluster& cluster, int slot) { return slot_owners(cluster)[slot]; }

TEST(ClusterClientItest, SlotsMatchTheServer) {
  RedisCluster& cluster = shared_cluster();
  int port = cluster.ports().front();
  for (std::string key : {"foo", "bar", "{user1000}.following", "{user1000}.followers", "a{b}c",
                          "{}x", "k{}{y}", "session:6f1c2a", "rl:127.0.0.1:minute"}) {
    EXPECT_EQ(std::to_string(key_slot(key)), trim(cluster.cli(port, "CLUSTER", "KEYSLOT", key)))
        << key;
  }
}

TEST(ClusterClientItest, RoutesByKeyAndHashTag) {
  RedisCluster& cluster = shared_cluster();
  auto client = connect_or_die(cluster.seed_url());
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->is_cluster());
  EXPECT_EQ(as_cluster(*client).slot_map()->covered_slots(), 16384);
  EXPECT_EQ(as_cluster(*client).slot_map()->masters().size(), 3u);

  // Keys on every master; each is found on the node that owns its slot (asked without -c).
  std::vector<int> owners = slot_owners(cluster);
  std::set<int> nodes_used;
  for (int i = 0; i < 30; ++i) {
    std::string key = "route:" + std::to_string(i);
    auto set = client->exec({"SET", key, "v" + std::to_string(i)});
    ASSERT_TRUE(set.ok()) << set.error().message;
    EXPECT_EQ(set->str, "OK");
    int owner = owners[key_slot(key)];
    ASSERT_NE(owner, 0);
    nodes_used.insert(owner);
    EXPECT_EQ(trim(cluster.cli(owner, "GET", key)), "v" + std::to_string(i)) << key;
  }
  EXPECT_EQ(nodes_used.size(), 3u);
  // Hash tags put related keys in one slot, so multi-key commands work.
  auto mset = client->exec({"MSET", "{user1000}.following", "a", "{user1000}.followers", "b"});
  ASSERT_TRUE(mset.ok()) << mset.error().message;
  auto mget = client->exec({"MGET", "{user1000}.following", "{user1000}.followers"});
  ASSERT_TRUE(mget.ok());
  ASSERT_EQ(mget->elements.size(), 2u);
  EXPECT_EQ(mget->elements[0].str, "a");
  EXPECT_EQ(mget->elements[1].str, "b");
  // Binary-safe keys and values.
  std::string bin_key("bin\0key\r\n", 9), bin_val("\0\1\2\r\n", 5);
  ASSERT_TRUE(client->exec({"SET", bin_key, bin_val}).ok());
  auto got = client->exec({"GET", bin_key});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->str, bin_val);
  // Server error replies are values, not failures.
  ASSERT_TRUE(client->exec({"SET", "route:str", "x"}).ok());
  auto wrong = client->exec({"LPUSH", "route:str", "x"});
  ASSERT_TRUE(wrong.ok());
  EXPECT_TRUE(wrong->is_error());
  EXPECT_NE(wrong->str.find("WRONGTYPE"), std::string::npos);
  // Keyless commands go to some master; EVAL routes by its keys.
  auto ping = client->exec({"PING"});
  ASSERT_TRUE(ping.ok());
  EXPECT_EQ(ping->str, "PONG");
  auto eval = client->exec({"EVAL", "return redis.call('GET', KEYS[1])", "1", "route:3"});
  ASSERT_TRUE(eval.ok()) << eval.error().message;
  EXPECT_EQ(eval->str, "v3");
  EXPECT_EQ(as_cluster(*client).stats().moved, 0u);
}

TEST(ClusterClientItest, CrossSlotRefusedBeforeSending) {
  RedisCluster& cluster = shared_cluster();
  auto client = connect_or_die(cluster.seed_url());
  ASSERT_TRUE(client);
  ASSERT_NE(key_slot("foo"), key_slot("bar"));
  for (Command cmd : std::vector<Command>{{"MGET", "foo", "bar"},
                                          {"DEL", "foo", "bar"},
                                          {"MSET", "foo", "1", "bar", "2"},
                                          {"EVAL", "return 1", "2", "foo", "bar"},
                                          {"RENAME", "foo", "bar"}}) {
    auto r = client->exec(cmd);
    // A Result error (never sent), not the server's CROSSSLOT error reply.
    ASSERT_FALSE(r.ok()) << cmd[0];
    EXPECT_EQ(r.error().message, "CROSSSLOT: keys in request don't hash to the same slot");
    EXPECT_EQ(r.error().kind, "crossslot");
  }
  // Nothing was written: MSET did not half-apply.
  EXPECT_EQ(trim(cluster.cli(cluster.ports().front(), "-c", "EXISTS", "foo")), "0");
  // Malformed key counts are refused too.
  auto bad = client->exec({"EVAL", "return 1", "5", "k"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, "usage");
}

TEST(ClusterClientItest, PipelineKeepsOrderAcrossNodes) {
  RedisCluster& cluster = shared_cluster();
  auto client = connect_or_die(cluster.seed_url());
  ASSERT_TRUE(client);
  std::vector<Command> cmds;
  for (int i = 0; i < 300; ++i)
    cmds.push_back({"SET", "pipe:" + std::to_string(i), std::to_string(i * 7)});
  for (int i = 0; i < 300; ++i) cmds.push_back({"GET", "pipe:" + std::to_string(i)});
  auto replies = client->exec_pipeline(cmds);
  ASSERT_EQ(replies.size(), 600u);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(replies[i].ok());
    EXPECT_EQ(replies[i]->str, "OK");
    ASSERT_TRUE(replies[300 + i].ok());
    EXPECT_EQ(replies[300 + i]->str, std::to_string(i * 7)) << i;
  }
}

TEST(ClusterClientItest, ScanCoversEveryMaster) {
  RedisCluster& cluster = shared_cluster();
  auto client = connect_or_die(cluster.seed_url());
  ASSERT_TRUE(client);
  std::set<std::string> want;
  std::vector<Command> cmds;
  for (int i = 0; i < 500; ++i) {
    std::string key = "scan:" + std::to_string(i);
    want.insert(key);
    cmds.push_back({"SET", key, "1"});
  }
  for (auto& r : client->exec_pipeline(cmds)) ASSERT_TRUE(r.ok());
  std::set<std::string> seen;
  auto r = client->scan("scan:*", 50, [&](const std::vector<std::string>& keys) {
    seen.insert(keys.begin(), keys.end());
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(seen, want);
  // Stopping early is honoured.
  int batches = 0;
  ASSERT_TRUE(
      client->scan("scan:*", 10, [&](const std::vector<std::string>&) { return ++batches < 2; })
          .ok());
  EXPECT_EQ(batches, 2);
}

TEST(ClusterClientItest, AskMovedAndTryAgainDuringSlotMigrationUnderLoad) {
  RedisCluster cluster;
  auto client = connect_or_die(cluster.seed_url());
  ASSERT_TRUE(client);
  ClusterClient& cc = as_cluster(*client);
  const std::string tag = "{mig}";
  const int slot = key_slot(tag);
  const int source = owner_port(cluster, slot);
  ASSERT_NE(source, 0);
  int target = 0;
  for (int p : cluster.master_ports()) {
    if (p != source) target = p;
  }
  ASSERT_NE(target, 0);
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(client->exec({"SET", tag + std::to_string(i), "v"}).ok());

  // Load on the migrating slot for the whole test: every operation must succeed.
  std::atomic<bool> stop{false};
  std::atomic<int> ops{0}, failures{0};
  std::string first_failure;
  std::thread load([&] {
    for (int n = 0; !stop.load(); ++n) {
      std::string key = tag + "load" + std::to_string(n % 50);
      auto s = client->exec({"SET", key, std::to_string(n)});
      auto g = client->exec({"GET", key});
      bool ok = s.ok() && !s->is_error() && g.ok() && g->str == std::to_string(n);
      if (!ok && failures.fetch_add(1) == 0) {
        first_failure = !s.ok()         ? s.error().message
                        : s->is_error() ? s->str
                        : !g.ok()       ? g.error().message
                                        : g->str;
      }
      ops += 2;
    }
  });

  std::string source_id = node_id(cluster, source), target_id = node_id(cluster, target);
  ASSERT_EQ(trim(cluster.cli(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)), "OK");
  ASSERT_EQ(trim(cluster.cli(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)), "OK");
  // Move one key: it is now answered with ASK by the source.
  ASSERT_EQ(
      trim(cluster.cli(source, "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", tag + "0")),
      "OK");
  auto moved_key = client->exec({"GET", tag + "0"});
  ASSERT_TRUE(moved_key.ok()) << moved_key.error().message;
  EXPECT_EQ(moved_key->str, "v");
  EXPECT_GE(cc.stats().ask, 1u);
  // ASK leaves the map alone.
  EXPECT_EQ(cc.slot_map()->master_for(slot)->port, source);

  // A multi-key command over keys split between the nodes gets TRYAGAIN until the migration
  // is done; the client retries it with backoff.
  std::promise<Result<Value>> mget_done;
  client->exec_async({"MGET", tag + "0", tag + "1"},
                     [&](Result<Value> r) { mget_done.set_value(std::move(r)); });
  std::this_thread::sleep_for(milliseconds(150));

  // Finish the migration: every key, then the slot's new owner on every master.
  for (;;) {
    std::istringstream keys(cluster.cli(source, "CLUSTER", "GETKEYSINSLOT", slot, 100));
    std::vector<std::string> batch;
    for (std::string k; std::getline(keys, k);) {
      if (!trim(k).empty()) batch.push_back(trim(k));
    }
    if (batch.empty()) break;
    std::vector<std::string> args = {
        "-h", "127.0.0.1", "MIGRATE", "127.0.0.1", std::to_string(target), "", "0", "5000", "KEYS"};
    args.insert(args.end(), batch.begin(), batch.end());
    ASSERT_EQ(trim(testing::redis_cli_args(source, args)), "OK");
  }
  for (int p : cluster.master_ports()) {
    ASSERT_EQ(trim(cluster.cli(p, "CLUSTER", "SETSLOT", slot, "NODE", target_id)), "OK") << p;
  }
  auto mget = mget_done.get_future().get();
  ASSERT_TRUE(mget.ok()) << mget.error().message;
  ASSERT_EQ(mget->elements.size(), 2u);
  EXPECT_EQ(mget->elements[0].str, "v");
  EXPECT_EQ(mget->elements[1].str, "v");
  EXPECT_GE(cc.stats().retries, 1u);

  // The old owner now answers MOVED; the client follows it and updates the map.
  auto after = client->exec({"GET", tag + "5"});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->str, "v");
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  load.join();
  EXPECT_GE(cc.stats().moved, 1u);
  EXPECT_EQ(cc.slot_map()->master_for(slot)->port, target);
  EXPECT_EQ(failures.load(), 0) << "of " << ops.load() << " operations; first: " << first_failure;
  EXPECT_GT(ops.load(), 20);
  // MOVED schedules throttled refreshes, not one per redirect.
  EXPECT_LT(cc.stats().refreshes, 20u) << "moved=" << cc.stats().moved;
}

TEST(ClusterClientItest, FailoverUnderLoadRecoversWithinNodeTimeoutPlusTwoSeconds) {
  RedisCluster cluster;  // cluster-node-timeout 2000 ms
  ClientOptions options;
  options.cluster_retry_deadline = milliseconds(7000);
  auto client = connect_or_die(cluster.seed_url(), options);
  ASSERT_TRUE(client);
  ClusterClient& cc = as_cluster(*client);

  int victim = cluster.master_ports().front();
  // Keys on the victim and on the others.
  std::vector<std::string> victim_keys, keys;
  for (int i = 0; victim_keys.size() < 10 || keys.size() < 30; ++i) {
    std::string key = "fo:" + std::to_string(i);
    int owner = cc.slot_map()->master_for(key_slot(key))->port;
    if (owner == victim && victim_keys.size() < 10) victim_keys.push_back(key);
    if (keys.size() < 30) keys.push_back(key);
  }
  keys.insert(keys.end(), victim_keys.begin(), victim_keys.end());

  std::atomic<bool> stop{false};
  std::atomic<int> ops{0}, errors{0};
  std::atomic<int64_t> last_error_ms{0}, first_victim_ok_after_kill_ms{-1};
  std::atomic<int64_t> kill_ms{-1};
  auto t0 = Clock::now();
  auto now_ms = [&] { return std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count(); };
  std::thread load([&] {
    for (int n = 0; !stop.load(); ++n) {
      const std::string& key = keys[n % keys.size()];
      bool on_victim = std::find(victim_keys.begin(), victim_keys.end(), key) != victim_keys.end();
      // Only an operation begun after the master died proves recovery.
      int64_t killed = kill_ms.load();
      bool after_kill = killed >= 0 && now_ms() >= killed;
      auto s = client->exec({"SET", key, std::to_string(n)});
      auto g = client->exec({"GET", key});
      bool ok = s.ok() && !s->is_error() && g.ok() && g->str == std::to_string(n);
      ++ops;
      if (!ok) {
        ++errors;
        last_error_ms = now_ms();
      } else if (on_victim && after_kill && first_victim_ok_after_kill_ms.load() < 0) {
        first_victim_ok_after_kill_ms = now_ms();
      }
    }
  });
  int replica = 0;
  for (int p : cluster.replica_ports()) {
    if (cluster.master_of(p) == victim) replica = p;
  }
  ASSERT_NE(replica, 0);
  std::this_thread::sleep_for(milliseconds(300));
  uint64_t refreshes_before = cc.stats().refreshes;
  int64_t before_kill = now_ms();
  cluster.kill9(victim);  // returns once the process is gone
  kill_ms = now_ms();
  std::printf("kill -9 took %lld ms\n", static_cast<long long>(kill_ms.load() - before_kill));

  // When the server side is done (the replica is promoted), to tell the cluster's own
  // failover time from the client's lag behind it.
  int64_t promoted_ms = -1;
  auto deadline = Clock::now() + milliseconds(cluster.node_timeout_ms() + 8000);
  while ((promoted_ms < 0 || first_victim_ok_after_kill_ms.load() < 0) && Clock::now() < deadline) {
    if (promoted_ms < 0 && cluster.cli(replica, "ROLE").rfind("master", 0) == 0)
      promoted_ms = now_ms();
    std::this_thread::sleep_for(milliseconds(20));
  }
  int64_t recovered_ms = first_victim_ok_after_kill_ms.load() - kill_ms.load();
  int64_t promotion_ms = promoted_ms - kill_ms.load();
  // Let the load run on the new topology; no refresh loop may continue after recovery.
  std::this_thread::sleep_for(milliseconds(500));
  uint64_t refreshes_after_recovery = cc.stats().refreshes;
  std::this_thread::sleep_for(milliseconds(1500));
  uint64_t refreshes_later = cc.stats().refreshes;
  int errors_before_quiet = errors.load();
  std::this_thread::sleep_for(milliseconds(500));
  stop = true;
  load.join();

  ASSERT_GE(first_victim_ok_after_kill_ms.load(), 0)
      << "operations on the failed master's slots never recovered";
  ASSERT_GE(promoted_ms, 0) << "the replica was never promoted";
  std::printf(
      "failover: replica promoted %lld ms after kill -9, client recovered after %lld ms (node "
      "timeout %d ms); %d errors of %d operations; %llu refreshes\n",
      static_cast<long long>(promotion_ms), static_cast<long long>(recovered_ms),
      cluster.node_timeout_ms(), errors.load(), ops.load(),
      static_cast<unsigned long long>(refreshes_after_recovery - refreshes_before));
  // The client's part: it follows the promotion quickly (a refresh is at most 100 ms away,
  // a waiting command is resent within 100 ms of the new map; polling ROLE above lags by
  // 20 ms plus a redis-cli start).
  EXPECT_LE(recovered_ms - promotion_ms, 700);
  // The whole: cluster-node-timeout + 2 s, unless Redis' own election took longer than that
  // (failure agreement by gossip, then a 0.5-1 s random replica delay), which no client can
  // shorten; then the client's lag above is what counts.
  EXPECT_LE(recovered_ms, std::max<int64_t>(cluster.node_timeout_ms() + 2000, promotion_ms + 700));
  EXPECT_NE(cc.slot_map()->master_for(key_slot(victim_keys[0]))->port, victim);
  // Reads and writes that were never sent to the dead node were retried, so errors are the
  // few commands in flight at the kill (a SET is not re-sent once written).
  EXPECT_LE(errors.load(), 5);
  EXPECT_EQ(errors.load(), errors_before_quiet) << "errors after recovery";
  // Throttled: at most one refresh per 100 ms while the master was down, none afterwards
  // beyond a stray one (the dead node is no longer a master, its reconnects do not refresh).
  EXPECT_LE(refreshes_after_recovery - refreshes_before,
            static_cast<uint64_t>(recovered_ms / 100 + 10));
  EXPECT_LE(refreshes_later - refreshes_after_recovery, 2u);
}

TEST(ClusterClientItest, ClosingCompletesWaitingCommands) {
  RedisCluster& cluster = shared_cluster();
  auto client = connect_or_die(cluster.seed_url());
  ASSERT_TRUE(client);
  // Commands queued, in flight or waiting to be resent when the client is destroyed each
  // complete exactly once (with their reply or kind "closed"), so no caller waits forever.
  std::atomic<int> done{0};
  for (int i = 0; i < 1000; ++i) {
    client->exec_async({"SET", "close:" + std::to_string(i), "v"}, [&](Result<Value>) { ++done; });
  }
  client.reset();
  EXPECT_EQ(done.load(), 1000);
}

TEST(ClusterClientItest, StandaloneServerGivenAsClusterIsAClearError) {
  RedisServer server;
  auto start = Clock::now();
  auto r = Client::connect("redis-cluster://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "node 127.0.0.1:" + std::to_string(server.port()) +
                                   " is not in cluster mode (cluster_enabled:0)");
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
}

TEST(ClusterClientItest, UnreachableSeedsAreListedWithoutHanging) {
  int p1 = testing::redis_detail::free_port(), p2 = testing::redis_detail::free_port();
  ClientOptions options;
  options.connect_timeout = milliseconds(500);
  auto start = Clock::now();
  auto r = Client::connect(
      "redis-cluster://127.0.0.1:" + std::to_string(p1) + ",127.0.0.1:" + std::to_string(p2),
      options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(p1)), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(p2)), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("no seed node"), std::string::npos) << r.error().message;
  EXPECT_LT(Clock::now() - start, milliseconds(3000));
}

TEST(ClusterClientItest, WrongPasswordIsAClearError) {
  // One cluster-mode node with a password is enough: authentication comes first. RedisServer
  // takes any free port, and a cluster node refuses one above 55535 (its bus port is +10000):
  // such a start fails and is tried again on another port.
  std::unique_ptr<RedisServer> started;
  for (int attempt = 0; !started && attempt < 20; ++attempt) {
    try {
      started = std::make_unique<RedisServer>(
          RedisServer::Options{.password = "right", .extra_config = {"cluster-enabled yes"}});
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find("port number too high") == std::string::npos) throw;
    }
  }
  ASSERT_TRUE(started) << "no free port at or below 55535";
  RedisServer& node = *started;
  std::string endpoint = "127.0.0.1:" + std::to_string(node.port());
  auto start = Clock::now();
  auto wrong = Client::connect("redis-cluster://:wrong@" + endpoint);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("authentication failed at " + endpoint), std::string::npos)
      << wrong.error().message;
  EXPECT_EQ(wrong.error().kind, "auth");
  EXPECT_EQ(wrong.error().message.find("wrong"), std::string::npos)
      << "the password must not be echoed";
  auto none = Client::connect("redis-cluster://" + endpoint);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("authentication failed"), std::string::npos)
      << none.error().message;
  // With the right password the node is reached: it has no slots yet, which is also clear.
  auto right = Client::connect("redis-cluster://:right@" + endpoint);
  ASSERT_FALSE(right.ok());
  EXPECT_EQ(right.error().message, "redis cluster at " + endpoint + " has no slots assigned");
  EXPECT_LT(Clock::now() - start, milliseconds(5000));
}

}  // namespace
}  // namespace suoke::redis::cluster
