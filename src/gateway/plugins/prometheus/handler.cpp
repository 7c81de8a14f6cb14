#include "gateway/plugins/prometheus/handler.h"

#include <unistd.h>

#include <cstdio>
#include <unordered_map>

#include "core/log.h"
#include "core/uuid.h"
#include "gateway/plugins/log_phase.h"
#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins::prometheus {
namespace {

constexpr int kMinCode = 100;
constexpr int kMaxCode = 599;
constexpr std::size_t kCodeSlots = (kMaxCode - kMinCode + 1) * 2;  // x source {kong, service}
constexpr const char* kWorkspace = "default";  // Kong's default workspace; no workspaces here

bool flag(const boost::json::object& config, std::string_view name) {
  const boost::json::value* v = config.if_contains(name);
  return v != nullptr && v->is_bool() && v->as_bool();
}

std::atomic<uint64_t> next_generation{1};

// Series labelled with a consumer: consumers are many and change with the config, so they
// are not preallocated; each thread caches the handles it has used.
struct ConsumerKey {
  uint64_t generation;
  const Consumer* consumer;
  uint32_t route_index;
  uint32_t kind;  // code * 2 + source for statuses; 1 / 2 for bandwidth in / out (code 0)
  bool operator==(const ConsumerKey&) const = default;
};
struct ConsumerKeyHash {
  std::size_t operator()(const ConsumerKey& k) const {
    uint64_t h = k.generation * 0x9E3779B97F4A7C15ULL;
    h ^= reinterpret_cast<uintptr_t>(k.consumer) + 0x7F4A7C15 + (h << 6) + (h >> 2);
    h ^= (uint64_t{k.route_index} << 32 | k.kind) + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h);
  }
};
thread_local std::unordered_map<ConsumerKey, telemetry::Counter*, ConsumerKeyHash> consumer_cache;

}  // namespace

const std::vector<double>& kong_latency_buckets() {
  static const std::vector<double> b{1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000};
  return b;
}

const std::vector<double>& upstream_latency_buckets() {
  static const std::vector<double> b{25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000};
  return b;
}

Config parse_config(const boost::json::object& config) {
  Config c;
  c.per_consumer = flag(config, "per_consumer");
  c.status_code_metrics = flag(config, "status_code_metrics");
  c.latency_metrics = flag(config, "latency_metrics");
  c.bandwidth_metrics = flag(config, "bandwidth_metrics");
  c.upstream_health_metrics = flag(config, "upstream_health_metrics");
  c.ai_metrics = flag(config, "ai_metrics");
  return c;
}

struct Handler::RouteMetrics {
  std::string service;
  std::string route;
  telemetry::Histogram* request_latency = nullptr;
  telemetry::Histogram* upstream_latency = nullptr;
  telemetry::Histogram* kong_latency = nullptr;
  telemetry::Counter* ingress = nullptr;  // consumer ""
  telemetry::Counter* egress = nullptr;
  std::array<std::atomic<telemetry::Counter*>, kCodeSlots> status{};  // consumer ""
  uint64_t generation = 0;
};

Handler::Handler(const gateway::Plugin& entity, const Snapshot& snapshot, Config config,
                 telemetry::Registry& registry)
    : PluginHandler(entity),
      config_(config),
      registry_(&registry),
      snapshot_(&snapshot),
      routes_(std::make_unique<std::atomic<RouteMetrics*>[]>(snapshot.routes.size())),
      route_count_(snapshot.routes.size()) {
  for (std::size_t i = 0; i < route_count_; ++i) routes_[i].store(nullptr, std::memory_order_relaxed);
}

Handler::~Handler() {
  for (std::size_t i = 0; i < route_count_; ++i) delete routes_[i].load(std::memory_order_acquire);
}

