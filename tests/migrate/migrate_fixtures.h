// Servers and helpers shared by the migrate test files (they link into one binary): one
// standalone source and one 6-node cluster per process, started on first use, and exec()
// that turns a transport failure or an error reply into a test-stopping exception.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

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

}  // namespace suoke::migrate::test_fixtures
