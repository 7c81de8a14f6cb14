// A Redis Cluster of 6 local redis-server processes (3 masters + 3 replicas) on loopback,
// kept in one directory: what `suoke cluster up | down | status` manages.
//
// Layout of the directory: one subdirectory per node, named by its port, holding redis.conf,
// redis.pid, redis.log, nodes.conf and the AOF. The nodes are daemonized, so they outlive the
// command; `status` and `down` find them again from the directory alone.
//
// Talks to the nodes with a small RESP exchange of its own (and `redis-cli --cluster create`
// to form the cluster), not with the Redis client of src/redis/, so that it can serve as
// test infrastructure for that client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace suoke::redis {

inline constexpr int kLocalClusterNodes = 6;

struct LocalClusterOptions {
  std::string dir = "./suoke-data/cluster";
  // Nodes listen on base_port .. base_port+5 and use port+10000 for the cluster bus.
  int base_port = 7001;
  int node_timeout_ms = 5000;
  // How long `up` waits for cluster_state:ok on every node.
  std::chrono::milliseconds ready_timeout{60000};
  // How long `down` waits after SIGTERM before SIGKILL.
  std::chrono::milliseconds stop_timeout{15000};
  // Progress lines for people ("starting node 7001", ...); may be empty.
  std::function<void(const std::string&)> progress;
};

struct LocalClusterUp {
  bool already_running = false;  // every node was running from this dir: nothing was started
  bool resumed = false;          // stopped nodes with their data were started again (no create)
  std::vector<int> ports;
  std::string seed_url;
};

struct LocalSlotRange {
  int first = 0;
  int last = 0;
};

struct LocalNodeStatus {
  int port = 0;
  pid_t pid = 0;           // from the pidfile; 0 when there is none
  bool alive = false;      // that pid is a running redis-server
  bool reachable = false;  // it answered over TCP
  std::string node_id;
  std::string role;  // "master", "replica", or "" when unreachable
  std::vector<LocalSlotRange> slots;  // masters: the slots it serves
  int master_port = 0;           // replicas: the master it follows
  std::string master_link;       // replicas: "up" or "down"
  std::string cluster_state;     // "ok", "fail", or "" when unreachable
  std::string error;             // why it is not reachable, when it is not
};

struct LocalClusterStatus {
  std::string dir;
  std::vector<LocalNodeStatus> nodes;  // sorted by port
  // All six nodes alive, reachable, and each reports cluster_state:ok.
  bool ok = false;
  std::string seed_url;
};

struct LocalClusterDown {
  std::vector<int> stopped;  // ports whose process exited after SIGTERM
  std::vector<int> killed;   // ports that needed SIGKILL
  std::vector<int> not_running;
  bool purged = false;
};

// redis-cluster://127.0.0.1:P1,...,127.0.0.1:P6
std::string local_cluster_seed_url(const std::vector<int>& ports);

// Starts the cluster (or finds it running, or resumes a stopped one from its data) and waits
// for cluster_state:ok. Nothing is started when a port is taken or the dir holds something
// else; the error says which port or what to do.
Result<LocalClusterUp> local_cluster_up(const LocalClusterOptions& options);

// The nodes found in options.dir (base_port is not used: the dir says which ports).
// An error only when the dir holds no cluster.
Result<LocalClusterStatus> local_cluster_status(const LocalClusterOptions& options);

// Stops every node found in options.dir by PID: SIGTERM, then SIGKILL after stop_timeout;
// removes the pidfiles. With `purge`, removes the node directories too (and the dir if that
// leaves it empty; nothing else in it is touched).
Result<LocalClusterDown> local_cluster_down(const LocalClusterOptions& options, bool purge);

}  // namespace suoke::redis
