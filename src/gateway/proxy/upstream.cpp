#include "gateway/proxy/upstream.h"

namespace suoke::gateway::proxy {

std::unique_ptr<UpstreamConn> UpstreamPool::acquire(const std::string& key, http::TimePoint now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  while (!list.empty()) {
    auto conn = std::move(list.back());
    list.pop_back();
    if (now - conn->idle_since < idle_timeout_ && conn->sock.is_open()) return conn;
  }
  return nullptr;
}

void UpstreamPool::release(const std::string& key, std::unique_ptr<UpstreamConn> conn,
                           http::TimePoint now) {
  auto& list = idle_[key];
  if (list.size() >= max_idle_) {
    // Oldest first out when full.
    list.erase(list.begin());
  }
  conn->idle_since = now;
  list.push_back(std::move(conn));
}

void UpstreamPool::clear(const std::string& key) {
  auto it = idle_.find(key);
  if (it != idle_.end()) it->second.clear();
}

}  // namespace suoke::gateway::proxy
