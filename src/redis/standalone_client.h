// Client for one Redis server (redis://): an IO thread with its own io_context and
// `connections_per_node` pipelined Connections, used round-robin.
//
// Retries: a command that failed without being written (connection down, reconnecting) is
// re-sent within its timeout; one that was written and then lost its connection only when
// may_retry() allows it (read-only, or CommandOptions::Retry::kIdempotent). A timeout is
// never retried: the timeout is the whole budget.
//
// Ordering: with one connection per node (the default) commands run in the order they were
// submitted from a thread; with more, only commands of one exec_pipeline() call that land in
// one IO turn share a connection, so do not rely on order across connections.
//
// A plain redis:// URL may point at a node of a cluster (the seed's rate-limiting config
// does). That works for keys the node owns (others answer MOVED as an error reply);
// is_cluster_node() tells callers to switch to the cluster client.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "redis/client.h"
#include "redis/connection.h"
#include "redis/url.h"

namespace suoke::redis {

class StandaloneClient final : public Client {
 public:
  // Connects every connection (connect + AUTH + SELECT + PING) and asks INFO cluster.
  static Result<std::unique_ptr<StandaloneClient>> connect(const RedisUrl& url, const ClientOptions& options);
  ~StandaloneClient() override;

  void exec_async(Command command, Callback done, CommandOptions options = {}) override;
  bool is_cluster() const override { return false; }
  Result<void> scan_from(const ScanFilter& filter, ScanPosition position, const ScanBatchFn& on_batch) override;

  // The server runs with cluster-enabled yes (INFO cluster: cluster_enabled:1).
  bool is_cluster_node() const { return cluster_node_; }
  const Endpoint& endpoint() const { return endpoint_; }
  // Connections currently ready (any thread).
  int connected_count() const;

 private:
  struct Job {
    Command command;
    Callback done;
    CommandOptions options;
    std::chrono::steady_clock::time_point deadline;
    int attempt = 0;
  };

  StandaloneClient(const RedisUrl& url, const ClientOptions& options);
  void drain();
  std::shared_ptr<Connection> pick();
  void dispatch(std::shared_ptr<Connection> conn, std::shared_ptr<Job> job);
  void shutdown();

  Endpoint endpoint_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::shared_ptr<Connection>> connections_;  // IO thread only after connect()
  std::size_t next_ = 0;
  std::mutex mu_;
  std::vector<Job> submitted_;  // guarded by mu_
  bool cluster_node_ = false;
  std::thread thread_;
};

}  // namespace suoke::redis
