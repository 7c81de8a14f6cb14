// Redis URLs:
//   redis://[[user]:pass@]host[:port][/db]       standalone (port 6379, db 0 by default)
//   rediss://...                                  the same over TLS (not supported yet)
//   redis-cluster://[[user]:pass@]host:port[,host:port...]   cluster seed nodes
// User and password are percent-decoded. "redis://secret@host" (userinfo without ':') is a
// password, as AUTH with one argument is, since a user without a password cannot log in.
// IPv6 literals go in brackets: redis://[::1]:6379.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace suoke::redis {

struct Endpoint {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const;  // "host:port", "[v6]:port"
  bool operator==(const Endpoint& other) const = default;
};

struct RedisUrl {
  enum class Scheme { kRedis, kRediss, kCluster };
  Scheme scheme = Scheme::kRedis;
  std::string username;  // empty: the default user
  std::string password;  // empty: no AUTH
  std::vector<Endpoint> endpoints;  // exactly one unless kCluster
  int db = 0;
};

// Errors name the problem and the offending part, never echo the password.
Result<RedisUrl> parse_redis_url(std::string_view url);

}  // namespace suoke::redis
