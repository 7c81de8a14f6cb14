// `suoke verify` as a user runs it, against real redis-server processes and real 6-node
// clusters. The target is filled with DUMP/RESTORE through the client (not with `suoke
// migrate`), then corrupted on purpose; each corruption must land in its category.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "migrate/verify.h"
#include "redis/client.h"
#include "support/process.h"
#include "support/redis_servers.h"

namespace suoke::testing {
namespace {

using redis::Client;
using redis::Command;

const std::string kSuoke = SUOKE_BINARY;
const std::string kBinKey = std::string("bin\0key\nwith\r\xff", 14);

std::unique_ptr<Client> connect(const std::string& url) {
  auto c = Client::connect(url);
  if (!c) throw std::runtime_error("connect " + url + ": " + c.error().message);
  return std::move(*c);
}

redis::Value exec(Client& c, Command cmd) {
  auto r = c.exec(cmd);
  if (!r) throw std::runtime_error("exec " + cmd[0] + ": " + r.error().message);
  if (r->is_error()) throw std::runtime_error("exec " + cmd[0] + ": " + r->str);
  return std::move(*r);
}

// Every type, binary keys and values, hash tags, empty strings, TTLs, two big keys (compared
// in chunks by verify).
void fill(Client& c) {
  exec(c, {"SET", "str", "hello"});
  exec(c, {"SET", "empty", ""});
  exec(c, {"SET", kBinKey, std::string("v\0\n\x01\xfe", 5)});
  exec(c, {"SET", "ttl:str", "x", "PX", "100000"});
  exec(c, {"HSET", "hash", "f1", "v1", "f2", "v2", std::string("b\0f", 3), std::string("\n", 1)});
  exec(c, {"RPUSH", "list", "a", "b", "c", "a"});
  exec(c, {"SADD", "set", "x", "y", "z"});
  exec(c, {"SADD", "set2", "p", "q"});
  exec(c, {"ZADD", "zset", "1", "one", "2.5", "two", "-3", "neg"});
  exec(c, {"XADD", "stream", "1-1", "f", "v"});
  exec(c, {"XADD", "stream", "2-1", "f", "w", "g", "x"});
  exec(c, {"XGROUP", "CREATE", "stream", "grp", "1-1"});
  exec(c, {"SET", "{user:1}:a", "1"});
  exec(c, {"SET", "{user:1}:b", "2", "EX", "5000"});
  Command big_hash = {"HSET", "bighash"};
  Command big_list = {"RPUSH", "biglist"};
  for (int i = 0; i < 2500; ++i) {
    big_hash.push_back("field" + std::to_string(i));
    big_hash.push_back("value" + std::to_string(i));
    big_list.push_back("e" + std::to_string(i));
  }
  exec(c, big_hash);
  exec(c, big_list);
  Command big_set = {"SADD", "bigset"};
  Command big_zset = {"ZADD", "bigzset"};
  std::vector<Command> stream;
  for (int i = 0; i < 2500; ++i) {
    big_set.push_back("m" + std::to_string(i));
    big_zset.push_back(std::to_string(i % 97));
    big_zset.push_back("z" + std::to_string(i));
    stream.push_back({"XADD", "bigstream", std::to_string(i + 1) + "-0", "n", std::to_string(i)});
  }
  exec(c, big_set);
  exec(c, big_zset);
  for (auto& r : c.exec_pipeline(stream)) {
    if (!r || r->is_error()) throw std::runtime_error("XADD bigstream failed");
  }
  exec(c, {"SET", "bigstring", std::string(1536 * 1024, 'x')});  // > 1 MiB: GETRANGE chunks
}
constexpr int kFilledKeys = 18;

// DUMP + PTTL from the source, RESTORE ... REPLACE into the target, for every key.
int copy(Client& from, Client& to) {
  int copied = 0;
  auto r = from.scan("*", 100, [&](const std::vector<std::string>& keys) {
    for (const auto& k : keys) {
      auto dump = exec(from, {"DUMP", k});
      auto pttl = exec(from, {"PTTL", k});
      if (dump.is_null() || pttl.integer == -2) continue;
      exec(to, {"RESTORE", k, std::to_string(std::max<int64_t>(pttl.integer, 0)), dump.str, "REPLACE"});
      ++copied;
    }
    return true;
  });
  if (!r) throw std::runtime_error("scan: " + r.error().message);
  return copied;
}

struct CliRun {
  int code = -1;
  std::string out;
  boost::json::value json;
};

CliRun verify(const std::string& from, const std::string& to, const std::string& extra = "") {
  CliRun r;
  // stdout only: the JSON report (log lines go to stderr).
  r.code = run_command("(" + kSuoke + " verify --from '" + from + "' --to '" + to + "' --json " + extra + " 2>/dev/null)",
                       &r.out);
  try {
    r.json = boost::json::parse(r.out);
  } catch (...) {
    r.json = nullptr;
  }
  return r;
}

int64_t count(const CliRun& r, const char* name) { return r.json.at(name).as_int64(); }

std::vector<std::string> examples(const CliRun& r, const char* name) {
  std::vector<std::string> out;
  for (const auto& k : r.json.at("examples").at(name).as_array()) out.emplace_back(k.as_string());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Fills the source and copies it into the target, then checks that `suoke verify <flags>`
// checks every key and exits 0: the baseline the corruptions are measured against.
void copy_then_verify_clean(Client& src, Client& tgt, const std::string& from,
                            const std::string& to, const std::string& flags, CliRun* clean) {
  fill(src);
  ASSERT_EQ(copy(src, tgt), kFilledKeys);
  *clean = verify(from, to, flags);
  ASSERT_EQ(clean->code, 0) << clean->out;
  EXPECT_EQ(count(*clean, "checked"), kFilledKeys) << clean->out;
}

// Injects one corruption per category into the target and checks each is caught.
void corrupt_and_check(Client& target, const std::string& from, const std::string& to) {
  exec(target, {"HSET", "hash", "f2", "changed"});                // changed hash field
  exec(target, {"RPUSH", "list", "a", "b", "c", "a"});            // doubled list
  exec(target, {"HSET", "bighash", "field1777", "changed"});      // changed field of a big key
  // Same sizes, one element different: only the chunked comparison can see these.
  exec(target, {"SREM", "bigset", "m1234"});
  exec(target, {"SADD", "bigset", "m-other"});
  exec(target, {"ZINCRBY", "bigzset", "0.5", "z2222"});
  exec(target, {"XDEL", "bigstream", "1800-0"});
  exec(target, {"XADD", "bigstream", "9999-0", "n", "x"});
  exec(target, {"SETRANGE", "bigstring", "1500000", "y"});
  exec(target, {"PERSIST", "ttl:str"});                           // missing TTL
  exec(target, {"SET", "extra:only-in-target", "1"});             // extra key
  exec(target, {"DEL", "set2"});                                  // wrong type
  exec(target, {"SET", "set2", "not a set"});
  exec(target, {"DEL", kBinKey});                                 // missing key (binary name)
  exec(target, {"PEXPIRE", "{user:1}:b", "100000"});              // TTL far from the source's

  CliRun r = verify(from, to, "--both-ways --round-interval 50");
  ASSERT_EQ(r.code, 1) << r.out;
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(count(r, "checked"), kFilledKeys) << r.out;
  EXPECT_EQ(count(r, "value_mismatch"), 7) << r.out;
  for (const char* k : {"bigset", "bigzset", "bigstream", "bigstring"}) {
    EXPECT_TRUE(has(examples(r, "value_mismatch"), k)) << k << " " << r.out;
  }
  EXPECT_TRUE(has(examples(r, "value_mismatch"), "hash")) << r.out;
  EXPECT_TRUE(has(examples(r, "value_mismatch"), "list")) << r.out;
  EXPECT_TRUE(has(examples(r, "value_mismatch"), "bighash")) << r.out;
  EXPECT_EQ(count(r, "missing_ttl"), 1) << r.out;
  EXPECT_EQ(examples(r, "missing_ttl"), std::vector<std::string>{"ttl:str"}) << r.out;
  EXPECT_EQ(count(r, "extra_in_target"), 1) << r.out;
  EXPECT_EQ(examples(r, "extra_in_target"), std::vector<std::string>{"extra:only-in-target"}) << r.out;
  EXPECT_EQ(count(r, "type_mismatch"), 1) << r.out;
  EXPECT_EQ(examples(r, "type_mismatch"), std::vector<std::string>{"set2"}) << r.out;
  EXPECT_EQ(count(r, "missing_in_target"), 1) << r.out;
  EXPECT_EQ(examples(r, "missing_in_target"), std::vector<std::string>{"bin\\x00key\\x0awith\\x0d\\xff"}) << r.out;
  EXPECT_EQ(count(r, "ttl_mismatch"), 1) << r.out;
  EXPECT_EQ(examples(r, "ttl_mismatch"), std::vector<std::string>{"{user:1}:b"}) << r.out;
  EXPECT_EQ(r.json.at("clean").as_bool(), false);

  // Without --both-ways the extra key is not looked for.
  CliRun one_way = verify(from, to, "--round-interval 50");
  EXPECT_EQ(one_way.code, 1) << one_way.out;
  EXPECT_EQ(count(one_way, "extra_in_target"), 0) << one_way.out;

  // The text report names the categories and prints keys escaped.
  std::string text;
  int code = run_command(kSuoke + " verify --from '" + from + "' --to '" + to + "' --examples 1 --rounds 1", &text);
  EXPECT_EQ(code, 1) << text;
  EXPECT_NE(text.find("missing_in_target  1"), std::string::npos) << text;
  EXPECT_NE(text.find("\"bin\\x00key\\x0awith\\x0d\\xff\""), std::string::npos) << text;
}

TEST(VerifyItest, StandaloneToClusterCleanThenEachCorruptionCaught) {
  RedisServer source;
  RedisCluster target;
  auto src = connect(source.url());
  auto tgt = connect(target.seed_url());
  CliRun clean;
  ASSERT_NO_FATAL_FAILURE(
      copy_then_verify_clean(*src, *tgt, source.url(), target.seed_url(), "--both-ways", &clean));
  EXPECT_EQ(clean.json.at("mismatches").as_int64(), 0) << clean.out;
  EXPECT_TRUE(clean.json.at("clean").as_bool());

  corrupt_and_check(*tgt, source.url(), target.seed_url());
}

TEST(VerifyItest, ClusterToClusterCleanThenEachCorruptionCaught) {
  RedisCluster source;
  RedisCluster target;
  auto src = connect(source.seed_url());
  auto tgt = connect(target.seed_url());
  CliRun clean;
  ASSERT_NO_FATAL_FAILURE(copy_then_verify_clean(*src, *tgt, source.seed_url(), target.seed_url(),
                                                 "--both-ways --batch 3", &clean));

  corrupt_and_check(*tgt, source.seed_url(), target.seed_url());
}

TEST(VerifyItest, StandaloneToStandaloneCleanThenEachCorruptionCaught) {
  RedisServer source;
  RedisServer target;
  auto src = connect(source.url());
  auto tgt = connect(target.url());
  CliRun clean;
  ASSERT_NO_FATAL_FAILURE(
      copy_then_verify_clean(*src, *tgt, source.url(), target.url(), "--both-ways", &clean));

  corrupt_and_check(*tgt, source.url(), target.url());
}

// A stream's consumer group that moved on in the target only is a value mismatch.
TEST(VerifyItest, StreamGroupLastDeliveredIdCompared) {
  RedisServer source;
  RedisServer target;
  auto src = connect(source.url());
  auto tgt = connect(target.url());
  fill(*src);
  copy(*src, *tgt);
  exec(*tgt, {"XGROUP", "SETID", "stream", "grp", "2-1"});
  CliRun r = verify(source.url(), target.url(), "--rounds 1");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(count(r, "value_mismatch"), 1) << r.out;
  EXPECT_EQ(examples(r, "value_mismatch"), std::vector<std::string>{"stream"}) << r.out;
}

// A stream whose target copy lost pending entries (acknowledged in the target only), or whose
// last-generated id differs (an entry added and deleted in the target only), is a value
// mismatch: the entries and the groups' last-delivered ids alone are equal. Found in review:
// verify compared only XRANGE and (group name, last-delivered-id), so both were reported clean,
// for small streams and for big ones (compared in chunks).
TEST(VerifyItest, StreamPendingEntriesAndLastGeneratedIdCompared) {
  RedisServer source;
  RedisServer target;
  auto src = connect(source.url());
  auto tgt = connect(target.url());
  fill(*src);
  exec(*src, {"XREADGROUP", "GROUP", "grp", "consumer-a", "STREAMS", "stream", ">"});
  exec(*src, {"XGROUP", "CREATE", "bigstream", "bgrp", "0"});
  exec(*src, {"XREADGROUP", "GROUP", "bgrp", "consumer-b", "COUNT", "5", "STREAMS", "bigstream", ">"});
  copy(*src, *tgt);
  CliRun clean = verify(source.url(), target.url(), "--rounds 1");
  ASSERT_EQ(clean.code, 0) << clean.out;

  exec(*tgt, {"XACK", "stream", "grp", "2-1"});
  exec(*tgt, {"XACK", "bigstream", "bgrp", "3-0"});
  CliRun acked = verify(source.url(), target.url(), "--rounds 1");
  EXPECT_EQ(acked.code, 1) << acked.out;
  EXPECT_EQ(count(acked, "value_mismatch"), 2) << acked.out;
  EXPECT_TRUE(has(examples(acked, "value_mismatch"), "stream")) << acked.out;
  EXPECT_TRUE(has(examples(acked, "value_mismatch"), "bigstream")) << acked.out;

  copy(*src, *tgt);
  exec(*tgt, {"XADD", "stream", "9-1", "f", "later"});
  exec(*tgt, {"XDEL", "stream", "9-1"});
  exec(*tgt, {"XADD", "bigstream", "99999-0", "n", "later"});
  exec(*tgt, {"XDEL", "bigstream", "99999-0"});
  CliRun moved = verify(source.url(), target.url(), "--rounds 1");
  EXPECT_EQ(moved.code, 1) << moved.out;
  EXPECT_EQ(count(moved, "value_mismatch"), 2) << moved.out;
  EXPECT_TRUE(has(examples(moved, "value_mismatch"), "stream")) << moved.out;
  EXPECT_TRUE(has(examples(moved, "value_mismatch"), "bigstream")) << moved.out;
}

// Keys that expire while the check runs are not mismatches: 300 keys with 100-1,500 ms left,
// the target's copies expiring up to 150 ms before the source's, and one key that is already
// gone from the target but expires from the source 300 ms later. A key that is really
// missing is still reported.
TEST(VerifyItest, KeysExpiringDuringTheCheckAreNotReported) {
  RedisServer source;
  RedisServer target;
  auto src = connect(source.url());
  auto tgt = connect(target.url());
  std::vector<Command> src_cmds, tgt_cmds;
  for (int i = 0; i < 300; ++i) {
    std::string k = "short:" + std::to_string(i);
    int ttl = 100 + (i * 47) % 1400;
    src_cmds.push_back({"SET", k, "v", "PX", std::to_string(ttl)});
    tgt_cmds.push_back({"SET", k, "v", "PX", std::to_string(std::max(1, ttl - (i % 150)))});
  }
  src_cmds.push_back({"SET", "gone-from-target-first", "v", "PX", "300"});
  src_cmds.push_back({"SET", "really-missing", "v"});
  src_cmds.push_back({"SET", "stable", "v"});
  tgt_cmds.push_back({"SET", "stable", "v"});
  for (auto& r : src->exec_pipeline(src_cmds)) ASSERT_TRUE(r.ok());
  for (auto& r : tgt->exec_pipeline(tgt_cmds)) ASSERT_TRUE(r.ok());

  CliRun r = verify(source.url(), target.url(), "--batch 50");
  ASSERT_TRUE(r.json.is_object()) << r.out;
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_EQ(count(r, "missing_in_target"), 1) << r.out;
  EXPECT_EQ(examples(r, "missing_in_target"), std::vector<std::string>{"really-missing"}) << r.out;
  EXPECT_EQ(r.json.at("mismatches").as_int64(), 1) << r.out;

  // The control: with a single round, the same situation is a (false) alarm, so it is the
  // re-check rounds that keep it out of the report above.
  ASSERT_TRUE(src->exec({"SET", "gone-from-target-first", "v", "PX", "2000"}).ok());
  CliRun single = verify(source.url(), target.url(), "--rounds 1");
  EXPECT_GE(count(single, "missing_in_target"), 2) << single.out;
  EXPECT_TRUE(has(examples(single, "missing_in_target"), "gone-from-target-first")) << single.out;
}

// A wrong password or an unreachable server is reported without the URL's password. Found in
// review: verify printed the URL as given ("source redis://:secret@host: ... rejected AUTH").
TEST(VerifyItest, ErrorsDoNotEchoThePassword) {
  RedisServer locked(RedisServer::Options{.password = "s3cret"});
  const std::string wrong = "redis://:not-the-pw-xyz@127.0.0.1:" + std::to_string(locked.port());
  const std::string dead = "redis://:dead-pw-xyz@127.0.0.1:" + std::to_string(redis_detail::free_port());
  for (const std::string& args : {" --from " + wrong + " --to " + wrong, " --from " + dead + " --to " + wrong,
                                  " --from " + locked.url() + " --to " + dead, " --from " + dead + " --to " + wrong +
                                                                                   " --db all"}) {
    std::string out;
    EXPECT_EQ(run_command(kSuoke + " verify" + args, &out), 2) << args << ": " << out;
    EXPECT_NE(out.find("127.0.0.1:"), std::string::npos) << out;
    EXPECT_EQ(out.find("-pw-xyz"), std::string::npos) << "password echoed: " << out;
  }
}

TEST(VerifyItest, UsageErrorsAndUnreachableServersExit2) {
  RedisServer up;
  std::string out;
  EXPECT_EQ(run_command(kSuoke + " verify --from " + up.url(), &out), 2) << out;
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " verify --from " + up.url() + " --to " + up.url() + " --batch x", &out), 2) << out;
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " verify --from " + up.url() + " --to " + up.url() + " --nope", &out), 2) << out;
  out.clear();
  int dead = redis_detail::free_port();
  EXPECT_EQ(run_command(kSuoke + " verify --from " + up.url() + " --to redis://127.0.0.1:" + std::to_string(dead), &out),
            2)
      << out;
  EXPECT_NE(out.find("target"), std::string::npos) << out;
  // An empty source: clean (both sides agree) but never silently: the warning names it.
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " verify --from " + up.url() + " --to " + up.url(), &out), 0) << out;
  EXPECT_NE(out.find("no source key was compared"), std::string::npos) << out;
  // Same server on both sides: trivially clean, no warning.
  up.cli("SET", "k", "v");
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " verify --from " + up.url() + " --to " + up.url(), &out), 0) << out;
  EXPECT_EQ(out.find("no source key was compared"), std::string::npos) << out;
}

TEST(VerifyTest, PrintableKey) {
  EXPECT_EQ(migrate::printable_key("plain:key"), "plain:key");
  EXPECT_EQ(migrate::printable_key(std::string("a\0b\n\"\\\x7f", 7)), "a\\x00b\\x0a\\\"\\\\\\x7f");
}

}  // namespace
}  // namespace suoke::testing
