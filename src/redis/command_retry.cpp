#include "redis/command_retry.h"

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

namespace suoke::redis {

namespace {

// Sorted, upper case (binary search).
constexpr std::string_view kReadOnly[] = {
    "BITCOUNT", "BITFIELD_RO", "BITPOS", "DBSIZE", "DUMP", "ECHO", "EVALSHA_RO", "EVAL_RO", "EXISTS",
    "EXPIRETIME", "FCALL_RO", "GEODIST", "GEOHASH", "GEOPOS", "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO", "GEOSEARCH",
    "GET", "GETBIT", "GETRANGE", "HEXISTS", "HGET", "HGETALL", "HKEYS", "HLEN", "HMGET", "HRANDFIELD", "HSCAN",
    "HSTRLEN", "HVALS", "INFO", "KEYS", "LASTSAVE", "LCS", "LINDEX", "LLEN", "LOLWUT", "LPOS", "LRANGE", "MGET",
    "OBJECT", "PEXPIRETIME", "PFCOUNT", "PING", "PTTL", "RANDOMKEY", "SCAN", "SCARD", "SDIFF", "SINTER",
    "SINTERCARD", "SISMEMBER", "SMEMBERS", "SMISMEMBER", "SORT_RO", "SRANDMEMBER", "SSCAN", "STRLEN", "SUBSTR",
    "SUNION", "TIME", "TOUCH", "TTL", "TYPE", "XINFO", "XLEN", "XPENDING", "XRANGE", "XREAD", "XREVRANGE", "ZCARD",
    "ZCOUNT", "ZDIFF", "ZINTER", "ZINTERCARD", "ZLEXCOUNT", "ZMSCORE", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX",
    "ZRANGEBYSCORE", "ZRANK", "ZREVRANGE", "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE", "ZREVRANK", "ZSCAN", "ZSCORE",
    "ZUNION", "HELLO", "COMMAND", "MEMORY", "ROLE", "READONLY", "READWRITE",
};

}  // namespace

bool is_read_only_command(std::string_view name) {
  static const std::vector<std::string_view> sorted = [] {
    std::vector<std::string_view> a(std::begin(kReadOnly), std::end(kReadOnly));
    std::sort(a.begin(), a.end());
    return a;
  }();
  if (name.empty() || name.size() > 32) return false;
  std::string upper(name);
  for (char& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return std::binary_search(sorted.begin(), sorted.end(), std::string_view(upper));
}

bool may_retry(const Command& command, CommandOptions::Retry retry, bool written) {
  if (!written) return true;
  switch (retry) {
    case CommandOptions::Retry::kIdempotent:
      return true;
    case CommandOptions::Retry::kNever:
      return false;
    case CommandOptions::Retry::kAuto:
      return !command.empty() && is_read_only_command(command[0]);
  }
  return false;
}

}  // namespace suoke::redis
