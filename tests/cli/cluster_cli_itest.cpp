// `suoke cluster up | status | down` as a user runs it: real redis-server processes on a
// free port range, in a temp dir.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <fstream>
#include <set>

#include "support/process.h"
#include "support/redis_servers.h"

namespace suoke::testing {
namespace {

const std::string kSuoke = SUOKE_BINARY;

// Running and not a zombie: the daemonized nodes are not our children, so once dead they may
// linger as zombies of whatever reaps orphans here.
bool process_running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z' && line[paren + 2] != 'X';
}

struct CliRun {
  int code;
  std::string out;
};

CliRun suoke(const std::string& args) {
  CliRun r;
  r.code = run_command(kSuoke + " " + args, &r.out);
  return r;
}

// Stops the cluster even when an assertion fails half-way, so no redis-server outlives the test.
struct ClusterGuard {
  std::string dir;
  ~ClusterGuard() {
    std::string ignored;
    run_command(kSuoke + " cluster down --purge --timeout 5 --dir " + dir, &ignored);
  }
};

TEST(ClusterCli, UpStatusIdempotentUpRestartOfAKilledNodeAndDown) {
  TempDir tmp;
  std::string dir = tmp.path() + "/cluster";
  ClusterGuard guard{dir};
  int base = redis_detail::free_port_range(6, /*cluster_bus=*/true);
  std::string flags = "--dir " + dir + " --base-port " + std::to_string(base);

  CliRun up = suoke("cluster up " + flags + " --node-timeout 2000");
  ASSERT_EQ(up.code, 0) << up.out;
  std::string url = "redis-cluster://127.0.0.1:" + std::to_string(base);
  for (int i = 1; i < 6; ++i) url += ",127.0.0.1:" + std::to_string(base + i);
  EXPECT_NE(up.out.find("Seed URL: " + url), std::string::npos) << up.out;
  // The seed's settings reached the nodes.
  EXPECT_NE(redis_cli(base, "CONFIG", "GET", "maxmemory-policy").find("allkeys-lru"), std::string::npos);
  EXPECT_NE(redis_cli(base, "CONFIG", "GET", "appendonly").find("yes"), std::string::npos);
  EXPECT_NE(redis_cli(base, "CONFIG", "GET", "cluster-node-timeout").find("2000"), std::string::npos);

  CliRun status = suoke("cluster status --json --dir " + dir);
  ASSERT_EQ(status.code, 0) << status.out;
  boost::json::value json = boost::json::parse(status.out);
  EXPECT_TRUE(json.at("ok").as_bool());
  EXPECT_EQ(json.at("seed_url").as_string(), url);
  const auto& nodes = json.at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 6u);
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::set<int64_t> masters, followed;
  std::vector<pid_t> pids;
  for (const auto& node : nodes) {
    EXPECT_TRUE(node.at("alive").as_bool());
    EXPECT_EQ(node.at("cluster_state").as_string(), "ok");
    pids.push_back(static_cast<pid_t>(node.at("pid").as_int64()));
    EXPECT_TRUE(process_running(pids.back()));
    if (node.at("role").as_string() == "master") {
      masters.insert(node.at("port").as_int64());
      for (const auto& r : node.at("slots").as_array()) {
        ranges.emplace_back(r.as_array()[0].as_int64(), r.as_array()[1].as_int64());
      }
    } else {
      EXPECT_EQ(node.at("role").as_string(), "replica");
      EXPECT_EQ(node.at("master_link").as_string(), "up");
      followed.insert(node.at("master_port").as_int64());
    }
  }
  EXPECT_EQ(masters.size(), 3u);
  EXPECT_EQ(followed, masters) << "each master has its own replica";
  std::sort(ranges.begin(), ranges.end());
  int64_t next = 0;
  for (const auto& [first, last] : ranges) {
    EXPECT_EQ(first, next) << "slots must be covered without gaps or overlap";
    next = last + 1;
  }
  EXPECT_EQ(next, 16384);

  CliRun table = suoke("cluster status --dir " + dir);
  EXPECT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("0-5460"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("replica"), std::string::npos) << table.out;

