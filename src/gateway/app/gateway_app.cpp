#include "gateway/app/gateway_app.h"

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "gateway/admin/admin_api.h"
#include "gateway/plugins/chain.h"
#include "gateway/plugins/prometheus/handler.h"
#include "gateway/proxy/proxy_server.h"
#include "gateway/snapshot.h"
#include "gateway/store/config_store.h"
#include "telemetry/metrics.h"

namespace suoke::gateway {

using admin::AdminApi;
using proxy::ProxyOptions;
using proxy::ProxyServer;
using store::ConfigStore;
using store::StoreOptions;

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::make("cannot read config file " + path + ": " + std::strerror(errno), "io");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::make("cannot read config file " + path, "io");
  return text.str();
}

boost::json::object server_counters_json(const http::ServerCounters& c) {
  boost::json::object server;
  server["connections_accepted"] = c.connections_accepted;
  server["connections_active"] = c.connections_active;
  server["connections_handled"] = c.connections_handled;
  server["connections_reading"] = c.connections_reading;
  server["connections_waiting"] = c.connections_waiting;
  server["connections_writing"] = c.connections_writing;
  server["total_requests"] = c.total_requests;
  return server;
}

}  // namespace

struct GatewayApp::Impl {
  GatewayOptions options;
  // Declared before the store: snapshots (and their plugin plans) refer to it.
  std::unique_ptr<plugins::PluginRuntime> plugin_runtime;
  std::unique_ptr<ConfigStore> store;
  std::unique_ptr<SnapshotHolder> snapshots;
  std::unique_ptr<ProxyServer> proxy;
  std::unique_ptr<AdminApi> admin_api;
  std::unique_ptr<http::Server> admin_server;
  std::unique_ptr<http::Server> status_server;
  uint16_t proxy_port = 0, admin_port = 0, status_port = 0;
  bool stopped = false;

  // Kong's /status "server" section reports the proxy's connections.
  boost::json::object status_server_section() const { return server_counters_json(proxy->counters()); }

  // Kong's /metrics on the status listener: the process registry (per service/route series
  // recorded by the prometheus plugin, file-log drops, ...) plus node gauges refreshed now.
  http::Response metrics() const {
    http::ServerCounters c = proxy->counters();
    plugins::prometheus::NodeStats stats;
    stats.connections_accepted = c.connections_accepted;
    stats.connections_handled = c.connections_handled;
    stats.connections_active = c.connections_active;
    stats.connections_reading = c.connections_reading;
    stats.connections_writing = c.connections_writing;
    stats.connections_waiting = c.connections_waiting;
    stats.total_requests = c.total_requests;
    stats.datastore_reachable = true;  // the local store is in-process
    telemetry::Registry& registry = telemetry::Registry::global();
    plugins::prometheus::update_node_metrics(registry, stats);
    http::Response response = http::Response::text(200, registry.render());
    response.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    return response;
  }

  http::Response handle_status(const http::Request& request) {
    std::string_view path = request.path();
    if (request.method != "GET" && request.method != "HEAD") {
      return http::Response::json(405, R"({"message":"Method not allowed"})");
    }
    if (path == "/status" || path == "/status/") {
      boost::json::object body;
      body["server"] = status_server_section();
      body["configuration_hash"] = snapshots->latest()->configuration_hash;
      return http::Response::json(200, boost::json::serialize(body));
    }
    if (path == "/metrics" || path == "/metrics/") return metrics();
    if (path == "/status/ready") {
      return http::Response::json(200, R"({"message":"ready"})");
    }
    return http::Response::json(404, R"({"message":"Not found"})");
  }
};

GatewayApp::GatewayApp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GatewayApp::~GatewayApp() { stop(); }

