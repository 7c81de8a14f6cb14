// HTTP/1.1 server for request/response handlers: one io_context per worker thread, one
// SO_REUSEPORT listener per worker, keep-alive, pipelining answered in order, chunked request
// bodies, Expect: 100-continue, and Kong/nginx-like limits. Used for the Admin API, the
// status endpoint and the built-in upstreams. The proxy has its own streaming sessions but
// shares Limits, the worker pool and the listener helpers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/message.h"

namespace suoke::http {

struct Limits {
  std::size_t max_header_bytes = 64 * 1024;      // request line + headers; 431 beyond
  std::size_t max_body_bytes = 8 * 1024 * 1024;  // 413 beyond (0: unlimited)
  std::chrono::milliseconds header_timeout{60'000};     // 408 when the head is not complete
  std::chrono::milliseconds keepalive_timeout{60'000};  // idle connection closed
  std::chrono::milliseconds body_timeout{60'000};
};

struct Endpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
};
// Parses "host:port", "[v6]:port" or ":port" / "port" (host 0.0.0.0).
Result<Endpoint> parse_endpoint(std::string_view text);

using Handler = std::function<Response(const Request&)>;

struct ServerCounters {
  // Kong /status "server" fields.
  uint64_t connections_accepted = 0;
  uint64_t connections_handled = 0;
  uint64_t connections_active = 0;
  uint64_t connections_reading = 0;
  uint64_t connections_writing = 0;
  uint64_t connections_waiting = 0;
  uint64_t total_requests = 0;
};

class Server {
 public:
  Server(std::string name, Limits limits, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds (SO_REUSEPORT, one acceptor per worker). Returns the bound port.
  Result<uint16_t> listen(const Endpoint& endpoint);
  // Starts `workers` threads (each with its own io_context). Non-blocking.
  Result<void> start(int workers);
  // Stops accepting, lets in-flight requests finish until `deadline`, then closes everything
  // and joins the threads.
  void stop(std::chrono::milliseconds deadline = std::chrono::milliseconds(10'000));

  uint16_t port() const;
  ServerCounters counters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace suoke::http