  // Idempotent: the same cluster, nothing new started.
  CliRun again = suoke("cluster up " + flags);
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("already running"), std::string::npos) << again.out;
  for (pid_t pid : pids) EXPECT_TRUE(process_running(pid));

  // A replica killed with -9 leaves a stale pidfile: status says not ok; up starts it again.
  auto replica_node = std::find_if(nodes.begin(), nodes.end(), [](const boost::json::value& n) {
    return n.at("role").as_string() == "replica";
  });
  ASSERT_NE(replica_node, nodes.end());
  int replica = static_cast<int>(replica_node->at("port").as_int64());
  pid_t replica_pid = static_cast<pid_t>(replica_node->at("pid").as_int64());
  ::kill(replica_pid, SIGKILL);
  for (int i = 0; i < 200 && process_running(replica_pid); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CliRun broken = suoke("cluster status --dir " + dir);
  EXPECT_EQ(broken.code, 1) << broken.out;
  EXPECT_NE(broken.out.find("NOT ok"), std::string::npos) << broken.out;
  CliRun healed = suoke("cluster up " + flags);
  EXPECT_EQ(healed.code, 0) << healed.out;
  EXPECT_NE(healed.out.find("stale pidfile of node " + std::to_string(replica)), std::string::npos) << healed.out;
  CliRun after = suoke("cluster status --json --dir " + dir);
  EXPECT_EQ(after.code, 0) << after.out;

  // down stops every node by PID.
  std::vector<pid_t> all;
  boost::json::value healed_json = boost::json::parse(after.out);
  for (const auto& node : healed_json.at("nodes").as_array()) {
    all.push_back(static_cast<pid_t>(node.at("pid").as_int64()));
  }
  CliRun down = suoke("cluster down --dir " + dir);
  EXPECT_EQ(down.code, 0) << down.out;
  EXPECT_NE(down.out.find("stopped:"), std::string::npos) << down.out;
  for (pid_t pid : all) EXPECT_FALSE(process_running(pid)) << pid;
  for (int i = 0; i < 6; ++i) {
    EXPECT_FALSE(std::filesystem::exists(dir + "/" + std::to_string(base + i) + "/redis.pid"));
    EXPECT_FALSE(redis_detail::answers_ping(base + i)) << "node " << base + i << " still answers";
  }
  CliRun stopped = suoke("cluster status --dir " + dir);
  EXPECT_EQ(stopped.code, 1) << stopped.out;

  CliRun purge = suoke("cluster down --purge --dir " + dir);
  EXPECT_EQ(purge.code, 0) << purge.out;
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(ClusterCli, PortInUseIsRefusedBeforeAnythingStarts) {
  TempDir tmp;
  std::string dir = tmp.path() + "/cluster";
  ClusterGuard guard{dir};
  int base = redis_detail::free_port_range(6, /*cluster_bus=*/true);
  // Take base+3 with a listener of our own.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(base + 3));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);

  CliRun up = suoke("cluster up --dir " + dir + " --base-port " + std::to_string(base));
  ::close(fd);
  EXPECT_EQ(up.code, 1) << up.out;
  EXPECT_NE(up.out.find("port " + std::to_string(base + 3) + " is in use"), std::string::npos) << up.out;
  for (int i = 0; i < 6; ++i) {
    if (i == 3) continue;
    EXPECT_TRUE(redis_detail::port_is_free(base + i)) << "nothing may have started on " << base + i;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + std::to_string(base) + "/redis.pid"));
}

