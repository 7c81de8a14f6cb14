// Servers for integration tests on 127.0.0.1 with a port the kernel picks, so test binaries
// running in parallel never clash.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

// A TCP socket listening on 127.0.0.1 at a port the kernel picks, for upstreams written on
// raw sockets (behaviour http::Server cannot produce). The caller owns fd.
struct LoopbackSocket {
  int fd;
  uint16_t port;
};

inline LoopbackSocket listen_on_loopback(int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::listen(fd, backlog);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return {fd, ntohs(addr.sin_port)};
}

}  // namespace suoke::testing