Handler::RouteMetrics& Handler::route_metrics(std::size_t index, const RequestContext& ctx) const {
  RouteMetrics* m = routes_[index].load(std::memory_order_acquire);
  if (m != nullptr) return *m;
  // First request on this route: build the handles (the registry locks here, once).
  auto fresh = std::make_unique<RouteMetrics>();
  fresh->generation = next_generation.fetch_add(1, std::memory_order_relaxed);
  if (ctx.service != nullptr) fresh->service = ctx.service->name.empty() ? ctx.service->host : ctx.service->name;
  fresh->route = ctx.route->name.empty() ? ctx.route->id : ctx.route->name;
  // Only the families the config enables get series (Kong renders nothing for the others).
  if (config_.latency_metrics) {
    telemetry::Labels labels{{"service", fresh->service}, {"route", fresh->route}, {"workspace", kWorkspace}};
    fresh->request_latency = &registry_->histogram(
        "kong_request_latency_ms", "Total latency incurred during requests for each service/route in Kong",
        upstream_latency_buckets(), labels);
    fresh->upstream_latency = &registry_->histogram(
        "kong_upstream_latency_ms", "Latency added by upstream response for each service/route in Kong",
        upstream_latency_buckets(), labels);
    fresh->kong_latency = &registry_->histogram(
        "kong_kong_latency_ms", "Latency added by Kong and enabled plugins for each service/route in Kong",
        kong_latency_buckets(), labels);
  }
  if (config_.bandwidth_metrics) {
    auto bandwidth = [&](const char* direction) {
      return &registry_->counter("kong_bandwidth_bytes", "Total bandwidth (ingress/egress) throughput in bytes",
                                 {{"service", fresh->service},
                                  {"route", fresh->route},
                                  {"direction", direction},
                                  {"workspace", kWorkspace},
                                  {"consumer", ""}});
    };
    fresh->ingress = bandwidth("ingress");
    fresh->egress = bandwidth("egress");
  }
  RouteMetrics* expected = nullptr;
  if (routes_[index].compare_exchange_strong(expected, fresh.get(), std::memory_order_acq_rel)) {
    return *fresh.release();
  }
  return *expected;  // another thread won; its handles are the same registry series
}

telemetry::Counter& Handler::status_counter(RouteMetrics& m, int code, bool from_service) const {
  auto make = [&] {
    return &registry_->counter("kong_http_requests_total", "HTTP status codes per consumer/service/route in Kong",
                               {{"service", m.service},
                                {"route", m.route},
                                {"code", std::to_string(code)},
                                {"source", from_service ? "service" : "kong"},
                                {"workspace", kWorkspace},
                                {"consumer", ""}});
  };
  if (code < kMinCode || code > kMaxCode) return *make();  // never seen in practice
  auto& slot = m.status[static_cast<std::size_t>(code - kMinCode) * 2 + (from_service ? 1 : 0)];
  telemetry::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    c = make();
    slot.store(c, std::memory_order_release);  // racing stores write the same pointer
  }
  return *c;
}

