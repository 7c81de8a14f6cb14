// Redis Cluster client (userver's split: topology = SlotMap snapshots, shard = per-node
// connections, connection = redis/connection.h).
//
// - Routing: a command goes to the master serving its keys' slot (first key; all keys must
//   share the slot, else "CROSSSLOT: ..." before anything is sent); keyless commands go to
//   any master.
// - MOVED: that slot's owner is updated at once, a full refresh is scheduled (throttled: at
//   most one in flight, at most one per 100 ms) and the command is resent. ASK: ASKING + the
//   command go to the target back to back, the map is untouched.
// - TRYAGAIN / CLUSTERDOWN / MASTERDOWN / READONLY (the server did not run the command) and
//   unreachable nodes: retry with backoff until ClientOptions::cluster_retry_deadline, with a
//   refresh from the other nodes. A command that may already have executed (timed out or lost
//   after it was written) is resent only when it is idempotent (command_is_idempotent, or
//   CommandOptions::Retry::kIdempotent).
// - One IO thread owns all state; exec_async posts to it. The slot map is an immutable
//   snapshot swapped as a whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "redis/client.h"
#include "redis/url.h"

namespace suoke::redis {

// Connects to the seeds of a redis-cluster:// URL, loads the slot map and returns the client.
// Errors: every seed unreachable (each listed with its reason), authentication rejected, a
// seed that is not in cluster mode, a cluster without slots.
Result<std::unique_ptr<Client>> connect_cluster(const RedisUrl& url, const ClientOptions& options);

namespace cluster {

class SlotMap;

// Counters of one client, for tests and `suoke cluster status`-style diagnostics.
struct ClusterStats {
  uint64_t refreshes = 0;         // slot map loads started (incl. the initial one)
  uint64_t moved = 0;             // MOVED replies followed
  uint64_t ask = 0;               // ASK replies followed
  uint64_t retries = 0;           // commands resent after TRYAGAIN/CLUSTERDOWN/a node failure
  uint64_t transport_errors = 0;  // timeouts / lost connections / unreachable nodes seen
};

class ClusterClient final : public Client {
 public:
  ~ClusterClient() override;

  void exec_async(Command command, Callback done, CommandOptions options = {}) override;
  bool is_cluster() const override { return true; }
  Result<void> scan_from(const ScanFilter& filter, ScanPosition position, const ScanBatchFn& on_batch) override;

  ClusterStats stats() const;
  // The current slot map snapshot.
  std::shared_ptr<const SlotMap> slot_map() const;
  // Asks for a refresh (subject to the same throttle as MOVED-triggered ones).
  void request_refresh();

  class Impl;

 private:
  friend Result<std::unique_ptr<Client>> redis::connect_cluster(const RedisUrl&,
                                                                const ClientOptions&);
  explicit ClusterClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace cluster
}  // namespace suoke::redis
