// The gateway's data plane: an HTTP/1.1 reverse proxy with Kong's Route/Service semantics.
// One io_context per worker (the http worker pool), a lock-free snapshot read per request,
// per-worker upstream keep-alive pools, and bodies streamed in both directions.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/result.h"
#include "gateway/proxy/plugin_runner.h"
#include "gateway/snapshot.h"
#include "http/server.h"

namespace suoke::gateway::proxy {

struct ProxyOptions {
  http::Limits limits;
  std::chrono::milliseconds shutdown_deadline{10000};
  // Optional; when null no plugin phase runs. Called from every worker thread.
  std::shared_ptr<PluginRunner> plugins;
  // Idle upstream connections kept per worker and target.
  std::size_t upstream_keepalive_pool_size = 512;
  std::chrono::milliseconds upstream_keepalive_idle_timeout{60000};
};

class ProxyServer {
 public:
  ProxyServer(ProxyOptions options, const SnapshotHolder& snapshots);
  ~ProxyServer();
  ProxyServer(const ProxyServer&) = delete;
  ProxyServer& operator=(const ProxyServer&) = delete;

  Result<uint16_t> listen(const http::Endpoint& endpoint);
  Result<void> start(int workers);
  // Stops accepting, finishes in-flight requests until `deadline`, then closes everything.
  void stop(std::chrono::milliseconds deadline);
  void stop() { stop(shutdown_deadline_); }

  uint16_t port() const;
  http::ServerCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::chrono::milliseconds shutdown_deadline_;
};

}  // namespace suoke::gateway::proxy
