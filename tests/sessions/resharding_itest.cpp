// Resharding under load (issue 4): `redis-cli --cluster reshard` moves slots between masters
// of a real 6-node cluster while four threads keep saving, reading, touching, removing and
// listing sessions through the redis-cluster backend. Not one operation may fail or return
// wrong data, and at the end every session the threads' model says exists is there, intact,
// with its TTL. The client must have followed MOVED (slot map behind) and ASK (slot half
// migrated: a share of the sessions carry a hash tag in their id that puts them in a slot the
// reshards move, so its migration takes several MIGRATE batches).
//
// Each thread owns its own users and sessions, so its model of them is exact: whatever the
// repository returns can be compared with it, not just checked for "no error".
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "redis/client.h"
#include "redis/cluster/cluster_client.h"
#include "redis/cluster/crc16.h"
#include "sessions/redis_repository.h"
#include "sessions/repository.h"
#include "sessions/session.h"
#include "support/redis_servers.h"

namespace suoke::sessions::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using suoke::testing::RedisCluster;
using suoke::testing::wait_cluster_check_clean;

constexpr int kThreads = 4;
constexpr int kUsersPerThread = 25;
constexpr int kInitialPerThread = 500;  // 2,000 sessions before the reshards start
constexpr int kReshardSlots = 1500;
constexpr int64_t kTtlSeconds = 3600;
constexpr int kHotPercent = 30;  // of new sessions, with the thread's hot hash tag in their id

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The end of a long redis-cli output (a reshard prints a line per slot).
std::string tail(const std::string& s, std::size_t n = 3000) {
  return s.size() > n ? "..." + s.substr(s.size() - n) : s;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Failures seen by the load threads: counted, the first few kept with what went wrong.
class Failures {
 public:
  void add(const std::string& what) {
    count_.fetch_add(1);
    std::lock_guard lock(mu_);
    if (first_.size() < 12) first_.push_back(what);
  }
  uint64_t count() const { return count_.load(); }
  std::string report() const {
    std::lock_guard lock(mu_);
    std::string out;
    for (const auto& f : first_) out += "\n  " + f;
    return out;
  }

 private:
  std::atomic<uint64_t> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> first_;
};

// One load thread: its users "u<t>-<k>", its sessions "s<t>-<n>", and the exact model of
// what the store must hold for them.
class Worker {
 public:
  // `hot_tag`: a hash tag whose slot the reshards move; a share of the sessions carry it in
  // their id, so that slot holds enough keys for its migration to take several MIGRATE
  // batches, during which the sessions already moved are reached by ASK.
  Worker(int index, std::string hot_tag, SessionRepository& repo, Failures& failures)
      : index_(index), hot_tag_(std::move(hot_tag)), repo_(repo), failures_(failures), rng_(1000 + index) {}

  // Saves the initial sessions, spread evenly over the users.
  void create_initial() {
    for (int i = 0; i < kInitialPerThread; ++i) create(user(i % kUsersPerThread));
  }

  // The mix until `stop`. Ops counted in `ops` as they complete.
  void run(const std::atomic<bool>& stop, std::atomic<uint64_t>& ops) {
    while (!stop.load(std::memory_order_relaxed)) {
      step();
      ops.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // After the load: every live session readable and equal to the model, every removed one
  // absent, every user's list equal to the model's, newest first.
  void verify_final() {
    for (const auto& [id, s] : live_) check_get(id, &s, "final get");
    for (const auto& id : removed_) check_get(id, nullptr, "final get of removed");
    for (int k = 0; k < kUsersPerThread; ++k) check_list(user(k), "final list");
  }

  const std::map<std::string, Session>& live() const { return live_; }
  std::size_t removed_count() const { return removed_.size(); }

 private:
  std::string user(int k) const { return "u" + std::to_string(index_) + "-" + std::to_string(k); }

  // Strictly increasing per thread, so a user's sessions never tie on last_active.
  int64_t next_time() { return clock_ += 7; }

  template <class T>
  const T& pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng_)];
  }
  const std::string& pick_live() { return pick(live_ids_); }

  void fail(const std::string& what) { failures_.add("thread " + std::to_string(index_) + ": " + what); }

  void create(const std::string& user_id) {
    Session s;
    s.session_id = "s" + std::to_string(index_) + "-" + std::to_string(next_id_++);
    if (std::uniform_int_distribution<int>(0, 99)(rng_) < kHotPercent) {
      s.session_id = "{" + hot_tag_ + "}" + s.session_id;
    }
    s.user_id = user_id;
    s.created_at = next_time();
    s.last_active = s.created_at;
    s.history.push_back({"你好 " + s.session_id, "assistant reply", s.created_at});
    s.metadata["thread"] = index_;
    s.metadata["version"] = 0;
    save(std::move(s), "save new");
  }

  void save(Session s, const char* what) {
    auto r = repo_.save(s, kTtlSeconds);
    if (!r.ok()) {
      // Unknown outcome: the model can no longer say what the store holds for this session,
      // so it is left out of later checks (and counted as a failure).
      fail(std::string(what) + " " + s.session_id + ": " + r.error().message);
      forget(s.session_id);
      return;
    }
    if (!live_.count(s.session_id)) live_ids_.push_back(s.session_id);
    removed_.erase(s.session_id);
    live_[s.session_id] = std::move(s);
  }

  void forget(const std::string& id) {
    live_.erase(id);
    removed_.erase(id);
    live_ids_.erase(std::remove(live_ids_.begin(), live_ids_.end(), id), live_ids_.end());
  }

  void update() {
    Session s = live_.at(pick_live());
    s.last_active = next_time();
    s.history.push_back({"turn " + std::to_string(s.history.size()), "ok", s.last_active});
    if (s.history.size() > 4) s.history.erase(s.history.begin());  // well under max_history_turns
    s.metadata["version"] = s.metadata["version"].as_int64() + 1;
    save(std::move(s), "save update");
  }

  void check_get(const std::string& id, const Session* expected, const char* what) {
    auto r = repo_.get(id);
    if (!r.ok()) return fail(std::string(what) + " " + id + ": " + r.error().message);
    if (!expected) {
      if (r->has_value()) fail(std::string(what) + " " + id + ": removed session is still there");
      return;
    }
    if (!r->has_value()) return fail(std::string(what) + " " + id + ": session missing");
    if (!(**r == *expected)) {
      fail(std::string(what) + " " + id + ": wrong data: got " + serialize_session(**r) +
           " expected " + serialize_session(*expected));
    }
  }

  void check_list(const std::string& user_id, const char* what) {
    std::vector<const Session*> expected;
    for (const auto& [id, s] : live_) {
      if (s.user_id == user_id) expected.push_back(&s);
    }
    std::sort(expected.begin(), expected.end(),
              [](const Session* a, const Session* b) { return a->last_active > b->last_active; });
    auto r = repo_.list_user_sessions(user_id, 1000);
    if (!r.ok()) return fail(std::string(what) + " " + user_id + ": " + r.error().message);
    bool same = r->size() == expected.size();
    for (std::size_t i = 0; same && i < expected.size(); ++i) same = (*r)[i] == *expected[i];
    if (!same) {
      std::string got, want;
      for (const auto& s : *r) got += " " + s.session_id;
      for (const auto* s : expected) want += " " + s->session_id;
      fail(std::string(what) + " " + user_id + ": got [" + got + " ] expected [" + want + " ]");
    }
  }

  void step() {
    int dice = std::uniform_int_distribution<int>(0, 99)(rng_);
    if (live_ids_.size() < 50) dice = 0;  // keep a population to work on
    if (dice < 10) {
      create(user(std::uniform_int_distribution<int>(0, kUsersPerThread - 1)(rng_)));
    } else if (dice < 30) {
      update();
    } else if (dice < 55) {
      const std::string& id = pick_live();
      check_get(id, &live_.at(id), "get");
    } else if (dice < 60 && !removed_.empty()) {
      auto it = removed_.begin();
      std::advance(it, std::uniform_int_distribution<std::size_t>(0, removed_.size() - 1)(rng_) % 64);
      check_get(*it, nullptr, "get of removed");
    } else if (dice < 75) {
      const std::string id = pick_live();
      auto r = repo_.touch(id, kTtlSeconds);
      if (!r.ok()) return fail("touch " + id + ": " + r.error().message);
      if (!*r) fail("touch " + id + ": returned false for a live session");
    } else if (dice < 80 && !removed_.empty()) {
      const std::string id = *removed_.begin();
      auto r = repo_.touch(id, kTtlSeconds);
      if (!r.ok()) return fail("touch of removed " + id + ": " + r.error().message);
      if (*r) fail("touch of removed " + id + ": returned true");
    } else if (dice < 90) {
      const std::string id = pick_live();
      auto r = repo_.remove(id);
      if (!r.ok()) {
        fail("remove " + id + ": " + r.error().message);
        forget(id);
        return;
      }
      if (!*r) fail("remove " + id + ": returned false for a live session");
      forget(id);
      removed_.insert(id);
    } else {
      check_list(user(std::uniform_int_distribution<int>(0, kUsersPerThread - 1)(rng_)), "list");
    }
  }

  int index_;
  std::string hot_tag_;
  SessionRepository& repo_;
  Failures& failures_;
  std::mt19937 rng_;
  int64_t clock_ = 1'700'000'000'000;
  int next_id_ = 0;
  std::map<std::string, Session> live_;
  std::vector<std::string> live_ids_;
  std::set<std::string> removed_;
};

