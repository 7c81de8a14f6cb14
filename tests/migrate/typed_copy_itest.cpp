// copy_key_typed against real servers: a standalone redis-server as the source and a 6-node
// Redis Cluster as the target (both started once per test process, flushed before every test).
// Small chunk sizes make every type go through several chunks. After every test no temporary
// key may be left in any master.
#include "migrate/typed_copy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "migrate/migrate.h"
#include "redis/client.h"
#include "redis/cluster/crc16.h"
#include "support/dump_payload.h"
#include "support/process.h"
#include "support/redis_servers.h"
#include "migrate_fixtures.h"

namespace suoke::migrate {
namespace {

using redis::Value;
using namespace test_fixtures;

// prefix + i (not `"literal" + std::string`, which trips GCC 12's -Wrestrict false positive).
std::string numbered(const char* prefix, int i) { return std::string(prefix).append(std::to_string(i)); }

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string text(const Value& v) {
  if (v.type == Value::Type::kInteger) return std::to_string(v.integer);
  if (v.is_null()) return "(nil)";
  return v.str;
}

// A flat XINFO reply as name -> printed value (nested replies flattened).
std::string flat(const Value& v) {
  if (!v.is_array()) return escape_key(text(v));
  std::string out = "[";
  for (const auto& e : v.elements) out += flat(e) + ",";
  return out + "]";
}
std::map<std::string, std::string> fields_of(const Value& v) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) out[v.elements[i].str] = flat(v.elements[i + 1]);
  return out;
}

// Type and full content, order-independent where Redis' order is not part of the value.
std::string content(redis::Client& c, const std::string& key) {
  std::string type = exec(c, {"TYPE", key}).str;
  std::vector<std::string> parts;
  auto pairs = [&](const Value& v) {
    for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
      parts.push_back(flat(v.elements[i]) + "=" + flat(v.elements[i + 1]));
    }
    std::sort(parts.begin(), parts.end());
  };
  if (type == "string") {
    parts.push_back(flat(exec(c, {"GET", key})));
  } else if (type == "hash") {
    pairs(exec(c, {"HGETALL", key}));
  } else if (type == "list") {
    parts.push_back(flat(exec(c, {"LRANGE", key, "0", "-1"})));
  } else if (type == "set") {
    for (const auto& e : exec(c, {"SMEMBERS", key}).elements) parts.push_back(flat(e));
    std::sort(parts.begin(), parts.end());
  } else if (type == "zset") {
    parts.push_back(flat(exec(c, {"ZRANGE", key, "0", "-1", "WITHSCORES"})));
  } else if (type == "stream") {
    parts.push_back(flat(exec(c, {"XRANGE", key, "-", "+"})));
  }
  std::string out = type + ":";
  for (const auto& p : parts) out += p + ";";
  return out;
}

// Temporary keys in any master of the target.
std::vector<std::string> temp_keys_left() {
  std::vector<std::string> keys;
  for (int port : cluster().master_ports()) {
    std::string out = cluster().cli(port, "--scan", "--pattern", std::string(kTypedTempPrefix) + "*");
    std::size_t pos = 0;
    while (pos < out.size()) {
      std::size_t nl = out.find('\n', pos);
      if (nl == std::string::npos) nl = out.size();
      if (nl > pos) keys.push_back(out.substr(pos, nl - pos));
      pos = nl + 1;
    }
  }
  return keys;
}

class TypedCopyTest : public SourceAndClusterTest {
 protected:
  void TearDown() override {
    auto left = temp_keys_left();
    EXPECT_TRUE(left.empty()) << left.size() << " temporary keys left, e.g. " << left.front();
  }
  // Small chunks: every test key spans several.
  TypedCopyOptions small_chunks() {
    TypedCopyOptions o;
    o.chunk_elements = 3;
    o.chunk_bytes = 4;
    return o;
  }
  TypedCopyResult copy(const std::string& key, const TypedCopyOptions& o) {
    auto r = copy_key_typed(*src_, *dst_, key, o);
    if (!r.ok()) throw std::runtime_error("copy_key_typed " + escape_key(key) + ": " + r.error().message);
    return *r;
  }
  TypedCopyOptions with_source_expiry(const std::string& key, TypedCopyOptions o) {
    int64_t at = exec(*src_, {"PEXPIRETIME", key}).integer;
    o.expire_at_ms = at > 0 ? at : 0;
    return o;
  }
  void expect_same(const std::string& key) {
    auto b = content(*dst_, key);
    ASSERT_NE(b, "none:") << "missing in target: " << escape_key(key);
    EXPECT_EQ(content(*src_, key), b) << escape_key(key);
    EXPECT_EQ(exec(*src_, {"PEXPIRETIME", key}).integer, exec(*dst_, {"PEXPIRETIME", key}).integer) << escape_key(key);
  }
};