void Handler::log(const RequestContext& ctx) const {
  // Kong records nothing for requests that matched no route.
  if (ctx.route == nullptr || ctx.snapshot == nullptr) return;
  auto index = static_cast<std::size_t>(ctx.route - ctx.snapshot->routes.data());
  if (ctx.snapshot != snapshot_ || index >= route_count_) return;
  RouteMetrics& m = route_metrics(index, ctx);
  // kong.response.get_source(): "service" when the upstream answered, else "kong" (exits
  // from plugins and errors generated by the gateway).
  bool from_service = !ctx.exit && ctx.upstream_latency_ms >= 0;
  const Consumer* consumer = config_.per_consumer ? ctx.consumer : nullptr;

  auto consumer_counter = [&](uint32_t kind, auto make) -> telemetry::Counter& {
    ConsumerKey key{m.generation, consumer, static_cast<uint32_t>(index), kind};
    auto it = consumer_cache.find(key);
    if (it != consumer_cache.end()) return *it->second;
    if (consumer_cache.size() > 65536) consumer_cache.clear();  // bound stale entries
    telemetry::Counter* c = make();
    consumer_cache.emplace(key, c);
    return *c;
  };

  if (config_.status_code_metrics) {
    if (consumer == nullptr) {
      status_counter(m, ctx.status, from_service).inc();
    } else {
      consumer_counter(static_cast<uint32_t>(ctx.status) * 2 + (from_service ? 1 : 0) + 16, [&] {
        return &registry_->counter("kong_http_requests_total", "HTTP status codes per consumer/service/route in Kong",
                                   {{"service", m.service},
                                    {"route", m.route},
                                    {"code", std::to_string(ctx.status)},
                                    {"source", from_service ? "service" : "kong"},
                                    {"workspace", kWorkspace},
                                    {"consumer", consumer->username}});
      }).inc();
    }
  }
  if (config_.latency_metrics) {
    if (ctx.request_latency_ms >= 0) m.request_latency->observe(static_cast<double>(ctx.request_latency_ms));
    if (ctx.upstream_latency_ms >= 0) m.upstream_latency->observe(static_cast<double>(ctx.upstream_latency_ms));
    if (ctx.proxy_latency_ms >= 0) m.kong_latency->observe(static_cast<double>(ctx.proxy_latency_ms));
  }
  if (config_.bandwidth_metrics) {
    uint64_t in = request_size(ctx);
    uint64_t out = response_size(ctx);
    if (consumer == nullptr) {
      if (in > 0) m.ingress->inc(in);
      if (out > 0) m.egress->inc(out);
    } else {
      auto make = [&](const char* direction) {
        return [&, direction] {
          return &registry_->counter("kong_bandwidth_bytes", "Total bandwidth (ingress/egress) throughput in bytes",
                                     {{"service", m.service},
                                      {"route", m.route},
                                      {"direction", direction},
                                      {"workspace", kWorkspace},
                                      {"consumer", consumer->username}});
        };
      };
      if (in > 0) consumer_counter(1, make("ingress")).inc(in);
      if (out > 0) consumer_counter(2, make("egress")).inc(out);
    }
  }
}

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity, const Snapshot& snapshot,
                                                    PluginRuntime& runtime) {
  Config config = parse_config(entity.config);
  if (config.upstream_health_metrics) {
    log::warn("prometheus: upstream_health_metrics has no effect (no upstream health checks)",
              {{"plugin", entity.id}});
  }
  return std::unique_ptr<PluginHandler>(
      std::make_unique<Handler>(entity, snapshot, config, telemetry::Registry::global()));
}

const std::string& node_id() {
  static const std::string id = uuid_v4();
  return id;
}

void update_node_metrics(telemetry::Registry& r, const NodeStats& s) {
  const std::string& id = node_id();
  auto conn = [&](const char* state, uint64_t v) {
    r.gauge("kong_nginx_connections_total", "Number of connections by subsystem",
            {{"node_id", id}, {"subsystem", "http"}, {"state", state}})
        .set(static_cast<int64_t>(v));
  };
  conn("accepted", s.connections_accepted);
  conn("handled", s.connections_handled);
  conn("total", s.total_requests);
  conn("active", s.connections_active);
  conn("reading", s.connections_reading);
  conn("writing", s.connections_writing);
  conn("waiting", s.connections_waiting);
  r.gauge("kong_nginx_requests_total", "Number of requests total", {{"node_id", id}, {"subsystem", "http"}})
      .set(static_cast<int64_t>(s.total_requests));
  // No nginx timers here; Kong's dashboards still query the family.
  r.gauge("kong_nginx_timers", "Number of nginx timers", {{"state", "running"}}).set(0);
  r.gauge("kong_nginx_timers", "Number of nginx timers", {{"state", "pending"}}).set(0);
  r.gauge("kong_datastore_reachable", "Datastore reachable from Kong, 0 is unreachable")
      .set(s.datastore_reachable ? 1 : 0);
  r.gauge("kong_node_info", "Kong Node metadata information", {{"node_id", id}, {"version", kKongVersion}}).set(1);
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  r.gauge("kong_memory_workers_lua_vms_bytes", "Allocated bytes in worker Lua VM",
          {{"node_id", id}, {"pid", std::to_string(::getpid())}, {"kong_subsystem", "http"}})
      .set(static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE));
}

}  // namespace suoke::gateway::plugins::prometheus