// The slot ranges CLUSTER NODES assigns to node `id` ("a-b" and "a" entries; "[...]" are open
// slots, left out), or nullopt when the node is not listed.
std::optional<std::vector<std::pair<int, int>>> slot_ranges(const std::string& nodes,
                                                            const std::string& id) {
  std::istringstream lines(nodes);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string node_id, field;
    fields >> node_id;
    if (node_id != id) continue;
    for (int i = 0; i < 7 && fields >> field; ++i) {
    }
    std::vector<std::pair<int, int>> ranges;
    while (fields >> field) {
      if (field.empty() || field[0] == '[') continue;
      auto dash = field.find('-');
      int lo = std::stoi(field.substr(0, dash));
      ranges.emplace_back(lo, dash == std::string::npos ? lo : std::stoi(field.substr(dash + 1)));
    }
    return ranges;
  }
  return std::nullopt;
}

// Slots CLUSTER NODES assigns to node `id`, -1 if the node is not listed.
int slot_count(const std::string& nodes, const std::string& id) {
  auto ranges = slot_ranges(nodes, id);
  if (!ranges) return -1;
  int n = 0;
  for (const auto& [lo, hi] : *ranges) n += hi - lo + 1;
  return n;
}

// The lowest slot CLUSTER NODES assigns to node `id`, -1 if none.
int first_slot_of(const std::string& nodes, const std::string& id) {
  auto ranges = slot_ranges(nodes, id);
  if (!ranges) return -1;
  int first = -1;
  for (const auto& [lo, hi] : *ranges) {
    if (first < 0 || lo < first) first = lo;
  }
  return first;
}