TEST_F(TypedCopyTest, TempKeyIsInTheKeysSlotAndUnique) {
  for (std::string key : {std::string("a"), std::string("{user1000}.following"), std::string("\0\n\xff", 3),
                          std::string(""), std::string("x{}y"), std::string("{{a}}")}) {
    std::string t1 = typed_temp_key(key), t2 = typed_temp_key(key);
    EXPECT_EQ(redis::cluster::key_slot(t1), redis::cluster::key_slot(key)) << escape_key(key);
    EXPECT_NE(t1, t2);
    EXPECT_EQ(t1.rfind(kTypedTempPrefix, 0), 0u);
  }
  for (int slot = 0; slot < redis::cluster::kSlotCount; ++slot) {
    std::string tag(slot_tag(static_cast<uint16_t>(slot)));
    ASSERT_FALSE(tag.empty());
    ASSERT_LE(tag.size(), 4u);
    ASSERT_EQ(redis::cluster::key_slot(tag), slot);
  }
}

TEST_F(TypedCopyTest, EveryTypeWithBinaryDataAndAbsoluteTtl) {
  const std::string nul_key("k\0\n\xff", 4);
  const std::string bin(std::string("a\0b\r\nc\xff\x80", 8));
  exec(*src_, {"SET", "str", "hello, typed world"});
  exec(*src_, {"SET", "empty", ""});
  exec(*src_, {"SET", nul_key, bin + bin + bin, "PX", "600000"});
  exec(*src_, {"SET", "{tag}a", "exactly4"});
  exec(*src_, {"SET", "{tag}b", "abc"});
  exec(*src_, {"HSET", "hash", "f1", "v1", bin, bin, "", "empty field", "f4", ""});
  exec(*src_, {"PEXPIRE", "hash", "500000"});
  redis::Command big_hash = {"HSET", "hash:big"};
  for (int i = 0; i < 300; ++i) big_hash.insert(big_hash.end(), {numbered("field", i), std::string(80, 'x')});
  exec(*src_, big_hash);
  exec(*src_, {"RPUSH", "list", "a", "b", "c", "a", bin, "", "x"});
  exec(*src_, {"PEXPIRE", "list", "700000"});
  redis::Command long_list = {"RPUSH", "list:long"};
  for (int i = 0; i < 1000; ++i) long_list.push_back(std::to_string(i));
  exec(*src_, long_list);
  exec(*src_, {"SADD", "set", "x", "y", "z", bin, ""});
  exec(*src_, {"SADD", "intset", "1", "2", "3", "-4"});
  redis::Command big_set = {"SADD", "set:big"};
  for (int i = 0; i < 500; ++i) big_set.push_back(numbered("member-", i));
  exec(*src_, big_set);
  exec(*src_, {"ZADD", "zset", "1", "one", "2.5", "two", "-3", "three", "inf", "top", "-inf", "bottom", "0.1",
               "tenth", "1e-300", "tiny", "3.141592653589793", "pi", "1.7976931348623157e308", "max", "0", bin});
  exec(*src_, {"PEXPIRE", "zset", "800000"});
  redis::Command big_zset = {"ZADD", "zset:big"};
  for (int i = 0; i < 400; ++i) big_zset.insert(big_zset.end(), {std::to_string(i) + ".000001", numbered("m", i)});
  exec(*src_, big_zset);
  exec(*src_, {"XADD", "stream", "1-1", "k", "v1", bin, bin});
  exec(*src_, {"XADD", "stream", "2-5", "k", "v2"});
  exec(*src_, {"XADD", "stream", "3-0", "k", "v3"});
  exec(*src_, {"XADD", "stream", "3-7", "k", "v4"});
  exec(*src_, {"PEXPIRE", "stream", "900000"});

  const std::vector<std::string> keys = {"str",      "empty",  nul_key, "{tag}a",   "{tag}b",   "hash",    "hash:big",
                                         "list",     "list:long", "set", "intset", "set:big", "zset", "zset:big", "stream"};
  for (const auto& k : keys) {
    auto r = copy(k, with_source_expiry(k, small_chunks()));
    EXPECT_EQ(r.outcome, TypedOutcome::kCopied) << escape_key(k);
    EXPECT_GE(r.elements, 1u) << escape_key(k);
  }
  for (const auto& k : keys) expect_same(k);
  // Read back through the commands as well.
  EXPECT_EQ(exec(*dst_, {"GET", nul_key}).str, bin + bin + bin);
  EXPECT_EQ(exec(*dst_, {"GET", "empty"}).str, "");
  EXPECT_EQ(exec(*dst_, {"TYPE", "empty"}).str, "string");
  EXPECT_EQ(exec(*dst_, {"HGET", "hash", bin}).str, bin);
  EXPECT_EQ(exec(*dst_, {"HLEN", "hash:big"}).integer, 300);
  EXPECT_EQ(exec(*dst_, {"LLEN", "list:long"}).integer, 1000);
  EXPECT_EQ(exec(*dst_, {"LINDEX", "list:long", "999"}).str, "999");
  EXPECT_EQ(exec(*dst_, {"SCARD", "set:big"}).integer, 500);
  EXPECT_EQ(exec(*dst_, {"SISMEMBER", "set", bin}).integer, 1);
  EXPECT_EQ(exec(*dst_, {"SISMEMBER", "set", ""}).integer, 1);
  // Scores are exact, infinities included.
  for (const char* m : {"top", "bottom", "tenth", "tiny", "pi", "max", "two"}) {
    EXPECT_EQ(exec(*dst_, {"ZSCORE", "zset", m}).str, exec(*src_, {"ZSCORE", "zset", m}).str) << m;
  }
  EXPECT_EQ(exec(*dst_, {"ZSCORE", "zset", "top"}).str, "inf");
  EXPECT_EQ(exec(*dst_, {"ZSCORE", "zset", "bottom"}).str, "-inf");
  // Absolute expiry: identical to the millisecond; keys without one have none.
  EXPECT_EQ(exec(*dst_, {"PEXPIRETIME", "stream"}).integer, exec(*src_, {"PEXPIRETIME", "stream"}).integer);
  EXPECT_GT(exec(*dst_, {"PEXPIRETIME", "stream"}).integer, unix_ms_now());
  EXPECT_EQ(exec(*dst_, {"PTTL", "str"}).integer, -1);
  // Both hash-tagged keys share a slot in the target as in the source.
  EXPECT_EQ(exec(*dst_, {"CLUSTER", "KEYSLOT", "{tag}a"}).integer, exec(*dst_, {"CLUSTER", "KEYSLOT", "{tag}b"}).integer);
  uint64_t total = 0;
  for (int port : cluster().master_ports()) total += std::stoull(cluster().cli(port, "DBSIZE"));
  EXPECT_EQ(total, keys.size());
}

