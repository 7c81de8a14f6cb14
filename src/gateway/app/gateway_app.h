// One gateway process: the config store (durable in data_dir), the proxy data plane, the
// Kong-compatible Admin API and the status listener, wired together. Used by `suoke gateway`,
// `suoke up` and the integration tests (which run it in-process on port 0).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/server.h"

namespace suoke::gateway {

namespace store {
class ConfigStore;
}

struct GatewayOptions {
  http::Endpoint proxy_listen{"0.0.0.0", 8000};
  http::Endpoint admin_listen{"127.0.0.1", 8001};
  http::Endpoint status_listen{"127.0.0.1", 8100};
  bool admin_enabled = true;
  bool status_enabled = true;
  int workers = 0;  // 0: one per core
  // Where Admin API writes are persisted (kong.json). Empty: memory only.
  std::string data_dir;
  // Declarative config (Kong 3.x YAML or JSON) loaded at start, replacing what data_dir held.
  std::string config_file;
  // Declarative config text loaded at start (used by `suoke up`); applied after config_file.
  std::string config_text;
  http::Limits limits;
  std::chrono::milliseconds shutdown_deadline{10'000};
};

class GatewayApp {
 public:
  // Loads the configuration, binds every listener and starts the workers. Any failure
  // (unreadable or invalid config, a port in use) is returned before anything is served.
  static Result<std::unique_ptr<GatewayApp>> start(GatewayOptions options);
  ~GatewayApp();

  uint16_t proxy_port() const;
  uint16_t admin_port() const;  // 0 when disabled
  uint16_t status_port() const;  // 0 when disabled
  store::ConfigStore& store();

  // Re-reads options.config_file and applies it atomically (SIGHUP). An invalid file changes
  // nothing and is reported.
  Result<void> reload_config_file();

  // Stops accepting, lets in-flight requests finish up to the deadline, joins all threads.
  void stop();

 private:
  struct Impl;
  explicit GatewayApp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace suoke::gateway
