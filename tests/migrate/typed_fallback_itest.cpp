// The typed fallback of suoke migrate, end to end against real servers (standalone source,
// 6-node cluster target): payloads the target refuses for their RDB version (made so with the
// engine's rewrite_dump hook: version bumped, CRC64 recomputed) and payloads above the
// target's proto-max-bulk-len reach the target by type, and verify finds nothing to report.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "migrate/migrate.h"
#include "migrate/typed_copy.h"
#include "migrate/verify.h"
#include "redis/client.h"
#include "support/dump_payload.h"
#include "support/redis_servers.h"
#include "migrate_fixtures.h"

namespace suoke::migrate {
namespace {

using redis::Value;
using namespace test_fixtures;

std::string flat(const Value& v) {
  if (v.type == Value::Type::kInteger) return std::to_string(v.integer);
  if (!v.is_array()) return escape_key(v.str);
  std::string out = "[";
  for (const auto& e : v.elements) out += flat(e) + ",";
  return out + "]";
}

class TypedFallbackTest : public SourceAndClusterTest {
 protected:
  void TearDown() override {
    for (int port : cluster().master_ports()) {
      EXPECT_EQ(cluster().cli(port, "--scan", "--pattern", std::string(kTypedTempPrefix) + "*"), "");
    }
  }
  MigrateReport migrate(const MigrateOptions& o) {
    auto r = run_migrate(o);
    if (!r.ok()) throw std::runtime_error("run_migrate: " + r.error().message);
    return std::move(*r);
  }
  VerifyReport verify_all() {
    VerifyOptions vo;
    vo.both_ways = true;
    vo.rounds = 1;
    auto r = verify(*src_, *dst_, vo);
    if (!r.ok()) throw std::runtime_error("verify: " + r.error().message);
    return std::move(*r);
  }
};

TEST_F(TypedFallbackTest, NewerRdbVersionEveryTypeArrivesByType) {
  const std::string bin("a\0b\r\nc\xff", 7);
  exec(*src_, {"SET", "str", "hello"});
  exec(*src_, {"SET", "empty", ""});
  exec(*src_, {"SET", std::string("bin\0key\n", 8), bin, "PX", "600000"});
  exec(*src_, {"HSET", "hash", "f1", "v1", bin, bin});
  exec(*src_, {"PEXPIRE", "hash", "500000"});
  exec(*src_, {"RPUSH", "list", "a", "b", bin, "a"});
  exec(*src_, {"SADD", "set", "x", "y", bin});
  exec(*src_, {"SADD", "intset", "1", "2", "3"});
  exec(*src_, {"ZADD", "zset", "1", "one", "2.5", "two", "inf", "top", "-inf", "bottom"});
  exec(*src_, {"XADD", "stream", "1-1", "k", "v1"});
  exec(*src_, {"XADD", "stream", "2-5", "k", "v2"});
  exec(*src_, {"XADD", "stream", "3-0", "k", "v3"});
  exec(*src_, {"XGROUP", "CREATE", "stream", "g1", "0"});
  exec(*src_, {"XREADGROUP", "GROUP", "g1", "alice", "COUNT", "2", "STREAMS", "stream", ">"});
  exec(*src_, {"XGROUP", "CREATECONSUMER", "stream", "g1", "bob"});
  exec(*src_, {"XGROUP", "CREATE", "stream", "g2", "$"});
  exec(*src_, {"PEXPIRE", "stream", "900000"});
  exec(*src_, {"SET", "{tag}a", "1"});
  exec(*src_, {"SET", "{tag}b", "2"});
  const uint64_t keys = 11;

  std::atomic<int> rewritten{0};  // the hook runs on the writer threads
  auto o = options();
  o.rewrite_dump = [&](const std::string&, std::string& payload) {
    suoke::testing::set_dump_rdb_version(payload, static_cast<uint16_t>(suoke::testing::dump_rdb_version(payload) + 1));
    ++rewritten;
  };
  auto r = migrate(o);
  for (const auto& e : r.errors) ADD_FAILURE() << e;
  EXPECT_EQ(rewritten.load(), static_cast<int>(keys));
  EXPECT_EQ(r.migrated, keys);
  EXPECT_EQ(r.typed, keys);
  EXPECT_EQ(r.failed, 0u);

  auto v = verify_all();
  EXPECT_TRUE(v.clean()) << v.mismatches() << " mismatches";
  EXPECT_EQ(v.checked, keys);
  for (const char* k : {"hash", "stream"}) {
    EXPECT_EQ(exec(*src_, {"PEXPIRETIME", k}).integer, exec(*dst_, {"PEXPIRETIME", k}).integer) << k;
  }
  EXPECT_EQ(exec(*dst_, {"GET", std::string("bin\0key\n", 8)}).str, bin);
  EXPECT_EQ(exec(*dst_, {"ZSCORE", "zset", "bottom"}).str, "-inf");
  EXPECT_EQ(flat(exec(*src_, {"XINFO", "GROUPS", "stream"})), flat(exec(*dst_, {"XINFO", "GROUPS", "stream"})));
  auto sp = exec(*src_, {"XPENDING", "stream", "g1", "-", "+", "10"});
  auto tp = exec(*dst_, {"XPENDING", "stream", "g1", "-", "+", "10"});
  ASSERT_EQ(sp.elements.size(), 2u);
  ASSERT_EQ(tp.elements.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(sp.elements[i].elements[0].str, tp.elements[i].elements[0].str);  // id
    EXPECT_EQ(sp.elements[i].elements[1].str, tp.elements[i].elements[1].str);  // consumer
    EXPECT_EQ(sp.elements[i].elements[3].integer, tp.elements[i].elements[3].integer);  // deliveries
  }
  EXPECT_EQ(flat(exec(*src_, {"XPENDING", "stream", "g1"})), flat(exec(*dst_, {"XPENDING", "stream", "g1"})));
  EXPECT_EQ(exec(*dst_, {"XINFO", "CONSUMERS", "stream", "g1"}).elements.size(), 2u);
}

TEST_F(TypedFallbackTest, PayloadsAboveTheTargetsProtoMaxBulkLen) {
  TargetProtoMaxBulkLen limit;
  ASSERT_NO_FATAL_FAILURE(limit.set("1mb"));
  RandomBytes random_bytes(9);
  write_list_and_hash_over_1mb(*src_, random_bytes);
  exec(*src_, {"SET", "small", "fits"});
  exec(*src_, {"SET", "string", random_bytes(3 << 20)});
  auto o = options();
  o.big_key_bytes = 0;  // only the payload size sends these keys to the typed path
  auto r = migrate(o);
  EXPECT_EQ(r.migrated, 3u);
  EXPECT_EQ(r.typed, 2u);
  // A string cannot grow past proto-max-bulk-len in Redis: that key fails, with the reason.
  ASSERT_EQ(r.failed, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("proto-max-bulk-len"), std::string::npos) << r.errors[0];
  EXPECT_EQ(exec(*dst_, {"EXISTS", "string"}).integer, 0);
  exec(*src_, {"DEL", "string"});
  auto v = verify_all();
  EXPECT_TRUE(v.clean()) << v.mismatches() << " mismatches";
  EXPECT_EQ(v.checked, 3u);
}

}  // namespace
}  // namespace suoke::migrate
