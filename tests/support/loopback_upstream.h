// Servers for integration tests on 127.0.0.1 with a port the kernel picks, so test binaries
// running in parallel never clash.
#pragma once

#include <cstdint>
#include <string>

#include "http/server.h"

namespace suoke::testing {

// Binds `server` to a free loopback port and starts it: the port, or the first failure.
// Server: http::Server, or one that listens and starts as it does (gateway::proxy::ProxyServer).
template <class Server>
Result<uint16_t> serve_on_loopback(Server& server, int workers = 1) {
  auto port = server.listen({"127.0.0.1", 0});
  if (!port.ok()) return port;
  if (auto started = server.start(workers); !started.ok()) return started.error();
  return port;
}

// An upstream handler answering 200 {"path":"<the path it was asked for>"}, so a test sees
// what the gateway forwarded.
inline http::Response echo_path(const http::Request& request) {
  return http::Response::json(200, R"({"path":")" + std::string(request.path()) + R"("})");
}

}  // namespace suoke::testing