TEST(ClusterCli, StaleOrForeignDirsAndEmptyDirsGetClearAnswers) {
  TempDir tmp;
  int base = redis_detail::free_port_range(6, /*cluster_bus=*/true);
  // Node dirs without nodes.conf: not a cluster that can be resumed.
  std::string stale = tmp.path() + "/stale";
  for (int i = 0; i < 6; ++i) {
    std::filesystem::create_directories(stale + "/" + std::to_string(base + i));
    std::ofstream(stale + "/" + std::to_string(base + i) + "/redis.conf") << "port " << base + i << "\n";
    std::ofstream(stale + "/" + std::to_string(base + i) + "/redis.pid") << "999999\n";
  }
  CliRun up = suoke("cluster up --dir " + stale + " --base-port " + std::to_string(base));
  EXPECT_EQ(up.code, 1) << up.out;
  EXPECT_NE(up.out.find("not a complete cluster"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("--purge"), std::string::npos) << up.out;
  // The same dir with another base port: it names the ports it holds.
  CliRun other = suoke("cluster up --dir " + stale + " --base-port " + std::to_string(base + 100));
  EXPECT_EQ(other.code, 1) << other.out;
  EXPECT_NE(other.out.find("--base-port " + std::to_string(base)), std::string::npos) << other.out;
  // down cleans it up without touching anything else in the dir.
  std::ofstream(stale + "/keep.txt") << "not ours\n";
  CliRun purge = suoke("cluster down --purge --dir " + stale);
  EXPECT_EQ(purge.code, 0) << purge.out;
  EXPECT_TRUE(std::filesystem::exists(stale + "/keep.txt"));
  EXPECT_FALSE(std::filesystem::exists(stale + "/" + std::to_string(base)));

  std::string empty = tmp.path() + "/empty";
  CliRun status = suoke("cluster status --dir " + empty);
  EXPECT_EQ(status.code, 1) << status.out;
  EXPECT_NE(status.out.find("no cluster in"), std::string::npos) << status.out;
  CliRun json = suoke("cluster status --json --dir " + empty);
  EXPECT_EQ(json.code, 1);
  CliRun down = suoke("cluster down --dir " + empty);
  EXPECT_EQ(down.code, 0) << down.out;
  EXPECT_NE(down.out.find("nothing to stop"), std::string::npos) << down.out;
}

TEST(ClusterCli, HelpAndUsageErrors) {
  CliRun top = suoke("--help");
  EXPECT_EQ(top.code, 0);
  EXPECT_NE(top.out.find("  cluster "), std::string::npos) << top.out;
  CliRun help = suoke("cluster --help");
  EXPECT_EQ(help.code, 0) << help.out;
  EXPECT_NE(help.out.find("loadmodule"), std::string::npos) << "the help says what is left out of the seed";
  EXPECT_NE(help.out.find("RediSearch"), std::string::npos);
  for (const char* action : {"up", "status", "down"}) {
    CliRun r = suoke(std::string("cluster ") + action + " --help");
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(std::string("Usage: suoke cluster ") + action), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--dir"), std::string::npos) << r.out;
  }
  EXPECT_NE(suoke("cluster up --help").out.find("7001"), std::string::npos);

  CliRun none = suoke("cluster");
  EXPECT_EQ(none.code, 2);
  CliRun unknown = suoke("cluster frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("unknown action 'frobnicate'"), std::string::npos) << unknown.out;
  CliRun bad_port = suoke("cluster up --base-port 60000");
  EXPECT_EQ(bad_port.code, 2);
  EXPECT_NE(bad_port.out.find("--base-port"), std::string::npos) << bad_port.out;
  CliRun bad_timeout = suoke("cluster up --node-timeout soon");
  EXPECT_EQ(bad_timeout.code, 2);
  EXPECT_NE(bad_timeout.out.find("--node-timeout"), std::string::npos) << bad_timeout.out;
  CliRun bad_flag = suoke("cluster status --purge");
  EXPECT_EQ(bad_flag.code, 2);
  EXPECT_NE(bad_flag.out.find("unknown flag --purge"), std::string::npos) << bad_flag.out;
}

TEST(ClusterCli, MissingRedisServerGivesTheInstallHint) {
  TempDir tmp;
  std::string out;
  int code = run_command("PATH=" + tmp.path() + " " + kSuoke + " cluster up --dir " + tmp.path() + "/c", &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("redis-server not found"), std::string::npos) << out;
  EXPECT_NE(out.find("apt-get install redis-server redis-tools"), std::string::npos) << out;
}

}  // namespace
}  // namespace suoke::testing
