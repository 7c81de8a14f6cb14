// suoke migrate while the target cluster reshards: `redis-cli --cluster reshard` moves 1,500
// slots from one master to another while the copy writes, so RESTOREs meet MOVED (the slot
// map is behind) and ASK (a slot half-migrated). The run must follow them: no key failed,
// every key in the target exactly once, and verify clean afterwards.
//
// The overlap is made certain, not left to timing: once 80% of the keys are done, the copy
// waits for the reshard to finish before the rest are written; the first 80% are written while
// the reshard runs (slowed to ~5,000 keys/s so the reshard starts well before they are done).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "migrate/migrate.h"
#include "migrate/verify.h"
#include "redis/client.h"
#include "support/redis_servers.h"

namespace suoke::migrate {
namespace {

using suoke::testing::RedisCluster;
using suoke::testing::RedisServer;
using suoke::testing::wait_cluster_check_clean;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kKeys = 40'000;
constexpr int kReshardSlots = 1500;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(MigrateReshardingItest, ReshardDuringTheCopyLosesNothing) {
  RedisServer source;
  RedisCluster cluster;
  auto src = redis::Client::connect(source.url());
  ASSERT_TRUE(src.ok()) << src.error().message;
  std::vector<redis::Command> cmds;
  for (int i = 0; i < kKeys; ++i) {
    std::string k = "rs:" + std::to_string(i);
    if (i % 4 == 0) {
      cmds.push_back({"HSET", k, "n", std::to_string(i), "pad", std::string(50, 'p')});
    } else {
      cmds.push_back({"SET", k, std::to_string(i) + std::string(60, 'v'), "PX", i % 3 == 0 ? "3600000" : "86400000"});
    }
    if (cmds.size() == 4000) {
      for (auto& r : (*src)->exec_pipeline(std::move(cmds))) ASSERT_TRUE(r.ok() && !r->is_error());
      cmds.clear();
    }
  }

  std::vector<int> masters = cluster.master_ports();
  ASSERT_EQ(masters.size(), 3u);
  const std::string from_id = trim(cluster.cli(masters[0], "CLUSTER", "MYID"));
  const std::string to_id = trim(cluster.cli(masters[1], "CLUSTER", "MYID"));

  std::atomic<bool> reshard_done{false};
  std::atomic<uint64_t> keys_read{0};
  MigrateOptions o;
  o.from = source.url();
  o.to = cluster.seed_url();
  o.batch = 100;
  o.parallel = 2;
  o.before_read = [&](const std::vector<std::string>& keys) {
    uint64_t done = keys_read.fetch_add(keys.size());
    if (!reshard_done) std::this_thread::sleep_for(milliseconds(20));
    // The last 20% wait for the reshard to end: the copy cannot finish before it.
    while (done >= kKeys * 8 / 10 && !reshard_done) std::this_thread::sleep_for(milliseconds(20));
  };
  Result<MigrateReport> report = Error::make("not run", "test");
  std::thread copier([&] { report = run_migrate(o); });

  // Start moving slots once the copy is under way.
  while (keys_read.load() < kKeys / 10) std::this_thread::sleep_for(milliseconds(10));
  const uint64_t read_when_started = keys_read.load();
  int code = -1;
  std::string out = suoke::testing::redis_detail::run_capture(
      {"redis-cli", "--cluster", "reshard", "127.0.0.1:" + std::to_string(masters[0]), "--cluster-from", from_id,
       "--cluster-to", to_id, "--cluster-slots", std::to_string(kReshardSlots), "--cluster-yes", "--cluster-pipeline",
       "10"},
      &code, true);
  const uint64_t read_when_done = keys_read.load();
  reshard_done = true;
  copier.join();
  ASSERT_EQ(code, 0) << (out.size() > 3000 ? out.substr(out.size() - 3000) : out);
  // The copy was writing while slots moved.
  EXPECT_LT(read_when_started, static_cast<uint64_t>(kKeys));
  EXPECT_GT(read_when_done, read_when_started);
  EXPECT_LT(read_when_started, static_cast<uint64_t>(kKeys) * 8 / 10);

  ASSERT_TRUE(report.ok()) << report.error().message;
  for (const auto& e : report->errors) ADD_FAILURE() << "migrate error: " << e;
  EXPECT_EQ(report->failed, 0u);
  EXPECT_EQ(report->migrated, static_cast<uint64_t>(kKeys));
  EXPECT_TRUE(report->aborted.empty()) << report->aborted;

  ASSERT_TRUE(wait_cluster_check_clean(masters[0], milliseconds(20000)));
  uint64_t total = 0;
  for (int port : masters) total += std::stoull(cluster.cli(port, "DBSIZE"));
  EXPECT_EQ(total, static_cast<uint64_t>(kKeys));
  auto dst = redis::Client::connect(cluster.seed_url());
  ASSERT_TRUE(dst.ok()) << dst.error().message;
  VerifyOptions vo;
  vo.both_ways = true;
  auto v = verify(**src, **dst, vo);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_TRUE(v->clean()) << "mismatches: " << v->mismatches();
  EXPECT_EQ(v->checked, static_cast<uint64_t>(kKeys));
}

}  // namespace
}  // namespace suoke::migrate
