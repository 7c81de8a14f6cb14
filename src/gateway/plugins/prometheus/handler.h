// Kong's prometheus plugin (kong/plugins/prometheus/{handler,exporter}.lua, 3.x): per
// service/route metrics recorded in the log phase, with Kong's names, labels and buckets so
// Kong's Grafana dashboards work unchanged. Node-wide metrics (connections, requests, node
// info) are refreshed by the status listener just before it renders /metrics.
//
// The log phase takes no lock: metric handles are cached per route in the handler (created
// on first use with a compare-and-swap) and per status code in a fixed array of atomics;
// consumer-labelled series (per_consumer) use a per-thread cache. The registry's own mutex
// is only taken the first time a series is seen.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gateway/plugins/plugin.h"
#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::prometheus {

// Kong 3.x exporter.lua buckets.
const std::vector<double>& kong_latency_buckets();
const std::vector<double>& upstream_latency_buckets();

struct Config {
  bool per_consumer = false;
  bool status_code_metrics = false;
  bool latency_metrics = false;
  bool bandwidth_metrics = false;
  // Accepted; there are no Upstream entities with health checks yet, so nothing to export.
  bool upstream_health_metrics = false;
  bool ai_metrics = false;  // accepted, no AI proxy here
};

Config parse_config(const boost::json::object& config);

class Handler final : public PluginHandler {
 public:
  Handler(const gateway::Plugin& entity, const Snapshot& snapshot, Config config,
          telemetry::Registry& registry);
  ~Handler() override;

  void log(const RequestContext& ctx) const override;

 private:
  struct RouteMetrics;
  RouteMetrics& route_metrics(std::size_t route_index, const RequestContext& ctx) const;
  telemetry::Counter& status_counter(RouteMetrics& m, int code, bool from_service) const;

  Config config_;
  telemetry::Registry* registry_;
  const Snapshot* snapshot_;
  // One slot per route of the snapshot, filled on the route's first request.
  std::unique_ptr<std::atomic<RouteMetrics*>[]> routes_;
  std::size_t route_count_;
};

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity, const Snapshot& snapshot,
                                                    PluginRuntime& runtime);

// Node-wide gauges that Kong refreshes on every scrape (exporter.lua metric_data).
struct NodeStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_handled = 0;
  uint64_t connections_active = 0;
  uint64_t connections_reading = 0;
  uint64_t connections_writing = 0;
  uint64_t connections_waiting = 0;
  uint64_t total_requests = 0;
  bool datastore_reachable = true;
};

// This process's node id (a v4 UUID chosen once), as Kong's kong.node.get_id().
const std::string& node_id();

// Sets kong_nginx_connections_total, kong_nginx_requests_total, kong_nginx_timers,
// kong_datastore_reachable, kong_node_info and kong_memory_workers_lua_vms_bytes (the
// process's resident memory: there are no Lua VMs here) in `registry`.
void update_node_metrics(telemetry::Registry& registry, const NodeStats& stats);

}  // namespace suoke::gateway::plugins::prometheus
