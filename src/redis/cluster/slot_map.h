// Redis Cluster topology: which master serves each hash slot, and the replicas of each shard.
// Built from a `CLUSTER SHARDS` reply (Redis 7) or a `CLUSTER SLOTS` reply (older servers).
// A SlotMap is immutable once built; the cluster client swaps whole snapshots
// (std::shared_ptr<const SlotMap>) so readers never lock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "redis/client.h"
#include "redis/url.h"

namespace suoke::redis::cluster {

// host:port of a node; shared with the URL parser.
using redis::Endpoint;

// Parses "host:port", "[v6]:port" and the redirect form ":port" (empty host: the caller
// substitutes the host it sent the command to, as the cluster spec says).
Result<Endpoint> parse_endpoint(std::string_view text);

struct NodeInfo {
  Endpoint endpoint;
  std::string id;      // node id, empty when the reply does not carry it
  bool online = true;  // CLUSTER SHARDS "health" (a failed or loading node is not online)
};

struct Shard {
  NodeInfo master;
  std::vector<NodeInfo> replicas;
  // Inclusive slot ranges as the reply listed them (informational; routing uses the slot table).
  std::vector<std::pair<uint16_t, uint16_t>> slots;
};

// A `-MOVED` or `-ASK` error reply: "MOVED 3999 127.0.0.1:6381".
struct Redirect {
  enum class Kind { kMoved, kAsk };
  Kind kind = Kind::kMoved;
  uint16_t slot = 0;
  Endpoint target;  // host empty when the server gave ":port" (unknown endpoint)
};
// Returns false when `error_text` is not a well-formed MOVED/ASK error.
bool parse_redirect(std::string_view error_text, Redirect* out);

class SlotMap {
 public:
  SlotMap();

  // `queried_host` is the host the command was sent to: a node whose endpoint is NULL or ""
  // is reachable there (spec: "the same endpoint it used to send the command"), while "?"
  // marks an unknown node, which is left out (its slots stay unserved until a later refresh).
  static Result<SlotMap> from_cluster_shards(const Value& reply, std::string_view queried_host);
  static Result<SlotMap> from_cluster_slots(const Value& reply, std::string_view queried_host);

  // The master serving `slot`; nullptr when none does.
  const Endpoint* master_for(uint16_t slot) const;
  const Shard* shard_for(uint16_t slot) const;

  // A copy in which `slot` is served by `owner` (a MOVED answer). An owner not yet known as
  // a master (a promoted replica, a new node) becomes a shard of its own until the next refresh.
  SlotMap with_slot_owner(uint16_t slot, const Endpoint& owner) const;

  const std::vector<Shard>& shards() const { return shards_; }
  // Masters serving at least one slot, each once (computed when the map is built).
  const std::vector<Endpoint>& masters() const { return masters_; }
  // Every known node (masters and replicas), each once.
  std::vector<Endpoint> all_nodes() const;
  // Number of slots with a master.
  int covered_slots() const;

 private:
  void add_shard(Shard shard);
  void index_masters();

  std::vector<Shard> shards_;
  std::vector<int16_t> owner_;  // slot -> index into shards_, -1 when unserved
  std::vector<Endpoint> masters_;
};

}  // namespace suoke::redis::cluster
