#include <gtest/gtest.h>

#include <string>

#include "gateway/plugins/prometheus/handler.h"
#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::prometheus {
namespace {

class EmptyHeaders : public HeaderView {
 public:
  std::size_t size() const override { return 1; }
  std::string_view name(std::size_t) const override { return "Host"; }
  std::string_view value(std::size_t) const override { return "x"; }
  std::string_view get(std::string_view) const override { return {}; }
};

struct Fixture {
  Fixture() {
    Service s;
    s.id = "svc-id";
    s.name = "health";
    s.host = "health.internal";
    snapshot.services.push_back(s);
    Route r;
    r.id = "route-id";
    r.name = "health-route";
    r.service_index = 0;
    snapshot.routes.push_back(r);
    Route unnamed;
    unnamed.id = "unnamed-id";
    unnamed.service_index = 0;
    snapshot.routes.push_back(unnamed);
    Consumer c;
    c.id = "c1";
    c.username = "alice";
    snapshot.consumers.push_back(c);
    entity.name = "prometheus";
  }
  RequestContext context(std::size_t route, int status, int64_t upstream_ms) {
    RequestContext ctx;
    ctx.snapshot = &snapshot;
    ctx.route = &snapshot.routes[route];
    ctx.service = &snapshot.services[0];
    ctx.method = "GET";
    ctx.path = "/p";
    ctx.request_headers = &headers;
    ctx.status = status;
    ctx.upstream_latency_ms = upstream_ms;
    ctx.request_latency_ms = upstream_ms < 0 ? 3 : upstream_ms + 3;
    ctx.proxy_latency_ms = 3;
    ctx.response_head.emplace_back("Content-Type", "application/json");
    ctx.response_body_bytes = 10;
    return ctx;
  }
  Snapshot snapshot;
  gateway::Plugin entity;
  EmptyHeaders headers;
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(PrometheusPluginTest, RecordsKongSeriesWithKongLabels) {
  Fixture f;
  telemetry::Registry registry;
  Config config;
  config.status_code_metrics = config.latency_metrics = config.bandwidth_metrics = true;
  Handler handler(f.entity, f.snapshot, config, registry);
  handler.log(f.context(0, 200, 40));
  handler.log(f.context(0, 200, 300));
  RequestContext exit = f.context(0, 401, -1);
  exit.exit.emplace();
  handler.log(exit);
  handler.log(f.context(1, 502, -1));  // a gateway error on a route without a name

  std::string text = registry.render();
  EXPECT_TRUE(has_line(text,
                       R"(kong_http_requests_total{service="health",route="health-route",code="200",source="service",workspace="default",consumer=""} 2)"))
      << text;
  EXPECT_TRUE(has_line(text,
                       R"(kong_http_requests_total{service="health",route="health-route",code="401",source="kong",workspace="default",consumer=""} 1)"))
      << text;
  EXPECT_TRUE(has_line(text,
                       R"(kong_http_requests_total{service="health",route="unnamed-id",code="502",source="kong",workspace="default",consumer=""} 1)"))
      << text;
  // Upstream latency only when the upstream answered; Kong's buckets.
  EXPECT_TRUE(has_line(text, R"(kong_upstream_latency_ms_bucket{service="health",route="health-route",workspace="default",le="25"} 0)"));
  EXPECT_TRUE(has_line(text, R"(kong_upstream_latency_ms_bucket{service="health",route="health-route",workspace="default",le="50"} 1)"));
  EXPECT_TRUE(has_line(text, R"(kong_upstream_latency_ms_count{service="health",route="health-route",workspace="default"} 2)"));
  EXPECT_TRUE(has_line(text, R"(kong_request_latency_ms_count{service="health",route="health-route",workspace="default"} 3)"));
  EXPECT_TRUE(has_line(text, R"(kong_kong_latency_ms_bucket{service="health",route="health-route",workspace="default",le="5"} 3)"));
  EXPECT_TRUE(has_line(text, R"(kong_kong_latency_ms_bucket{service="health",route="health-route",workspace="default",le="6000"} 3)"));
  EXPECT_NE(text.find(R"(kong_bandwidth_bytes{service="health",route="health-route",direction="ingress",workspace="default",consumer=""} )"),
            std::string::npos);
  EXPECT_NE(text.find(R"(kong_bandwidth_bytes{service="health",route="health-route",direction="egress",workspace="default",consumer=""} )"),
            std::string::npos);
  // HELP/TYPE once per family.
  EXPECT_EQ(text.find("# TYPE kong_http_requests_total counter"), text.rfind("# TYPE kong_http_requests_total counter"));
}

TEST(PrometheusPluginTest, ConfigFlagsGateFamilies) {
  Fixture f;
  telemetry::Registry registry;
  Handler handler(f.entity, f.snapshot, Config{}, registry);  // Kong's defaults: all off
  handler.log(f.context(0, 200, 5));
  std::string text = registry.render();
  EXPECT_EQ(text.find("kong_http_requests_total{"), std::string::npos) << text;
  EXPECT_EQ(text.find("kong_request_latency_ms_count{"), std::string::npos) << text;
  EXPECT_EQ(text.find("kong_bandwidth_bytes{"), std::string::npos) << text;
}

TEST(PrometheusPluginTest, PerConsumerLabelsTheConsumer) {
  Fixture f;
  telemetry::Registry registry;
  Config config;
  config.status_code_metrics = config.bandwidth_metrics = config.per_consumer = true;
  Handler handler(f.entity, f.snapshot, config, registry);
  RequestContext ctx = f.context(0, 200, 5);
  ctx.consumer = &f.snapshot.consumers[0];
  handler.log(ctx);
  handler.log(ctx);
  handler.log(f.context(0, 200, 5));
  std::string text = registry.render();
  EXPECT_TRUE(has_line(text,
                       R"(kong_http_requests_total{service="health",route="health-route",code="200",source="service",workspace="default",consumer="alice"} 2)"))
      << text;
  EXPECT_TRUE(has_line(text,
                       R"(kong_http_requests_total{service="health",route="health-route",code="200",source="service",workspace="default",consumer=""} 1)"))
      << text;
  EXPECT_NE(text.find(R"(direction="egress",workspace="default",consumer="alice"})"), std::string::npos) << text;
}

TEST(PrometheusPluginTest, ParsesKongConfig) {
  boost::json::object config{{"per_consumer", true}, {"status_code_metrics", false}, {"latency_metrics", true}};
  Config c = parse_config(config);
  EXPECT_TRUE(c.per_consumer);
  EXPECT_FALSE(c.status_code_metrics);
  EXPECT_TRUE(c.latency_metrics);
  EXPECT_FALSE(c.bandwidth_metrics);
}

TEST(PrometheusPluginTest, NodeMetricsUseKongNames) {
  telemetry::Registry registry;
  NodeStats stats;
  stats.connections_active = 3;
  stats.total_requests = 42;
  update_node_metrics(registry, stats);
  std::string text = registry.render();
  EXPECT_TRUE(has_line(text, "kong_nginx_connections_total{node_id=\"" + node_id() +
                                 "\",subsystem=\"http\",state=\"active\"} 3"))
      << text;
  EXPECT_TRUE(has_line(text, "kong_nginx_requests_total{node_id=\"" + node_id() + "\",subsystem=\"http\"} 42"));
  EXPECT_TRUE(has_line(text, "kong_datastore_reachable 1"));
  EXPECT_NE(text.find("kong_node_info{node_id=\"" + node_id() + "\",version=\""), std::string::npos);
  EXPECT_NE(text.find("kong_memory_workers_lua_vms_bytes{"), std::string::npos);
}

}  // namespace
}  // namespace suoke::gateway::plugins::prometheus
