// Redis and Redis Cluster client. One interface for both: a URL picks the topology
// (redis://[user:pass@]host:port[/db], rediss://..., redis-cluster://host:port,host:port).
//
// Replies and failures are kept apart: a reply the server sent, including an error reply such
// as WRONGTYPE, is a successful Result holding a Value of type kError; a Result error means
// the command's fate is unknown or it never reached a server (timeout, connection lost,
// unreachable, redirected too often, CLUSTERDOWN past the deadline).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace suoke::redis {

struct Value {
  enum class Type {
    kNull,  // RESP2 nil bulk/array, RESP3 null
    kSimpleString,
    kError,
    kInteger,
    kBulkString,
    kArray,
    // RESP3 (only after HELLO 3)
    kDouble,
    kBoolean,
    kMap,  // elements alternate key, value
    kSet,
    kPush,
    kVerbatim,
    kBigNumber,
  };
  Type type = Type::kNull;
  std::string str;  // simple/bulk/verbatim string, error text, big number, double text
  int64_t integer = 0;  // kInteger; kBoolean as 0/1
  std::vector<Value> elements;

  bool is_null() const { return type == Type::kNull; }
  bool is_error() const { return type == Type::kError; }
  bool is_string() const {
    return type == Type::kSimpleString || type == Type::kBulkString || type == Type::kVerbatim;
  }
  bool is_array() const { return type == Type::kArray || type == Type::kSet || type == Type::kPush; }
};

// A command and its arguments; binary-safe.
using Command = std::vector<std::string>;

struct CommandOptions {
  std::chrono::milliseconds timeout{2000};
  // Whether the command may be sent again after a timeout or a lost connection, when it may
  // already have executed. Unset: decided from the command name (reads are idempotent; INCR,
  // LPUSH, EVAL, ... are not).
  enum class Retry { kAuto, kIdempotent, kNever };
  Retry retry = Retry::kAuto;
};

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{2000};
  // For cluster: how long TRYAGAIN/CLUSTERDOWN/failover are retried before giving up.
  std::chrono::milliseconds cluster_retry_deadline{7000};
  // Periodic slot map refresh (cluster only).
  std::chrono::milliseconds topology_refresh_interval{30'000};
  // Connections per node (commands are pipelined on each).
  int connections_per_node = 1;
};

using Callback = std::function<void(Result<Value>)>;

// What a SCAN returns: keys matching `match` (empty: all), of `type` (SCAN TYPE; empty: any),
// `count` per call as a hint.
struct ScanFilter {
  std::string match;
  std::size_t count = 500;
  std::string type;
};

// Where a resumable SCAN stands, per node ("host:port" of a master, or of the one server):
// the cursor to continue from. A node absent from both is scanned from the beginning (a new
// master after a failover: keys may repeat, none is missed); a finished one is skipped.
struct ScanPosition {
  std::map<std::string, std::string> cursors;
  std::set<std::string> finished;
};

// Keys of one SCAN reply, and the position right after them.
using ScanBatchFn = std::function<bool(const std::vector<std::string>& keys, const ScanPosition& after)>;

class Client {
 public:
  // Connects (and for a cluster, loads the slot map) before returning; fails with a clear
  // message for a wrong password, an unreachable host, a standalone server given as a
  // cluster or the reverse.
  static Result<std::unique_ptr<Client>> connect(std::string_view url, ClientOptions options = {});
  virtual ~Client() = default;

  // Never blocks; `done` runs on one of the client's IO threads.
  virtual void exec_async(Command command, Callback done, CommandOptions options = {}) = 0;

  // Blocking convenience for callers that are not on an event loop (CLI, migrate, tests).
  // Must not be called from the client's own IO thread.
  Result<Value> exec(Command command, CommandOptions options = {});
  // Sends all commands pipelined (per node) and returns the replies in order.
  std::vector<Result<Value>> exec_pipeline(std::vector<Command> commands, CommandOptions options = {});

  virtual bool is_cluster() const = 0;

  // SCAN over the whole keyspace: every master of a cluster, or the one server. `on_batch`
  // returns false to stop early. Keys that exist for the whole scan are reported at least
  // once (SCAN's guarantee).
  Result<void> scan(std::string_view match, std::size_t count,
                    const std::function<bool(const std::vector<std::string>& keys)>& on_batch);

  // The same SCAN, resumable: starts from `position` (empty: the beginning) and passes each
  // non-empty batch with the position after it, which a later call may start from.
  virtual Result<void> scan_from(const ScanFilter& filter, ScanPosition position, const ScanBatchFn& on_batch) = 0;
};

}  // namespace suoke::redis
