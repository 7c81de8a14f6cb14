// Servers and helpers shared by the migrate test files (they link into one binary): one
// standalone source and one 6-node cluster per process, started on first use, and exec()
// that turns a transport failure or an error reply into a test-stopping exception.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>

#include "migrate/migrate.h"
#include "redis/client.h"
#include "support/redis_servers.h"

namespace suoke::migrate::test_fixtures {

// Never destroyed before the tests that use them: the servers stop when the process exits.
inline suoke::testing::RedisServer& source() {
  static auto* s = new suoke::testing::RedisServer();
  static std::unique_ptr<suoke::testing::RedisServer> owner(s);
  return *s;
}

inline suoke::testing::RedisCluster& cluster() {
  static auto* c = new suoke::testing::RedisCluster();
  static std::unique_ptr<suoke::testing::RedisCluster> owner(c);
  return *c;
}

inline std::unique_ptr<redis::Client> connect(const std::string& url) {
  auto c = redis::Client::connect(url);
  if (!c.ok()) throw std::runtime_error("connect " + url + ": " + c.error().message);
  return std::move(*c);
}

inline redis::Value exec(redis::Client& c, redis::Command cmd) {
  auto r = c.exec(cmd);
  if (!r.ok()) throw std::runtime_error(cmd[0] + ": " + r.error().message);
  if (r->is_error()) throw std::runtime_error(cmd[0] + ": " + r->str);
  return std::move(*r);
}

// The shared source and cluster, flushed before every test, and a client to each.
class SourceAndClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source().cli("FLUSHALL");
    for (int port : cluster().master_ports()) cluster().cli(port, "FLUSHALL");
    src_ = connect(source().url());
    dst_ = connect(cluster().seed_url());
  }
  // Options of a migration from the source to the cluster, for the test to add to.
  MigrateOptions options() {
    MigrateOptions o;
    o.from = source().url();
    o.to = cluster().seed_url();
    return o;
  }

  std::unique_ptr<redis::Client> src_, dst_;
};

// Incompressible bytes, the same for the same seed: LZF would shrink a repetitive value's DUMP
// payload below the size limit a test is about.
class RandomBytes {
 public:
  explicit RandomBytes(uint64_t seed) : rng_(seed) {}
  std::string operator()(std::size_t n) {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng_());
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

// Sets proto-max-bulk-len on every master of the shared cluster, and puts Redis' default
// (512mb) back when destroyed, whatever the test's outcome: the next tests use the cluster too.
class TargetProtoMaxBulkLen {
 public:
  ~TargetProtoMaxBulkLen() {
    for (int port : cluster().master_ports())
      cluster().cli(port, "CONFIG", "SET", "proto-max-bulk-len", "512mb");
  }
  // Fatal when a master refuses: call under ASSERT_NO_FATAL_FAILURE.
  void set(const std::string& value) {
    for (int port : cluster().master_ports()) {
      ASSERT_EQ(cluster().cli(port, "CONFIG", "SET", "proto-max-bulk-len", value), "OK\n");
    }
  }
};

// "list" of four 900 KiB elements and "hash" of three 1 MiB fields: over 3 MiB each, so their
// DUMP payloads exceed a 1mb proto-max-bulk-len while no element does.
inline void write_list_and_hash_over_1mb(redis::Client& c, RandomBytes& random_bytes) {
  exec(c, {"RPUSH", "list", random_bytes(900 << 10), random_bytes(900 << 10),
           random_bytes(900 << 10), random_bytes(900 << 10)});
  exec(c, {"HSET", "hash", "a", random_bytes(1 << 20), "b", random_bytes(1 << 20), "c",
           random_bytes(1 << 20)});
}

}  // namespace suoke::migrate::test_fixtures
