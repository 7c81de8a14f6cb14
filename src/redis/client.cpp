#include <cassert>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>

#include "redis/client.h"
#include "redis/io_thread.h"
#include "redis/standalone_client.h"
#include "redis/url.h"

// The cluster client is written alongside this file; until its implementation is in the
// tree, redis-cluster:// reports that it is unavailable instead of breaking the link.
#if __has_include("redis/cluster/cluster_client.h") && __has_include("redis/cluster/cluster_client.cpp")
#include "redis/cluster/cluster_client.h"
#define SUOKE_HAVE_CLUSTER_CLIENT 1
#endif

namespace suoke::redis {

namespace detail {

namespace {
thread_local bool t_io_thread = false;
}  // namespace

void mark_io_thread() { t_io_thread = true; }
bool on_io_thread() { return t_io_thread; }

}  // namespace detail

namespace {

Error io_thread_error() {
  return Error::make("blocking redis call on a redis IO thread (it would deadlock); use exec_async", "usage");
}

}  // namespace

Result<std::unique_ptr<Client>> Client::connect(std::string_view url, ClientOptions options) {
  auto parsed = parse_redis_url(url);
  if (!parsed.ok()) return parsed.error();
  switch (parsed->scheme) {
    case RedisUrl::Scheme::kRediss:
      return Error::make("rediss:// (TLS) is not supported yet; use redis:// on a trusted network", "config");
    case RedisUrl::Scheme::kCluster: {
#ifdef SUOKE_HAVE_CLUSTER_CLIENT
      return connect_cluster(*parsed, options);
#else
      return Error::make("redis-cluster:// given, but the cluster client is not available in this build", "config");
#endif
    }
    case RedisUrl::Scheme::kRedis:
      break;
  }
  auto client = StandaloneClient::connect(*parsed, options);
  if (!client.ok()) return client.error();
  return std::unique_ptr<Client>(std::move(*client));
}

Result<Value> Client::exec(Command command, CommandOptions options) {
  // The reply could only be delivered by the thread that would be blocked here: a bug in the
  // caller, asserted in debug builds and an error (not a deadlock) in release builds.
  assert(!detail::on_io_thread() && "Client::exec called on a redis IO thread");
  if (detail::on_io_thread()) return io_thread_error();
  std::promise<Result<Value>> promise;
  auto future = promise.get_future();
  exec_async(std::move(command), [&promise](Result<Value> r) { promise.set_value(std::move(r)); }, options);
  return future.get();
}

std::vector<Result<Value>> Client::exec_pipeline(std::vector<Command> commands, CommandOptions options) {
  assert(!detail::on_io_thread() && "Client::exec_pipeline called on a redis IO thread");
  if (detail::on_io_thread()) return std::vector<Result<Value>>(commands.size(), io_thread_error());
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::optional<Result<Value>>> results;
    std::size_t left;
  };
  auto state = std::make_shared<State>();
  state->results.resize(commands.size());
  state->left = commands.size();
  for (std::size_t i = 0; i < commands.size(); ++i) {
    exec_async(std::move(commands[i]),
               [state, i](Result<Value> r) {
                 std::lock_guard lock(state->mu);
                 state->results[i].emplace(std::move(r));
                 if (--state->left == 0) state->cv.notify_one();
               },
               options);
  }
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return state->left == 0; });
  std::vector<Result<Value>> out;
  out.reserve(state->results.size());
  for (auto& r : state->results) out.push_back(std::move(*r));
  return out;
}

Result<void> Client::scan(std::string_view match, std::size_t count,
                          const std::function<bool(const std::vector<std::string>& keys)>& on_batch) {
  ScanFilter filter;
  filter.match = std::string(match);
  filter.count = count;
  return scan_from(filter, ScanPosition{}, [&](const std::vector<std::string>& keys, const ScanPosition&) {
    return on_batch(keys);
  });
}

}  // namespace suoke::redis