// A list, hash and stream of 400 elements of 16 KiB with a 16 KiB chunk: after the first
// page (128 elements) reads shrink towards the 128 KiB budget (8 elements), instead of one
// reply of chunk_elements (1000) x 16 KiB.
TEST_F(TypedCopyTest, BigElementsAreReadInSmallerPages) {
  const char* script =
      "for i = 1, 400 do "
      "  local v = string.rep(string.char(i % 256), 16384) "
      "  redis.call('RPUSH', 'list', v) redis.call('HSET', 'hash', 'f' .. i, v) "
      "  redis.call('XADD', 'stream', i .. '-1', 'v', v) "
      "end return 1";
  ASSERT_EQ(source().cli("EVAL", script, "0"), "1\n");
  for (const char* key : {"list", "hash", "stream"}) {
    TypedCopyOptions o;
    o.chunk_bytes = 16 << 10;
    std::size_t chunks = 0;
    o.after_chunk = [&](const std::string&, std::size_t n) { chunks = n; };
    auto r = copy(key, o);
    EXPECT_EQ(r.outcome, TypedOutcome::kCopied) << key;
    EXPECT_EQ(r.elements, 400u) << key;
    EXPECT_GE(chunks, 10u) << key;
    EXPECT_EQ(content(*dst_, key), content(*src_, key)) << key;
  }
}