struct ReshardRun {
  int exit_code = -1;
  double seconds = 0;
  std::string output;
};

ReshardRun reshard(int via_port, const std::string& from, const std::string& to, int slots) {
  std::vector<std::string> argv = {
      "redis-cli",       "--cluster",          "reshard",       "127.0.0.1:" + std::to_string(via_port),
      "--cluster-from",  from,                 "--cluster-to",  to,
      "--cluster-slots", std::to_string(slots), "--cluster-yes", "--cluster-pipeline",
      "10"};
  ReshardRun run;
  auto t0 = Clock::now();
  run.output = suoke::testing::redis_detail::run_capture(argv, &run.exit_code, /*merge_stderr=*/true);
  run.seconds = seconds_since(t0);
  return run;
}

TEST(SessionsReshardingItest, ReshardUnderLoadLosesNoOperationAndNoSession) {
  const auto test_start = Clock::now();
  RedisCluster cluster;
  std::vector<int> masters = cluster.master_ports();
  ASSERT_EQ(masters.size(), 3u);
  std::vector<std::string> ids;
  for (int p : masters) ids.push_back(trim(cluster.cli(p, "CLUSTER", "MYID")));
  for (const auto& id : ids) ASSERT_EQ(id.size(), 40u) << id;
  std::vector<int> slots_before;
  for (const auto& id : ids) slots_before.push_back(slot_count(cluster.cli(masters[0], "CLUSTER", "NODES"), id));

  // The backend open_session_repository builds for a redis-cluster:// URL, over a client we
  // keep so its redirection counters can be read.
  SessionOptions options;
  auto connected = redis::Client::connect(cluster.seed_url(), options.redis);
  ASSERT_TRUE(connected.ok()) << connected.error().message;
  std::shared_ptr<redis::Client> client(std::move(*connected));
  auto* cc = dynamic_cast<redis::cluster::ClusterClient*>(client.get());
  ASSERT_NE(cc, nullptr);
  auto repo = make_redis_session_repository(client, options);
  ASSERT_EQ(repo->backend(), "redis-cluster");
  {
    // The URL path opens the same backend (not used further).
    auto by_url = open_session_repository(cluster.seed_url(), options);
    ASSERT_TRUE(by_url.ok()) << by_url.error().message;
    ASSERT_EQ((*by_url)->backend(), "redis-cluster");
  }

  // redis-cli moves a source's slots lowest first, so each thread's hot tag is put in one of
  // the kReshardSlots lowest slots of master 0 (moved by the first reshard, and by the second
  // too when master 1 then gives up its lowest slots).
  const int first_slot = first_slot_of(cluster.cli(masters[0], "CLUSTER", "NODES"), ids[0]);
  ASSERT_GE(first_slot, 0);
  std::vector<std::string> hot_tags;
  std::vector<int> hot_slots;
  for (int t = 0, k = 0; t < kThreads; ++k) {
    std::string tag = "h" + std::to_string(t) + "x" + std::to_string(k);
    int slot = redis::cluster::key_slot(session_key("{" + tag + "}"));
    if (slot >= first_slot && slot < first_slot + kReshardSlots &&
        std::find(hot_slots.begin(), hot_slots.end(), slot) == hot_slots.end()) {
      hot_tags.push_back(tag);
      hot_slots.push_back(slot);
      ++t;
    }
  }

  Failures failures;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.push_back(std::make_unique<Worker>(t, hot_tags[t], *repo, failures));
  }
  {
    std::vector<std::thread> setup;
    for (auto& w : workers) setup.emplace_back([&w] { w->create_initial(); });
    for (auto& t : setup) t.join();
  }
  ASSERT_EQ(failures.count(), 0u) << "creating the initial sessions failed:" << failures.report();
  auto before = cc->stats();

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> load;
  const auto load_start = Clock::now();
  for (auto& w : workers) load.emplace_back([&w, &stop, &ops] { w->run(stop, ops); });
  struct Joiner {  // the load stops even if an assertion below returns early
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~Joiner() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } joiner{stop, load};

  std::this_thread::sleep_for(milliseconds(500));
  const uint64_t ops_before_reshards = ops.load();
  const auto reshards_start = Clock::now();

  // Master 0 -> master 1, then master 1 -> master 2: 3,000 slot moves in all, some slots
  // moved twice.
  ReshardRun first = reshard(masters[0], ids[0], ids[1], kReshardSlots);
  const uint64_t failures_after_first = failures.count();
  bool settled = wait_cluster_check_clean(masters[0], milliseconds(10'000));
  ReshardRun second;
  if (settled) second = reshard(masters[0], ids[1], ids[2], kReshardSlots);
  const double reshard_seconds = seconds_since(reshards_start);
  const uint64_t ops_during_reshards = ops.load() - ops_before_reshards;

  std::this_thread::sleep_for(milliseconds(1000));
  stop = true;
  for (auto& t : load) t.join();
  const double load_seconds = seconds_since(load_start);
  const uint64_t total_ops = ops.load();
  auto after = cc->stats();

  for (auto& w : workers) w->verify_final();
  std::size_t live = 0, removed = 0;
  std::vector<redis::Command> pttls;
  for (auto& w : workers) {
    live += w->live().size();
    removed += w->removed_count();
    for (const auto& [id, s] : w->live()) pttls.push_back({"PTTL", session_key(id)});
  }
  std::size_t bad_ttls = 0;
  std::string first_bad_ttl;
  auto ttl_replies = client->exec_pipeline(pttls);
  for (std::size_t i = 0; i < ttl_replies.size(); ++i) {
    bool ok = ttl_replies[i].ok() && ttl_replies[i]->type == redis::Value::Type::kInteger &&
              ttl_replies[i]->integer > 0 && ttl_replies[i]->integer <= kTtlSeconds * 1000;
    if (!ok && bad_ttls++ == 0) {
      first_bad_ttl = pttls[i][1] + ": " +
                      (ttl_replies[i].ok() ? "PTTL " + std::to_string(ttl_replies[i]->integer) + " " + ttl_replies[i]->str
                                           : ttl_replies[i].error().message);
    }
  }
  auto counted = repo->count_active();
  std::size_t hot_live = 0;
  for (auto& w : workers) {
    for (const auto& [id, s] : w->live()) hot_live += id[0] == '{';
  }

  std::printf(
      "[resharding] reshard 1: %d slots in %.2f s (exit %d); reshard 2: %d slots in %.2f s (exit %d)\n"
      "[resharding] ops: %llu total in %.2f s of load, %llu during the %.2f s of resharding; "
      "failures: %llu (%llu by the end of reshard 1)\n"
      "[resharding] client: moved=%llu ask=%llu retries=%llu transport_errors=%llu refreshes=%llu\n"
      "[resharding] sessions at the end: %zu live (%zu in the 4 hot slots), %zu removed; count_active=%s; test %.2f s\n",
      kReshardSlots, first.seconds, first.exit_code, kReshardSlots, second.seconds, second.exit_code,
      static_cast<unsigned long long>(total_ops), load_seconds,
      static_cast<unsigned long long>(ops_during_reshards), reshard_seconds,
      static_cast<unsigned long long>(failures.count()),
      static_cast<unsigned long long>(failures_after_first),
      static_cast<unsigned long long>(after.moved - before.moved),
      static_cast<unsigned long long>(after.ask - before.ask),
      static_cast<unsigned long long>(after.retries - before.retries),
      static_cast<unsigned long long>(after.transport_errors - before.transport_errors),
      static_cast<unsigned long long>(after.refreshes - before.refreshes), live, hot_live, removed,
      counted.ok() ? std::to_string(*counted).c_str() : counted.error().message.c_str(),
      seconds_since(test_start));
  std::fflush(stdout);

  EXPECT_EQ(first.exit_code, 0) << tail(first.output);
  EXPECT_NE(first.output.find("Moving slot"), std::string::npos) << tail(first.output);
  ASSERT_TRUE(settled) << "the nodes did not agree on the slot map within 10 s of reshard 1";
  EXPECT_EQ(second.exit_code, 0) << tail(second.output);
  EXPECT_NE(second.output.find("Moving slot"), std::string::npos) << tail(second.output);
  EXPECT_EQ(failures.count(), 0u) << "failed operations:" << failures.report();
  EXPECT_GT(ops_during_reshards, 1000u);
  EXPECT_GT(after.moved - before.moved, 0u) << "the client never followed a MOVED";
  EXPECT_GT(after.ask - before.ask, 0u) << "the client never followed an ASK (hot slots not moved?)";
  EXPECT_EQ(bad_ttls, 0u) << "sessions without a sane TTL, first: " << first_bad_ttl;
  ASSERT_TRUE(counted.ok()) << counted.error().message;
  EXPECT_EQ(*counted, live);

  // The slots really moved: master 0 gave 1,500 away, master 2 gained 1,500.
  std::vector<int> slots_after;
  for (const auto& id : ids) slots_after.push_back(slot_count(cluster.cli(masters[2], "CLUSTER", "NODES"), id));
  EXPECT_EQ(slots_after[0], slots_before[0] - kReshardSlots);
  EXPECT_EQ(slots_after[1], slots_before[1]);
  EXPECT_EQ(slots_after[2], slots_before[2] + kReshardSlots);
}

}  // namespace
}  // namespace suoke::sessions::testing
