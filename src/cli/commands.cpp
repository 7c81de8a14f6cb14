#include "cli/commands.h"

namespace suoke::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"up", "run the whole platform on this machine: gateway with the seed's services and routes", run_up},
      {"gateway", "run the API gateway (proxy, Kong-compatible Admin API, status)", run_gateway},
      {"cluster", "a local Redis Cluster, 3 masters + 3 replicas: up | status | down", run_cluster},
      {"migrate", "copy a Redis (standalone or cluster) into a Redis Cluster with DUMP/RESTORE, TTLs kept", run_migrate},
      {"verify", "compare a source Redis with a target key by key (types, values, TTLs); exit 0 when clean", run_verify},
  };
  return all;
}

}  // namespace suoke::cli
