#include "redis/standalone_client.h"

#include <boost/asio/post.hpp>
#include <future>

#include "core/log.h"
#include "redis/command_retry.h"
#include "redis/io_thread.h"

namespace suoke::redis {

namespace asio = boost::asio;

namespace {

constexpr int kMaxAttempts = 3;

}  // namespace

StandaloneClient::StandaloneClient(const RedisUrl& url, const ClientOptions& options)
    : endpoint_(url.endpoints.at(0)), work_(asio::make_work_guard(io_)) {
  ConnectionOptions co;
  co.endpoint = endpoint_;
  co.username = url.username;
  co.password = url.password;
  co.db = url.db;
  co.connect_timeout = options.connect_timeout;
  int n = std::max(1, options.connections_per_node);
  for (int i = 0; i < n; ++i) connections_.push_back(Connection::create(io_, co));
  thread_ = std::thread([this] {
    detail::mark_io_thread();
    io_.run();
  });
}

Result<std::unique_ptr<StandaloneClient>> StandaloneClient::connect(const RedisUrl& url, const ClientOptions& options) {
  if (url.endpoints.size() != 1) return Error::make("a standalone redis URL names exactly one host", "config");
  std::unique_ptr<StandaloneClient> client(new StandaloneClient(url, options));
  auto results = std::make_shared<std::vector<std::promise<Result<void>>>>(client->connections_.size());
  std::vector<std::future<Result<void>>> futures;
  for (auto& p : *results) futures.push_back(p.get_future());
  asio::post(client->io_, [c = client.get(), results] {
    for (std::size_t i = 0; i < c->connections_.size(); ++i) {
      c->connections_[i]->start([results, i](Result<void> r) { (*results)[i].set_value(std::move(r)); });
    }
  });
  for (auto& f : futures) {
    auto r = f.get();
    if (!r.ok()) return r.error();  // the destructor closes the others
  }
  auto info = client->exec({"INFO", "cluster"});
  if (!info.ok()) return info.error();
  if (info->is_string()) {
    client->cluster_node_ = info->str.find("cluster_enabled:1") != std::string::npos;
  }
  if (client->cluster_node_) {
    log::info("redis server is a cluster node; a redis-cluster:// URL routes every key",
              {{"endpoint", client->endpoint_.to_string()}});
  }
  return client;
}

StandaloneClient::~StandaloneClient() { shutdown(); }

void StandaloneClient::shutdown() {
  // Joining from the IO thread would wait for itself.
  assert(!detail::on_io_thread() || std::this_thread::get_id() != thread_.get_id());
  asio::post(io_, [this] {
    for (auto& c : connections_) c->close();
  });
  work_.reset();
  if (thread_.joinable()) thread_.join();
  // Jobs submitted after the IO thread stopped never ran.
  std::vector<Job> left;
  {
    std::lock_guard lock(mu_);
    left.swap(submitted_);
  }
  for (auto& j : left) j.done(Error::make("redis client is shut down", error_kind::kClosed));
}

int StandaloneClient::connected_count() const {
  int n = 0;
  for (const auto& c : connections_) n += c->connected() ? 1 : 0;
  return n;
}

void StandaloneClient::exec_async(Command command, Callback done, CommandOptions options) {
  Job job{std::move(command), std::move(done), options, std::chrono::steady_clock::now() + options.timeout, 0};
  bool first;
  {
    std::lock_guard lock(mu_);
    first = submitted_.empty();
    submitted_.push_back(std::move(job));
  }
  // One post per burst: commands submitted before the IO thread gets to drain() share it
  // (and then one connection and one write).
  if (first) asio::post(io_, [this] { drain(); });
}

void StandaloneClient::drain() {
  std::vector<Job> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(submitted_);
  }
  if (jobs.empty()) return;
  auto conn = pick();
  for (auto& j : jobs) dispatch(conn, std::make_shared<Job>(std::move(j)));
}

std::shared_ptr<Connection> StandaloneClient::pick() {
  // Round-robin over ready connections; when none is ready, the next one queues or fails
  // fast according to its state.
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    auto& c = connections_[(next_ + i) % connections_.size()];
    if (c->connected()) {
      next_ = (next_ + i + 1) % connections_.size();
      return c;
    }
  }
  return connections_[next_++ % connections_.size()];
}

void StandaloneClient::dispatch(std::shared_ptr<Connection> conn, std::shared_ptr<Job> job) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(job->deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) left = std::chrono::milliseconds(1);
  ++job->attempt;
  conn->send(job->command, [this, job](Result<Value> reply, bool written) {
    if (reply.ok()) {
      job->done(std::move(reply));
      return;
    }
    const Error& e = reply.error();
    const bool retriable_kind = e.kind == error_kind::kConnectionLost || e.kind == error_kind::kProtocol ||
                                (e.kind == error_kind::kUnavailable && !written);
    const bool time_left = std::chrono::steady_clock::now() < job->deadline;
    if (retriable_kind && time_left && job->attempt < kMaxAttempts &&
        may_retry(job->command, job->options.retry, written)) {
      // A connection that lost its socket reconnects at once and queues this; one that is
      // backing off fails fast, and so will the retry, so pick another connection.
      dispatch(pick(), job);
      return;
    }
    if (written && e.kind == error_kind::kConnectionLost && !may_retry(job->command, job->options.retry, written)) {
      job->done(Error::make(e.message + " (" + (job->command.empty() ? std::string() : job->command[0]) +
                                " not retried: it may have executed)",
                            e.kind));
      return;
    }
    job->done(std::move(reply));
  }, left);
}

Result<void> StandaloneClient::scan_from(const ScanFilter& filter, ScanPosition position,
                                         const ScanBatchFn& on_batch) {
  const std::string node = endpoint_.to_string();
  if (position.finished.count(node) > 0) return Ok();
  auto at = position.cursors.find(node);
  std::string cursor = at == position.cursors.end() ? "0" : at->second;
  do {
    Command cmd{"SCAN", cursor};
    if (!filter.match.empty()) cmd.insert(cmd.end(), {"MATCH", filter.match});
    if (filter.count > 0) cmd.insert(cmd.end(), {"COUNT", std::to_string(filter.count)});
    if (!filter.type.empty()) cmd.insert(cmd.end(), {"TYPE", filter.type});
    auto r = exec(std::move(cmd));
    if (!r.ok()) return r.error();
    if (r->is_error()) return Error::make("SCAN on " + node + " failed: " + r->str, "redis");
    if (!r->is_array() || r->elements.size() != 2 || !r->elements[0].is_string() || !r->elements[1].is_array()) {
      return Error::make("SCAN on " + node + " returned an unexpected reply", "protocol");
    }
    cursor = r->elements[0].str;
    if (cursor == "0") {
      position.cursors.erase(node);
      position.finished.insert(node);
    } else {
      position.cursors[node] = cursor;
    }
    std::vector<std::string> keys;
    keys.reserve(r->elements[1].elements.size());
    for (auto& k : r->elements[1].elements) keys.push_back(std::move(k.str));
    if (!keys.empty() && !on_batch(keys, position)) return Ok();
  } while (cursor != "0");
  return Ok();
}

}  // namespace suoke::redis