TEST_F(TypedCopyTest, BytesAndElementsAreCounted) {
  exec(*src_, {"SET", "s", std::string(10, 'a')});
  exec(*src_, {"HSET", "h", "ab", "cde", "f", "gh"});
  auto s = copy("s", small_chunks());
  EXPECT_EQ(s.bytes, 10u);
  EXPECT_EQ(s.elements, 1u);
  auto h = copy("h", small_chunks());
  EXPECT_EQ(h.bytes, 8u);
  EXPECT_EQ(h.elements, 2u);
}

// XINFO STREAM / GROUPS / CONSUMERS and XPENDING compared field by field.
TEST_F(TypedCopyTest, StreamKeepsIdsGroupsConsumersAndPendingEntries) {
  for (int i = 1; i <= 20; ++i) exec(*src_, {"XADD", "s", std::to_string(i) + "-" + std::to_string(i % 3), "n", std::to_string(i)});
  exec(*src_, {"XDEL", "s", "5-2"});  // max-deleted-entry-id
  exec(*src_, {"XADD", "s", "100-0", "last", "x"});
  exec(*src_, {"XDEL", "s", "100-0"});  // last-generated-id beyond the last entry
  exec(*src_, {"XGROUP", "CREATE", "s", "g1", "0"});
  exec(*src_, {"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "4", "STREAMS", "s", ">"});
  exec(*src_, {"XREADGROUP", "GROUP", "g1", "bob", "COUNT", "3", "STREAMS", "s", ">"});
  exec(*src_, {"XACK", "s", "g1", "2-2"});
  exec(*src_, {"XCLAIM", "s", "g1", "bob", "0", "1-1"});  // delivery count 2
  exec(*src_, {"XGROUP", "CREATECONSUMER", "s", "g1", "carol"});  // no pending entries
  exec(*src_, {"XGROUP", "CREATE", "s", "g2", "10-1"});
  exec(*src_, {"XREADGROUP", "GROUP", "g2", "dave", "COUNT", "5", "STREAMS", "s", ">"});
  exec(*src_, {"XGROUP", "CREATE", "s", "g3", "$"});  // nothing read
  std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // Idle times before the copy: the target's can only be larger.
  auto src_pending_before = exec(*src_, {"XPENDING", "s", "g1", "-", "+", "100"});
  auto r = copy("s", small_chunks());
  EXPECT_EQ(r.outcome, TypedOutcome::kCopied);
  EXPECT_EQ(r.elements, 19u);  // 20 added, 5-2 deleted
  expect_same("s");

  auto si = fields_of(exec(*src_, {"XINFO", "STREAM", "s"}));
  auto ti = fields_of(exec(*dst_, {"XINFO", "STREAM", "s"}));
  for (const char* f : {"length", "last-generated-id", "max-deleted-entry-id", "entries-added",
                        "recorded-first-entry-id", "groups", "first-entry", "last-entry"}) {
    EXPECT_EQ(si[f], ti[f]) << f;
  }
  EXPECT_EQ(ti["last-generated-id"], "\"100-0\"");
  auto sg = exec(*src_, {"XINFO", "GROUPS", "s"});
  auto tg = exec(*dst_, {"XINFO", "GROUPS", "s"});
  ASSERT_EQ(sg.elements.size(), 3u);
  ASSERT_EQ(tg.elements.size(), 3u);
  for (std::size_t g = 0; g < 3; ++g) {
    auto a = fields_of(sg.elements[g]);
    auto b = fields_of(tg.elements[g]);
    EXPECT_EQ(a, b) << "group " << g;  // name, consumers, pending, last-delivered-id, entries-read, lag
    std::string group = sg.elements[g].elements[1].str;
    auto sc = exec(*src_, {"XINFO", "CONSUMERS", "s", group});
    auto tc = exec(*dst_, {"XINFO", "CONSUMERS", "s", group});
    ASSERT_EQ(sc.elements.size(), tc.elements.size()) << group;
    for (std::size_t c = 0; c < sc.elements.size(); ++c) {
      auto x = fields_of(sc.elements[c]);
      auto y = fields_of(tc.elements[c]);
      EXPECT_EQ(x["name"], y["name"]) << group;
      EXPECT_EQ(x["pending"], y["pending"]) << group << " " << x["name"];
    }
    auto sp = exec(*src_, {"XPENDING", "s", group, "-", "+", "100"});
    auto tp = exec(*dst_, {"XPENDING", "s", group, "-", "+", "100"});
    ASSERT_EQ(sp.elements.size(), tp.elements.size()) << group;
    for (std::size_t p = 0; p < sp.elements.size(); ++p) {
      const auto& a = sp.elements[p].elements;
      const auto& b = tp.elements[p].elements;
      EXPECT_EQ(a[0].str, b[0].str) << group;          // id
      EXPECT_EQ(a[1].str, b[1].str) << group;          // consumer
      EXPECT_EQ(a[3].integer, b[3].integer) << group;  // delivery count
      if (group == "g1") {
        EXPECT_GE(b[2].integer, src_pending_before.elements[p].elements[2].integer) << "idle";
      }
    }
    EXPECT_EQ(flat(exec(*src_, {"XPENDING", "s", group})), flat(exec(*dst_, {"XPENDING", "s", group}))) << group;
  }
  // The copy is a working stream: new entries get ids after the source's last generated one.
  auto next = exec(*dst_, {"XADD", "s", "100-*", "k", "v"});
  EXPECT_EQ(next.str, "100-1");
}

TEST_F(TypedCopyTest, EmptyStreamWithGroupsIsRecreated) {
  exec(*src_, {"XGROUP", "CREATE", "empty", "g1", "$", "MKSTREAM"});
  exec(*src_, {"XGROUP", "CREATE", "empty", "g2", "0"});
  exec(*src_, {"XGROUP", "CREATECONSUMER", "empty", "g2", "c"});
  exec(*src_, {"XADD", "trimmed", "7-7", "a", "b"});
  exec(*src_, {"XDEL", "trimmed", "7-7"});
  for (const char* k : {"empty", "trimmed"}) {
    auto r = copy(k, small_chunks());
    EXPECT_EQ(r.outcome, TypedOutcome::kCopied) << k;
    EXPECT_EQ(r.elements, 0u) << k;
    EXPECT_EQ(exec(*dst_, {"TYPE", k}).str, "stream") << k;
    EXPECT_EQ(exec(*dst_, {"XLEN", k}).integer, 0) << k;
    auto si = fields_of(exec(*src_, {"XINFO", "STREAM", k}));
    auto ti = fields_of(exec(*dst_, {"XINFO", "STREAM", k}));
    for (const char* f : {"last-generated-id", "max-deleted-entry-id", "entries-added", "groups"}) {
      EXPECT_EQ(si[f], ti[f]) << k << " " << f;
    }
  }
  EXPECT_EQ(flat(exec(*src_, {"XINFO", "GROUPS", "empty"})), flat(exec(*dst_, {"XINFO", "GROUPS", "empty"})));
  EXPECT_EQ(exec(*dst_, {"XINFO", "CONSUMERS", "empty", "g2"}).elements.size(), 1u);
}

TEST_F(TypedCopyTest, ConflictReplaceSkipFail) {
  exec(*src_, {"RPUSH", "k", "a", "b", "c", "d"});
  exec(*dst_, {"SET", "k", "old"});

  auto o = small_chunks();
  o.conflict = Conflict::kFail;
  EXPECT_EQ(copy("k", o).outcome, TypedOutcome::kExists);
  EXPECT_EQ(exec(*dst_, {"GET", "k"}).str, "old");

  o.conflict = Conflict::kSkip;
  EXPECT_EQ(copy("k", o).outcome, TypedOutcome::kSkipped);
  EXPECT_EQ(exec(*dst_, {"GET", "k"}).str, "old");

  // The key appears in the target while the copy runs: RENAMENX keeps the target's.
  exec(*dst_, {"DEL", "k"});
  o.after_chunk = [&](const std::string&, std::size_t chunks) {
    if (chunks == 1) exec(*dst_, {"SET", "k", "newer"});
  };
  EXPECT_EQ(copy("k", o).outcome, TypedOutcome::kSkipped);
  EXPECT_EQ(exec(*dst_, {"GET", "k"}).str, "newer");
  exec(*dst_, {"DEL", "k"});
  o.conflict = Conflict::kFail;
  EXPECT_EQ(copy("k", o).outcome, TypedOutcome::kExists);
  EXPECT_EQ(exec(*dst_, {"GET", "k"}).str, "newer");

  o.after_chunk = nullptr;
  o.conflict = Conflict::kReplace;
  exec(*dst_, {"PEXPIRE", "k", "100000"});
  EXPECT_EQ(copy("k", o).outcome, TypedOutcome::kCopied);
  expect_same("k");  // the list, and no expiry left from the replaced key
  // A re-run gives the same target: the list is not doubled.
  EXPECT_EQ(copy("k", o).outcome, TypedOutcome::kCopied);
  EXPECT_EQ(exec(*dst_, {"LLEN", "k"}).integer, 4);
}

TEST_F(TypedCopyTest, TargetKeyNameCanDiffer) {
  exec(*src_, {"HSET", "{t}h", "a", "1", "b", "2", "c", "3", "d", "4"});
  auto o = small_chunks();
  o.target_key = "db3:{t}h";
  std::string temp;
  o.after_chunk = [&](const std::string& tmp, std::size_t) { temp = tmp; };
  EXPECT_EQ(copy("{t}h", o).outcome, TypedOutcome::kCopied);
  EXPECT_EQ(content(*dst_, "db3:{t}h"), content(*src_, "{t}h"));
  EXPECT_EQ(exec(*dst_, {"EXISTS", "{t}h"}).integer, 0);
  EXPECT_EQ(redis::cluster::key_slot(temp), redis::cluster::key_slot("db3:{t}h"));
  o.conflict = Conflict::kFail;
  o.after_chunk = nullptr;
  EXPECT_EQ(copy("{t}h", o).outcome, TypedOutcome::kExists);
}

TEST_F(TypedCopyTest, WhileBuildingTheTempKeyIsInTheSlotWithASafetyExpiry) {
  redis::Command add = {"SADD", "{user7}.set"};
  for (int i = 0; i < 20; ++i) add.push_back(numbered("m", i));
  exec(*src_, add);
  exec(*src_, {"PEXPIRE", "{user7}.set", "3000000"});
  auto o = with_source_expiry("{user7}.set", small_chunks());
  std::size_t seen = 0;
  o.after_chunk = [&](const std::string& tmp, std::size_t) {
    ++seen;
    EXPECT_EQ(exec(*dst_, {"CLUSTER", "KEYSLOT", tmp}).integer, exec(*dst_, {"CLUSTER", "KEYSLOT", "{user7}.set"}).integer);
    int64_t pttl = exec(*dst_, {"PTTL", tmp}).integer;
    EXPECT_GT(pttl, 0);
    EXPECT_LE(pttl, 3600 * 1000);
    EXPECT_EQ(exec(*dst_, {"EXISTS", "{user7}.set"}).integer, 0) << "no half-written key under its name";
  };
  EXPECT_EQ(copy("{user7}.set", o).outcome, TypedOutcome::kCopied);
  EXPECT_GE(seen, 2u);
  expect_same("{user7}.set");
}

TEST_F(TypedCopyTest, ExpiredDuringCopyIsNotLeftBehind) {
  for (const char* k : {"list", "str"}) {
    if (std::string(k) == "list") exec(*src_, {"RPUSH", k, "1", "2", "3", "4", "5", "6", "7"});
    else exec(*src_, {"SET", k, "0123456789abcdef"});
    exec(*src_, {"PEXPIRE", k, "150"});
    auto o = with_source_expiry(k, small_chunks());
    ASSERT_GT(o.expire_at_ms, 0);
    // After the second chunk, wait past the key's expiry.
    o.after_chunk = [&](const std::string&, std::size_t chunks) {
      if (chunks == 2) {
        while (unix_ms_now() <= o.expire_at_ms) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    };
    EXPECT_EQ(copy(k, o).outcome, TypedOutcome::kExpired) << k;
    EXPECT_EQ(exec(*dst_, {"EXISTS", k}).integer, 0) << k;
  }
  // Expiry passing after the last chunk, before it is put in place.
  exec(*src_, {"SET", "late", "ab"});
  exec(*src_, {"PEXPIRE", "late", "150"});
  auto o = with_source_expiry("late", small_chunks());
  o.after_chunk = [&](const std::string&, std::size_t) {
    while (unix_ms_now() <= o.expire_at_ms) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  EXPECT_EQ(copy("late", o).outcome, TypedOutcome::kExpired);
  EXPECT_EQ(exec(*dst_, {"EXISTS", "late"}).integer, 0);
  // Already past before starting: nothing is read or written.
  o.after_chunk = nullptr;
  o.expire_at_ms = unix_ms_now() - 1;
  EXPECT_EQ(copy("late", o).outcome, TypedOutcome::kExpired);
}

TEST_F(TypedCopyTest, VanishedOrRetypedMidCopyIsNotLeftBehind) {
  exec(*src_, {"HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6", "g", "7"});
  auto o = small_chunks();
  o.after_chunk = [&](const std::string&, std::size_t chunks) {
    if (chunks == 1) exec(*src_, {"DEL", "h"});
  };
  EXPECT_EQ(copy("h", o).outcome, TypedOutcome::kVanished);
  EXPECT_EQ(exec(*dst_, {"EXISTS", "h"}).integer, 0);

  exec(*src_, {"RPUSH", "l", "1", "2", "3", "4", "5", "6", "7", "8"});
  o.after_chunk = [&](const std::string&, std::size_t chunks) {
    if (chunks == 1) {
      exec(*src_, {"DEL", "l"});
      exec(*src_, {"SET", "l", "now a string"});
    }
  };
  EXPECT_EQ(copy("l", o).outcome, TypedOutcome::kVanished);
  EXPECT_EQ(exec(*dst_, {"EXISTS", "l"}).integer, 0);

  o.after_chunk = nullptr;
  EXPECT_EQ(copy("never-existed", o).outcome, TypedOutcome::kVanished);
  EXPECT_EQ(exec(*dst_, {"EXISTS", "never-existed"}).integer, 0);
}

TEST_F(TypedCopyTest, TargetErrorMidCopyReturnsTheErrorAndDeletesTheTempKey) {
  exec(*src_, {"RPUSH", "l", "1", "2", "3", "4", "5", "6", "7", "8"});
  auto o = small_chunks();
  std::string temp;
  o.after_chunk = [&](const std::string& tmp, std::size_t chunks) {
    temp = tmp;
    if (chunks == 1) exec(*dst_, {"SET", tmp, "wrong type now"});  // the next RPUSH fails
  };
  auto r = copy_key_typed(*src_, *dst_, "l", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("WRONGTYPE"), std::string::npos) << r.error().message;
  EXPECT_EQ(exec(*dst_, {"EXISTS", "l"}).integer, 0);
  ASSERT_FALSE(temp.empty());
  EXPECT_EQ(exec(*dst_, {"EXISTS", temp}).integer, 0);
}

TEST_F(TypedCopyTest, StopFlagAbandonsTheCopy) {
  exec(*src_, {"RPUSH", "l", "1", "2", "3", "4", "5", "6", "7", "8"});
  std::atomic<bool> stop{false};
  auto o = small_chunks();
  o.stop = &stop;
  o.after_chunk = [&](const std::string&, std::size_t) { stop = true; };
  auto r = copy_key_typed(*src_, *dst_, "l", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, "stopped");
  EXPECT_EQ(exec(*dst_, {"EXISTS", "l"}).integer, 0);
}

// The test helper that makes a real target refuse a payload as if it came from a newer Redis:
// its CRC64 matches the one Redis computed, and the rewritten payload is refused only for its
// version. The typed copy serves those keys.
TEST_F(TypedCopyTest, PayloadWithANewerRdbVersionIsRefusedAndTheTypedCopyServesIt) {
  EXPECT_EQ(suoke::testing::redis_crc64("123456789"), 0xe9c6d914c4b8d9caULL);
  exec(*src_, {"SET", "s", std::string("v\0\n", 3)});
  exec(*src_, {"RPUSH", "l", "a", "b", "c", "d", "e"});
  exec(*src_, {"HSET", "h", "f", "v", "g", "w"});
  exec(*src_, {"SADD", "set", "x", "y", "z", "w"});
  exec(*src_, {"ZADD", "z", "1", "a", "inf", "b", "-2.5", "c"});
  exec(*src_, {"XADD", "x", "5-5", "f", "v"});
  exec(*src_, {"XGROUP", "CREATE", "x", "g", "0"});
  exec(*src_, {"XREADGROUP", "GROUP", "g", "c1", "STREAMS", "x", ">"});
  for (const char* key : {"s", "l", "h", "set", "z", "x"}) {
    std::string payload = exec(*src_, {"DUMP", key}).str;
    const std::string original = payload;
    const uint16_t version = suoke::testing::dump_rdb_version(payload);
    EXPECT_GE(version, 9) << key;
    suoke::testing::set_dump_rdb_version(payload, version);
    EXPECT_EQ(payload, original) << key << ": our CRC64 differs from the one Redis wrote";
    suoke::testing::set_dump_rdb_version(payload, static_cast<uint16_t>(version + 1));
    auto refused = dst_->exec({"RESTORE", key, "0", payload});
    ASSERT_TRUE(refused.ok()) << refused.error().message;
    ASSERT_TRUE(refused->is_error()) << key;
    EXPECT_EQ(refused->str, "ERR DUMP payload version or checksum are wrong") << key;
    EXPECT_EQ(copy(key, small_chunks()).outcome, TypedOutcome::kCopied) << key;
    expect_same(key);
  }
  EXPECT_EQ(flat(exec(*src_, {"XPENDING", "x", "g"})), flat(exec(*dst_, {"XPENDING", "x", "g"})));
}

// A target whose proto-max-bulk-len is below a payload's size cannot take its RESTORE. The
// typed copy writes chunks below the limit, so collections of any total size get through. A
// string cannot: Redis refuses to grow one past proto-max-bulk-len (APPEND, SETRANGE), so that
// copy fails with an error naming the setting and leaves nothing behind.
TEST_F(TypedCopyTest, PayloadsAboveTheTargetsProtoMaxBulkLen) {
  TargetProtoMaxBulkLen limit;
  ASSERT_NO_FATAL_FAILURE(limit.set("1mb"));
  RandomBytes random_bytes(5);
  write_list_and_hash_over_1mb(*src_, random_bytes);
  exec(*src_, {"PEXPIRE", "hash", "900000"});
  exec(*src_, {"SET", "string", random_bytes(3 << 20)});
  for (const char* key : {"list", "hash", "string"}) {
    auto refused = dst_->exec({"RESTORE", key, "0", exec(*src_, {"DUMP", key}).str});
    EXPECT_TRUE(!refused.ok() || refused->is_error()) << key << ": the target took a payload above proto-max-bulk-len";
  }
  for (const char* key : {"list", "hash"}) {
    TypedCopyOptions o = with_source_expiry(key, TypedCopyOptions{});
    o.chunk_elements = 1;  // one element of up to 1 MiB per write
    auto r = copy(key, o);
    EXPECT_EQ(r.outcome, TypedOutcome::kCopied) << key;
    EXPECT_GT(r.bytes, 3u << 20) << key;
    expect_same(key);
  }
  auto r = copy_key_typed(*src_, *dst_, "string", TypedCopyOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("CONFIG SET proto-max-bulk-len"), std::string::npos) << r.error().message;
  EXPECT_EQ(exec(*dst_, {"EXISTS", "string"}).integer, 0);
}

}  // namespace
}  // namespace suoke::migrate
