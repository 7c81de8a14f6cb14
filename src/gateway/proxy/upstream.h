// Internal: per-worker upstream state. Everything here is touched by one worker thread only,
// so the pools need no locks.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/snapshot.h"
#include "http/listener.h"

namespace suoke::gateway::proxy {

using http::tcp;

struct UpstreamConn {
  explicit UpstreamConn(boost::asio::io_context& io) : sock(io) {}
  tcp::socket sock;
  boost::beast::flat_buffer buf;
  http::TimePoint idle_since{};
  uint64_t requests = 0;
};

// Idle keep-alive connections per target ("host:port"), most recently used first out: the
// warmest connection is the least likely to have been closed by the upstream.
class UpstreamPool {
 public:
  UpstreamPool(std::size_t max_idle, std::chrono::milliseconds idle_timeout)
      : max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  std::unique_ptr<UpstreamConn> acquire(const std::string& key, http::TimePoint now);
  void release(const std::string& key, std::unique_ptr<UpstreamConn> conn, http::TimePoint now);
  // Drops every idle connection to `key` (after one turned out stale, the rest likely are).
  void clear(const std::string& key);
  void clear_all() { idle_.clear(); }

 private:
  std::size_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
};

// Resolved addresses per host name, cached briefly so a name is not resolved per request.
struct DnsEntry {
  std::vector<boost::asio::ip::address> addresses;
  http::TimePoint expires{};
};

struct WorkerState {
  WorkerState(const SnapshotHolder& holder, std::size_t max_idle,
              std::chrono::milliseconds idle_timeout, boost::asio::io_context& io)
      : reader(holder), pool(max_idle, idle_timeout), resolver(io) {}
  SnapshotHolder::Reader reader;
  UpstreamPool pool;
  std::unordered_map<std::string, DnsEntry> dns;
  tcp::resolver resolver;
  uint64_t request_id_state[2] = {0, 0};
};

}  // namespace suoke::gateway::proxy
