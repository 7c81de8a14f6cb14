// In-process gateways for integration tests: every listener on 127.0.0.1 with a port the
// kernel picks, so test binaries running in parallel never clash; the listeners a test does
// not talk to stay off.
#pragma once

#include <string>
#include <utility>

#include "gateway/app/gateway_app.h"

namespace suoke::testing {

// What differs between the tests' gateways; the proxy listener is always on. Meant for
// designated initializers: loopback_gateway_options(config, {.admin = true, .workers = 2}).
struct LoopbackGateway {
  bool admin = false;
  bool status = false;
  int workers = 1;
  std::string data_dir;  // empty: Admin API writes are not persisted
};

inline gateway::GatewayOptions loopback_gateway_options(std::string config_text,
                                                        LoopbackGateway wanted = {}) {
  gateway::GatewayOptions options;
  options.proxy_listen = {"127.0.0.1", 0};
  options.admin_listen = {"127.0.0.1", 0};
  options.status_listen = {"127.0.0.1", 0};
  options.admin_enabled = wanted.admin;
  options.status_enabled = wanted.status;
  options.workers = wanted.workers;
  options.data_dir = std::move(wanted.data_dir);
  options.config_text = std::move(config_text);
  return options;
}

}  // namespace suoke::testing