Result<std::unique_ptr<GatewayApp>> GatewayApp::start(GatewayOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.workers <= 0) options.workers = std::max(1u, std::thread::hardware_concurrency());
  impl->options = options;

  impl->plugin_runtime = std::make_unique<plugins::PluginRuntime>();
  StoreOptions store_options;
  store_options.data_dir = options.data_dir;
  plugins::PluginRuntime* runtime = impl->plugin_runtime.get();
  store_options.finalize_snapshot = [runtime](Snapshot& snapshot) { return plugins::attach_plan(snapshot, *runtime); };
  auto store = ConfigStore::open(store_options);
  if (!store.ok()) return store.error();
  impl->store = std::move(store).value();

  if (!options.config_file.empty()) {
    auto text = read_file(options.config_file);
    if (!text.ok()) return text.error();
    auto loaded = impl->store->load_declarative(*text, options.config_file);
    if (!loaded.ok()) return loaded.error();  // the message names the file, entity and field
  }
  if (!options.config_text.empty()) {
    auto loaded = impl->store->load_declarative(options.config_text, "built-in configuration");
    if (!loaded.ok()) return loaded.error();
  }

  impl->snapshots = std::make_unique<SnapshotHolder>(impl->store->snapshot());
  SnapshotHolder* holder = impl->snapshots.get();
  impl->store->on_change([holder](std::shared_ptr<const Snapshot> next) { holder->publish(std::move(next)); });

  ProxyOptions proxy_options;
  proxy_options.limits = options.limits;
  proxy_options.shutdown_deadline = options.shutdown_deadline;
  proxy_options.plugins = std::make_shared<plugins::ChainRunner>();
  impl->proxy = std::make_unique<ProxyServer>(proxy_options, *impl->snapshots);
  auto proxy_port = impl->proxy->listen(options.proxy_listen);
  if (!proxy_port.ok()) return Error::make("proxy listener: " + proxy_port.error().message, "io");
  impl->proxy_port = *proxy_port;

  Impl* self = impl.get();
  if (options.admin_enabled) {
    impl->admin_api = std::make_unique<AdminApi>(*impl->store, [self] { return self->status_server_section(); });
    AdminApi* api = impl->admin_api.get();
    impl->admin_server = std::make_unique<http::Server>(
        "admin", options.limits, [api](const http::Request& request) { return api->handle(request); });
    auto port = impl->admin_server->listen(options.admin_listen);
    if (!port.ok()) return Error::make("admin listener: " + port.error().message, "io");
    impl->admin_port = *port;
  }
  if (options.status_enabled) {
    impl->status_server = std::make_unique<http::Server>(
        "status", options.limits, [self](const http::Request& request) { return self->handle_status(request); });
    auto port = impl->status_server->listen(options.status_listen);
    if (!port.ok()) return Error::make("status listener: " + port.error().message, "io");
    impl->status_port = *port;
  }

  if (auto started = impl->proxy->start(options.workers); !started.ok()) return started.error();
  // The Admin API and status endpoints are control plane: one thread each is plenty.
  if (impl->admin_server) {
    if (auto started = impl->admin_server->start(1); !started.ok()) return started.error();
  }
  if (impl->status_server) {
    if (auto started = impl->status_server->start(1); !started.ok()) return started.error();
  }
  log::info("gateway started", {{"proxy_port", std::to_string(impl->proxy_port)},
                                {"admin_port", std::to_string(impl->admin_port)},
                                {"status_port", std::to_string(impl->status_port)},
                                {"workers", std::to_string(options.workers)},
                                {"data_dir", options.data_dir}});
  return std::unique_ptr<GatewayApp>(new GatewayApp(std::move(impl)));
}

uint16_t GatewayApp::proxy_port() const { return impl_->proxy_port; }
uint16_t GatewayApp::admin_port() const { return impl_->admin_port; }
uint16_t GatewayApp::status_port() const { return impl_->status_port; }
store::ConfigStore& GatewayApp::store() { return *impl_->store; }

Result<void> GatewayApp::reload_config_file() {
  if (impl_->options.config_file.empty()) return Error::make("no --config file to reload", "usage");
  auto text = read_file(impl_->options.config_file);
  if (!text.ok()) return text.error();
  auto loaded = impl_->store->load_declarative(*text, impl_->options.config_file);
  if (!loaded.ok()) return loaded.error();
  return Ok();
}

void GatewayApp::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  // The proxy drains first so in-flight client requests finish; the control plane goes last.
  if (impl_->proxy) impl_->proxy->stop(impl_->options.shutdown_deadline);
  if (impl_->admin_server) impl_->admin_server->stop(std::chrono::milliseconds(2000));
  if (impl_->status_server) impl_->status_server->stop(std::chrono::milliseconds(2000));
  log::info("gateway stopped");
}

}  // namespace suoke::gateway
