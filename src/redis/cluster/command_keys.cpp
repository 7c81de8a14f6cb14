#include "redis/cluster/command_keys.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>
#include <unordered_map>

#include "redis/cluster/crc16.h"

namespace suoke::redis::cluster {
namespace {

// Key layout of one command: COMMAND INFO's (first, last, step) plus the forms it cannot
// express (numkeys arguments, the STREAMS keyword, MIGRATE's optional KEYS list).
struct KeySpec {
  enum class Kind : uint8_t {
    kNone,        // keyless
    kRange,       // first..last by step; last < 0 counts from the end (-1: the last argument)
    kNumKeys,     // optional fixed key at `first`, then a key count at `numkeys_at`, keys after it
    kStreams,     // XREAD/XREADGROUP: the first half of the arguments after STREAMS
    kMigrate,     // MIGRATE host port key|"" db timeout ... [KEYS key...]
    kSubcommand,  // OBJECT/MEMORY/XINFO/XGROUP <sub> key: a key at 2 unless the sub is HELP
  };
  Kind kind = Kind::kRange;
  int first = 1;
  int last = 1;
  int step = 1;
  int numkeys_at = 0;
};

KeySpec none() { return {KeySpec::Kind::kNone, 0, 0, 0, 0}; }
KeySpec range(int first, int last, int step = 1) {
  return {KeySpec::Kind::kRange, first, last, step, 0};
}
KeySpec numkeys(int numkeys_at, bool dest_first) {
  return {KeySpec::Kind::kNumKeys, dest_first ? 1 : 0, 0, 1, numkeys_at};
}

// Heterogeneous lookup: find_spec looks names up through a string_view over a stack buffer.
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using SpecTable = std::unordered_map<std::string, KeySpec, NameHash, std::equal_to<>>;

const SpecTable& table() {
  static const auto* t = [] {
    auto* m = new SpecTable();
    auto add = [&](std::initializer_list<const char*> names, KeySpec spec) {
      for (const char* n : names) (*m)[n] = spec;
    };
    add({"PING",         "ECHO",      "INFO",    "TIME",     "DBSIZE",    "CLUSTER",  "CONFIG",
         "CLIENT",       "COMMAND",   "SCRIPT",  "FUNCTION", "FLUSHALL",  "FLUSHDB",  "RANDOMKEY",
         "SCAN",         "KEYS",      "WAIT",    "READONLY", "READWRITE", "LASTSAVE", "ROLE",
         "PUBLISH",      "SPUBLISH",  "HELLO",   "AUTH",     "SELECT",    "SWAPDB",   "SLOWLOG",
         "LATENCY",      "MULTI",     "EXEC",    "DISCARD",  "UNWATCH",   "SAVE",     "BGSAVE",
         "BGREWRITEAOF", "ASKING",    "QUIT",    "RESET",    "ACL",       "MODULE",   "MONITOR",
         "SHUTDOWN",     "REPLICAOF", "SLAVEOF", "FAILOVER", "DEBUG",     "LOLWUT",   "PUBSUB"},
        none());
    add({"GET",
         "SET",
         "SETNX",
         "SETEX",
         "PSETEX",
         "GETSET",
         "GETDEL",
         "GETEX",
         "APPEND",
         "STRLEN",
         "INCR",
         "INCRBY",
         "INCRBYFLOAT",
         "DECR",
         "DECRBY",
         "SETRANGE",
         "GETRANGE",
         "SUBSTR",
         "SETBIT",
         "GETBIT",
         "BITCOUNT",
         "BITPOS",
         "BITFIELD",
         "BITFIELD_RO",
         "EXPIRE",
         "PEXPIRE",
         "EXPIREAT",
         "PEXPIREAT",
         "EXPIRETIME",
         "PEXPIRETIME",
         "TTL",
         "PTTL",
         "PERSIST",
         "TYPE",
         "DUMP",
         "RESTORE",
         "RESTORE-ASKING",
         "SORT",
         "SORT_RO",
         "HGET",
         "HSET",
         "HSETNX",
         "HMSET",
         "HMGET",
         "HGETALL",
         "HDEL",
         "HEXISTS",
         "HINCRBY",
         "HINCRBYFLOAT",
         "HKEYS",
         "HVALS",
         "HLEN",
         "HSTRLEN",
         "HRANDFIELD",
         "HSCAN",
         "SSCAN",
         "ZSCAN",
         "LRANGE",
         "LLEN",
         "LINDEX",
         "LSET",
         "LREM",
         "LTRIM",
         "LPOP",
         "RPOP",
         "RPUSH",
         "LPUSH",
         "RPUSHX",
         "LPUSHX",
         "LINSERT",
         "LPOS",
         "SADD",
         "SREM",
         "SMEMBERS",
         "SISMEMBER",
         "SMISMEMBER",
         "SCARD",
         "SPOP",
         "SRANDMEMBER",
         "ZADD",
         "ZREM",
         "ZRANGE",
         "ZRANGEBYSCORE",
         "ZREVRANGE",
         "ZREVRANGEBYSCORE",
         "ZRANGEBYLEX",
         "ZREVRANGEBYLEX",
         "ZCARD",
         "ZSCORE",
         "ZMSCORE",
         "ZINCRBY",
         "ZRANK",
         "ZREVRANK",
         "ZCOUNT",
         "ZLEXCOUNT",
         "ZREMRANGEBYRANK",
         "ZREMRANGEBYSCORE",
         "ZREMRANGEBYLEX",
         "ZPOPMIN",
         "ZPOPMAX",
         "ZRANDMEMBER",
         "XADD",
         "XRANGE",
         "XREVRANGE",
         "XLEN",
         "XDEL",
         "XTRIM",
         "XACK",
         "XCLAIM",
         "XAUTOCLAIM",
         "XPENDING",
         "XSETID",
         "PFADD",
         "GEOADD",
         "GEODIST",
         "GEOPOS",
         "GEOHASH",
         "GEOSEARCH",
         "GEORADIUS_RO",
         "GEORADIUSBYMEMBER_RO",
         "GEORADIUS",
         "GEORADIUSBYMEMBER"},
        range(1, 1));
    add({"DEL", "UNLINK", "EXISTS", "MGET", "TOUCH", "WATCH", "SINTER", "SUNION", "SDIFF",
         "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE", "PFCOUNT", "PFMERGE"},
        range(1, -1));
    add({"MSET", "MSETNX"}, range(1, -1, 2));
    add({"RENAME", "RENAMENX", "SMOVE", "RPOPLPUSH", "LMOVE", "BLMOVE", "BRPOPLPUSH", "COPY",
         "ZRANGESTORE", "GEOSEARCHSTORE", "LCS"},
        range(1, 2));
    add({"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX"}, range(1, -2));
    add({"BITOP"}, range(2, -1));
    add({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"}, numkeys(2, false));
    add({"ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"}, numkeys(2, true));
    add({"ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD", "SINTERCARD", "LMPOP", "ZMPOP"},
        numkeys(1, false));
    add({"BLMPOP", "BZMPOP"}, numkeys(2, false));
    add({"XREAD", "XREADGROUP"}, KeySpec{KeySpec::Kind::kStreams, 0, 0, 0, 0});
    add({"MIGRATE"}, KeySpec{KeySpec::Kind::kMigrate, 0, 0, 0, 0});
    add({"OBJECT", "MEMORY", "XINFO", "XGROUP"}, KeySpec{KeySpec::Kind::kSubcommand, 2, 2, 1, 0});
    return m;
  }();
  return *t;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

const KeySpec* find_spec(std::string_view name) {
  // Command names are short: upper-case into a stack buffer, no allocation.
  if (name.size() > 32) return nullptr;
  char upper[32];
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    upper[i] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  }
  const auto& t = table();
  auto it = t.find(std::string_view(upper, name.size()));
  return it == t.end() ? nullptr : &it->second;
}

Error usage(std::string_view name, std::string_view why) {
  return Error::make(std::string(name) + ": " + std::string(why), "usage");
}

bool parse_count(const std::string& text, int64_t* out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && p == text.data() + text.size() && *out >= 0;
}

// Calls visit(index) for each key argument.
template <class F>
Result<void> visit_keys(const Command& cmd, F&& visit) {
  if (cmd.empty()) return usage("(empty)", "empty command");
  const std::string& name = cmd[0];
  const int64_t argc = static_cast<int64_t>(cmd.size());
  const KeySpec* spec = find_spec(name);
  if (spec == nullptr) {
    if (argc > 1) visit(1);
    return Ok();
  }
  switch (spec->kind) {
    case KeySpec::Kind::kNone:
      return Ok();
    case KeySpec::Kind::kRange: {
      int64_t last = spec->last < 0 ? argc + spec->last : spec->last;
      for (int64_t i = spec->first; i <= last && i < argc; i += spec->step)
        visit(static_cast<size_t>(i));
      return Ok();
    }
    case KeySpec::Kind::kNumKeys: {
      if (spec->first > 0) {
        if (argc <= spec->first) return usage(name, "missing destination key");
        visit(static_cast<size_t>(spec->first));
      }
      int64_t n = 0;
      if (argc <= spec->numkeys_at || !parse_count(cmd[spec->numkeys_at], &n)) {
        return usage(name, "numkeys is not a non-negative integer");
      }
      if (n > argc - spec->numkeys_at - 1)
        return usage(name, "numkeys is larger than the number of arguments");
      for (int64_t i = 0; i < n; ++i) visit(static_cast<size_t>(spec->numkeys_at + 1 + i));
      return Ok();
    }
    case KeySpec::Kind::kStreams: {
      int64_t at = -1;
      for (int64_t i = 1; i < argc; ++i) {
        if (iequals(cmd[i], "STREAMS")) {
          at = i;
          break;
        }
      }
      int64_t rest = at < 0 ? 0 : argc - at - 1;
      if (at < 0 || rest == 0 || rest % 2 != 0)
        return usage(name, "STREAMS needs keys and as many IDs");
      for (int64_t i = 0; i < rest / 2; ++i) visit(static_cast<size_t>(at + 1 + i));
      return Ok();
    }
    case KeySpec::Kind::kMigrate: {
      if (argc > 3 && !cmd[3].empty()) {
        visit(3);
        return Ok();
      }
      for (int64_t i = 6; i < argc; ++i) {
        if (iequals(cmd[i], "KEYS")) {
          for (int64_t k = i + 1; k < argc; ++k) visit(static_cast<size_t>(k));
          break;
        }
      }
      return Ok();
    }
    case KeySpec::Kind::kSubcommand: {
      if (argc > 2 && !iequals(cmd[1], "HELP") && !iequals(cmd[1], "STATS") &&
          !iequals(cmd[1], "DOCTOR") && !iequals(cmd[1], "MALLOC-STATS") &&
          !iequals(cmd[1], "PURGE")) {
        visit(2);
      }
      return Ok();
    }
  }
  return Ok();
}

}  // namespace

Result<std::optional<uint16_t>> command_slot(const Command& command) {
  std::optional<uint16_t> slot;
  bool cross = false;
  auto r = visit_keys(command, [&](size_t i) {
    uint16_t s = key_slot(command[i]);
    if (!slot) {
      slot = s;
    } else if (*slot != s) {
      cross = true;
    }
  });
  if (!r) return r.error();
  if (cross)
    return Error::make("CROSSSLOT: keys in request don't hash to the same slot", "crossslot");
  return slot;
}

Result<std::vector<size_t>> command_key_indices(const Command& command) {
  std::vector<size_t> out;
  auto r = visit_keys(command, [&](size_t i) { out.push_back(i); });
  if (!r) return r.error();
  return out;
}

}  // namespace suoke::redis::cluster
