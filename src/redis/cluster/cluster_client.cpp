#include "redis/cluster/cluster_client.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "redis/cluster/command_keys.h"
#include "redis/cluster/crc16.h"
#include "redis/cluster/slot_map.h"
#include "redis/command_retry.h"
#include "redis/connection.h"
#include "redis/io_thread.h"
#include "telemetry/metrics.h"

namespace suoke::redis {
namespace cluster {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// At most one full refresh per this interval, however many MOVED/failures ask for one.
constexpr milliseconds kMinRefreshInterval{100};
// Redirects followed at once; beyond that the command backs off (a slot bouncing between two
// stale views settles after the next refresh instead of spinning).
constexpr int kImmediateRedirects = 3;
constexpr int kMaxRedirects = 32;
constexpr milliseconds kBackoffInitial{10};
// Short: a command waiting for a failover is resent soon after the new master appears (a
// resend to a node that is down fails fast, unwritten, without touching the network).
constexpr milliseconds kBackoffMax{100};

struct Metrics {
  telemetry::Counter& refreshes;
  telemetry::Counter& refresh_failures;
  telemetry::Counter& moved;
  telemetry::Counter& ask;
  telemetry::Counter& retries;
  telemetry::Counter& crossslot;

  static Metrics& get() {
    auto& r = telemetry::Registry::global();
    static Metrics m{
        r.counter("suoke_redis_cluster_refreshes_total", "Redis Cluster slot map loads started"),
        r.counter("suoke_redis_cluster_refresh_failures_total",
                  "Redis Cluster slot map loads that failed on every node"),
        r.counter("suoke_redis_cluster_redirects_total", "Redis Cluster redirects followed",
                  {{"kind", "moved"}}),
        r.counter("suoke_redis_cluster_redirects_total", "Redis Cluster redirects followed",
                  {{"kind", "ask"}}),
        r.counter("suoke_redis_cluster_retries_total",
                  "Redis Cluster commands resent after TRYAGAIN, CLUSTERDOWN or a node failure"),
        r.counter("suoke_redis_cluster_crossslot_refused_total",
                  "Multi-key commands refused client-side because their keys span slots"),
    };
    return m;
  }
};

std::string_view first_word(std::string_view s) { return s.substr(0, s.find(' ')); }

// Server errors that mean "not executed, try again later": the slot is being imported
// (TRYAGAIN), the cluster or this master is down, the node is a replica now (READONLY after
// a failover) or still loading its data.
bool is_transient_cluster_error(std::string_view code) {
  return code == "TRYAGAIN" || code == "CLUSTERDOWN" || code == "MASTERDOWN" ||
         code == "READONLY" || code == "LOADING";
}

bool is_cluster_disabled(const Value& v) {
  return v.is_error() && v.str.find("cluster support disabled") != std::string::npos;
}

bool is_unknown_subcommand(const Value& v) {
  return v.is_error() && (v.str.find("unknown subcommand") != std::string::npos ||
                          v.str.find("Unknown subcommand") != std::string::npos);
}

}  // namespace

struct Request {
  Command command;
  CommandOptions options;
  Callback done;
  std::optional<uint16_t> slot;
  Clock::time_point start;
  Clock::time_point deadline;
  std::optional<Endpoint> ask_target;    // next send: ASKING + command there
  std::optional<Endpoint> fixed_target;  // SCAN: this node only
  int redirects = 0;
  int attempts = 0;  // backoff rounds so far
};

class ClusterClient::Impl {
 public:
  struct Node;  // one cluster node's connections (below)

  Impl(const RedisUrl& url, const ClientOptions& options)
      : url_(url),
        options_(options),
        work_(asio::make_work_guard(io_)),
        refresh_timer_(io_),
        periodic_timer_(io_),
        metrics_(Metrics::get()),
        map_(std::make_shared<const SlotMap>()) {
    io_map_ = map_.load();
    thread_ = std::thread([this] {
      detail::mark_io_thread();
      io_.run();
    });
  }

  ~Impl() { shutdown(); }

  void shutdown() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] {
      closing_ = true;
      refresh_timer_.cancel();
      periodic_timer_.cancel();
      // Waiting commands complete now (with "closed"), not never.
      for (auto* t : retry_timers_) t->cancel();
      for (auto& [key, node] : nodes_) {
        for (auto& c : node.conns) c->close();
      }
      // close() posts the failures of pending commands; run them before stopping.
      asio::post(io_, [this] { asio::post(io_, [this] { io_.stop(); }); });
    });
    work_.reset();
    thread_.join();
    nodes_.clear();
  }

  // ---- commands -------------------------------------------------------------------------

  void exec_async(Command command, Callback done, CommandOptions options) {
    auto req = std::make_shared<Request>();
    auto slot = command_slot(command);
    if (!slot.ok()) {
      if (slot.error().kind == "crossslot") metrics_.crossslot.inc();
      asio::post(io_, [done = std::move(done), e = slot.error()]() mutable { done(std::move(e)); });
      return;
    }
    req->slot = slot.value();
    req->command = std::move(command);
    req->options = options;
    req->done = std::move(done);
    req->start = Clock::now();
    req->deadline = req->start + std::max(options_.cluster_retry_deadline, options.timeout);
    if (io_.get_executor().running_in_this_thread()) {
      // Called from a reply handler (the usual pipelining loop): dispatch now instead of a
      // post per command. `done` still never runs inside exec_async (finish() posts it).
      inline_dispatch_ = true;
      dispatch(req);
      inline_dispatch_ = false;
      return;
    }
    asio::post(io_, [this, req] { dispatch(req); });
  }

  // Runs `command` on one node (SCAN); blocking, not on the IO thread.
  Result<Value> exec_on(const Endpoint& target, Command command, CommandOptions options) {
    auto req = std::make_shared<Request>();
    req->command = std::move(command);
    req->options = options;
    req->options.retry = CommandOptions::Retry::kIdempotent;  // SCAN reads
    req->fixed_target = target;
    req->start = Clock::now();
    req->deadline = req->start + options_.cluster_retry_deadline;
    std::promise<Result<Value>> p;
    auto f = p.get_future();
    req->done = [&p](Result<Value> r) { p.set_value(std::move(r)); };
    asio::post(io_, [this, req] { dispatch(req); });
    return f.get();
  }

  void dispatch(const std::shared_ptr<Request>& req) {
    if (closing_)
      return finish(req, Error::make("redis cluster client closed", error_kind::kClosed));
    Node* node = nullptr;
    bool asking = false;
    // Only this thread replaces the map: its own reference needs no atomic load.
    const SlotMap& map = *io_map_;
    if (req->ask_target) {
      node = &node_for(*req->ask_target);
      req->ask_target.reset();
      asking = true;
    } else if (req->fixed_target) {
      // After a failover the node may be gone from the map; the caller (scan) re-resolves.
      if (req->attempts > 0 && !is_master(map, *req->fixed_target)) {
        return finish(req, Error::make("redis node " + req->fixed_target->to_string() +
                                           " is no longer a master",
                                       error_kind::kUnavailable));
      }
      node = &node_for(*req->fixed_target);
    } else if (req->slot) {
      node = slot_node(*req->slot);
      if (node == nullptr) {
        request_refresh();
        return retry_later(
            req, Error::make("slot " + std::to_string(*req->slot) + " is not served by any master",
                             error_kind::kUnavailable));
      }
    } else {
      const auto& masters = map.masters();
      if (masters.empty()) {
        request_refresh();
        return retry_later(req, Error::make("no master serves any slot", error_kind::kUnavailable));
      }
      node = &node_for(masters[round_robin_++ % masters.size()]);
    }
    Connection& conn = pick_connection(*node);
    // Node addresses are stable (nodes_ is only cleared after the IO thread stopped).
    ReplyHandler handler = [this, req, node](Result<Value> r, bool written) {
      on_reply(req, node->endpoint, std::move(r), written);
    };
    // The request keeps its command for retries; the connection encodes it from there.
    std::shared_ptr<const Command> command(req, &req->command);
    if (asking) {
      conn.send_asking(std::move(command), std::move(handler), req->options.timeout);
    } else {
      conn.send(std::move(command), std::move(handler), req->options.timeout);
    }
  }

  void on_reply(const std::shared_ptr<Request>& req, const Endpoint& from, Result<Value> r,
                bool written) {
    if (!r.ok()) {
      const Error& e = r.error();
      if (closing_ || e.kind == error_kind::kClosed || e.kind == error_kind::kAuth)
        return finish(req, r.error());
      transport_errors_.fetch_add(1, std::memory_order_relaxed);
      // The node may be down or failing over: learn the new owner from the others.
      request_refresh();
      // Unwritten commands never reached the server; written ones only if resending is safe
      // (one classification for both clients: command_retry.h).
      if (may_retry(req->command, req->options.retry, written)) return retry_later(req, e);
      return finish(req, r.error());
    }
    Value& v = r.value();
    if (v.is_error()) {
      Redirect redirect;
      if (parse_redirect(v.str, &redirect)) {
        // ":port" means the node's endpoint is unknown: same host as the node that answered.
        if (redirect.target.host.empty()) redirect.target.host = from.host;
        if (++req->redirects > kMaxRedirects) {
          return finish(
              req, Error::make("too many cluster redirects (last: " + v.str + ")", "redirect"));
        }
        if (redirect.kind == Redirect::Kind::kMoved) {
          moved_.fetch_add(1, std::memory_order_relaxed);
          metrics_.moved.inc();
          apply_moved(redirect.slot, redirect.target);
          request_refresh();
          // A SCAN cursor belongs to one node: nothing to follow.
          if (req->fixed_target) return finish(req, std::move(v));
        } else {
          ask_.fetch_add(1, std::memory_order_relaxed);
          metrics_.ask.inc();
          req->ask_target = redirect.target;
        }
        if (req->redirects <= kImmediateRedirects) return dispatch(req);
        return retry_later(req, Error::make(v.str, "redirect"));
      }
      std::string_view code = first_word(v.str);
      if (is_transient_cluster_error(code)) {
        if (code != "TRYAGAIN") request_refresh();
        return retry_later(req, Error::make(v.str, "cluster"));
      }
    }
    finish(req, std::move(r));
  }

  void retry_later(const std::shared_ptr<Request>& req, const Error& last) {
    auto now = Clock::now();
    if (closing_) return finish(req, last);
    if (now >= req->deadline) {
      auto waited = std::chrono::duration_cast<milliseconds>(now - req->start).count();
      log::warn("redis cluster command gave up",
                {{"command", req->command.empty() ? "" : req->command[0]},
                 {"error", last.message},
                 {"attempts", std::to_string(req->attempts + 1)}});
      return finish(req,
                    Error::make(last.message + " (retried for " + std::to_string(waited) + " ms)",
                                last.kind));
    }
    retries_.fetch_add(1, std::memory_order_relaxed);
    metrics_.retries.inc();
    milliseconds delay = kBackoffInitial;
    for (int i = 0; i < req->attempts && delay < kBackoffMax; ++i) delay *= 2;
    delay = std::min(delay, kBackoffMax);
    auto left = std::chrono::duration_cast<milliseconds>(req->deadline - now);
    delay = std::max(milliseconds(1), std::min(delay, left));
    ++req->attempts;
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    retry_timers_.insert(timer.get());
    timer->async_wait([this, req, timer](const boost::system::error_code&) {
      retry_timers_.erase(timer.get());
      dispatch(req);  // when shutting down, this fails the request with "closed"
    });
  }

  void finish(const std::shared_ptr<Request>& req, Result<Value> r) {
    if (!req->done) return;
    auto done = std::move(req->done);
    req->done = nullptr;
    if (inline_dispatch_) {
      // Inside exec_async: callers are promised their callback never runs from there.
      asio::post(io_, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      return;
    }
    done(std::move(r));
  }

  // ---- topology -------------------------------------------------------------------------

  std::shared_ptr<const SlotMap> map_snapshot() const {
    return map_.load(std::memory_order_acquire);
  }

  // IO thread: publishes `map` and drops the slot -> node table built for the previous one.
  void set_map(std::shared_ptr<const SlotMap> map) {
    io_map_ = map;
    map_.store(std::move(map), std::memory_order_release);
    slot_nodes_.clear();
  }

  // IO thread: the node serving `slot` in the current map, or null. The table is rebuilt on
  // first use after a map change, so routing a command costs one index, no string or hash.
  Node* slot_node(uint16_t slot) {
    if (slot_nodes_.empty()) {
      slot_nodes_.assign(kSlotCount, nullptr);
      std::unordered_map<const Endpoint*, Node*> seen;
      for (int s = 0; s < kSlotCount; ++s) {
        const Endpoint* owner = io_map_->master_for(static_cast<uint16_t>(s));
        if (owner == nullptr) continue;
        auto [it, inserted] = seen.try_emplace(owner, nullptr);
        if (inserted) it->second = &node_for(*owner);
        slot_nodes_[s] = it->second;
      }
    }
    return slot_nodes_[slot];
  }

  static bool is_master(const SlotMap& map, const Endpoint& e) {
    for (const auto& m : map.masters()) {
      if (m == e) return true;
    }
    return false;
  }

  void install_map(SlotMap map, const Endpoint& from) {
    auto old = map_snapshot();
    // Nodes list shards in their own order: compare owners slot by slot.
    bool changed = false;
    for (int s = 0; s < kSlotCount && !changed; ++s) {
      const Endpoint* a = old->master_for(static_cast<uint16_t>(s));
      const Endpoint* b = map.master_for(static_cast<uint16_t>(s));
      changed = (a == nullptr) != (b == nullptr) || (a != nullptr && !(*a == *b));
    }
    if (changed) {
      std::string list;
      for (const auto& m : map.masters()) list += (list.empty() ? "" : ",") + m.to_string();
      log::info("redis cluster slot map updated",
                {{"from", from.to_string()},
                 {"masters", list},
                 {"covered_slots", std::to_string(map.covered_slots())}});
    }
    set_map(std::make_shared<const SlotMap>(std::move(map)));
  }

  void apply_moved(uint16_t slot, const Endpoint& owner) {
    auto map = map_snapshot();
    const Endpoint* current = map->master_for(slot);
    if (current != nullptr && *current == owner) return;
    set_map(std::make_shared<const SlotMap>(map->with_slot_owner(slot, owner)));
  }

  // IO thread. Throttled: at most one load in flight and one start per kMinRefreshInterval;
  // requests meanwhile collapse into one follow-up load.
  void request_refresh() {
    if (closing_ || !bootstrapped_) return;
    if (refresh_in_flight_) {
      refresh_again_ = true;
      return;
    }
    if (refresh_timer_armed_) return;
    auto since = Clock::now() - last_refresh_start_;
    if (since >= kMinRefreshInterval) return start_refresh();
    refresh_timer_armed_ = true;
    refresh_timer_.expires_after(kMinRefreshInterval - since);
    refresh_timer_.async_wait([this](const boost::system::error_code& ec) {
      refresh_timer_armed_ = false;
      if (!ec && !closing_) start_refresh();
    });
  }

  void start_refresh() {
    refresh_in_flight_ = true;
    last_refresh_start_ = Clock::now();
    refreshes_.fetch_add(1, std::memory_order_relaxed);
    metrics_.refreshes.inc();
    // Ask nodes that are up first, starting at a rotating position so one node with a stale
    // view does not answer every time; seeds last, for when every known node moved away.
    std::vector<Endpoint> up, down;
    auto map = map_snapshot();
    auto add = [&](const Endpoint& e) {
      if (std::find(up.begin(), up.end(), e) != up.end() ||
          std::find(down.begin(), down.end(), e) != down.end()) {
        return;
      }
      auto it = nodes_.find(e.to_string());
      bool backing_off =
          it != nodes_.end() &&
          std::all_of(it->second.conns.begin(), it->second.conns.end(), [](const auto& c) {
            return c->state() == Connection::State::kBackoff ||
                   c->state() == Connection::State::kClosed;
          });
      (backing_off ? down : up).push_back(e);
    };
    for (const auto& e : map->all_nodes()) add(e);
    for (const auto& e : url_.endpoints) add(e);
    if (!up.empty())
      std::rotate(up.begin(), up.begin() + (refresh_rotation_++ % up.size()), up.end());
    up.insert(up.end(), down.begin(), down.end());
    auto candidates = std::make_shared<std::vector<Endpoint>>(std::move(up));
    auto errors = std::make_shared<std::string>();
    refresh_from(candidates, 0, errors, /*use_slots=*/false);
  }

  void refresh_from(std::shared_ptr<std::vector<Endpoint>> candidates, size_t i,
                    std::shared_ptr<std::string> errors, bool use_slots) {
    if (closing_) return;
    if (i >= candidates->size()) {
      metrics_.refresh_failures.inc();
      log::warn("redis cluster slot map refresh failed on every node", {{"errors", *errors}});
      return refresh_done();
    }
    const Endpoint target = (*candidates)[i];
    auto conn = connection_for(target);
    Command cmd = use_slots ? Command{"CLUSTER", "SLOTS"} : Command{"CLUSTER", "SHARDS"};
    conn->send(
        std::move(cmd),
        [this, candidates, i, errors, use_slots, target](Result<Value> r, bool) {
          if (closing_) return;
          if (r.ok() && is_unknown_subcommand(*r) && !use_slots) {
            return refresh_from(candidates, i, errors, /*use_slots=*/true);  // pre-7.0 server
          }
          Result<SlotMap> map = !r.ok()     ? Result<SlotMap>(r.error())
                                : use_slots ? SlotMap::from_cluster_slots(*r, target.host)
                                            : SlotMap::from_cluster_shards(*r, target.host);
          if (map.ok() && map->covered_slots() > 0) {
            install_map(std::move(map.value()), target);
            return refresh_done();
          }
          std::string why = map.ok() ? "no slots assigned" : map.error().message;
          *errors += (errors->empty() ? "" : "; ") + target.to_string() + ": " + why;
          refresh_from(candidates, i + 1, errors, false);
        },
        options_.connect_timeout);
  }

  void refresh_done() {
    refresh_in_flight_ = false;
    if (refresh_again_) {
      refresh_again_ = false;
      request_refresh();
    }
  }

  void arm_periodic_refresh() {
    if (options_.topology_refresh_interval.count() <= 0) return;
    periodic_timer_.expires_after(options_.topology_refresh_interval);
    periodic_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || closing_) return;
      request_refresh();
      arm_periodic_refresh();
    });
  }

  // ---- nodes ------------------------------------------------------------------------------

  struct Node {
    Endpoint endpoint;
    std::vector<std::shared_ptr<Connection>> conns;
    size_t next = 0;
  };

  ConnectionOptions connection_options(const Endpoint& e) const {
    ConnectionOptions o;
    o.endpoint = e;
    o.username = url_.username;
    o.password = url_.password;
    o.connect_timeout = options_.connect_timeout;
    // A restarted node or a new master is picked up within a second.
    o.backoff_initial = milliseconds(50);
    o.backoff_max = milliseconds(1000);
    return o;
  }

  // A master that becomes unreachable may be failing over: reload the map from the others.
  // Only while it is a master in the map, so a node that stays dead after its replica took
  // over does not cause a refresh on every reconnect attempt.
  void watch_connection(Connection& c, const Endpoint& e) {
    c.set_state_listener([this, e](Connection::State s) {
      if (s == Connection::State::kBackoff && is_master(*map_snapshot(), e)) request_refresh();
    });
  }

  // IO thread. The entry of node `e`, created on first use (without connections).
  Node& node_for(const Endpoint& e) {
    auto [it, inserted] = nodes_.try_emplace(e.to_string());
    if (inserted) it->second.endpoint = e;
    return it->second;
  }

  // IO thread. The node's connections, created (and started) on first use; commands sent
  // while one connects queue in it, and fail fast (unwritten) while it backs off.
  std::shared_ptr<Connection> connection_for(const Endpoint& e) {
    Node& node = node_for(e);
    Connection& c = pick_connection(node);
    return c.shared_from_this();
  }

  Connection& pick_connection(Node& node) {
    if (node.conns.empty()) {
      int n = std::max(1, options_.connections_per_node);
      for (int i = 0; i < n; ++i) {
        auto c = Connection::create(io_, connection_options(node.endpoint));
        watch_connection(*c, node.endpoint);
        c->start();
        node.conns.push_back(std::move(c));
      }
    }
    const size_t count = node.conns.size();
    if (count == 1) return *node.conns[0];
    // Prefer a ready connection; any one otherwise (it queues or fails fast).
    for (size_t k = 0; k < count; ++k) {
      auto& c = node.conns[(node.next + k) % count];
      if (c->connected()) {
        node.next = (node.next + k + 1) % count;
        return *c;
      }
    }
    return *node.conns[node.next++ % count];
  }

  // Blocking, caller thread: connects to one seed and loads the slot map from it.
  struct Probe {
    Result<void> connected = Ok();
    std::optional<Result<Value>> shards;
    std::optional<Result<Value>> slots;
  };

  Probe probe_seed(const Endpoint& seed) {
    std::promise<Probe> p;
    auto f = p.get_future();
    asio::post(io_, [this, seed, &p] {
      auto conn = Connection::create(io_, connection_options(seed));
      watch_connection(*conn, seed);
      conn->start([this, conn, seed, &p](Result<void> first) {
        if (!first.ok()) {
          conn->close();  // an unreachable seed is not retried in the background
          Probe probe;
          probe.connected = first;
          p.set_value(std::move(probe));
          return;
        }
        node_for(seed).conns.push_back(conn);
        conn->send(
            {"CLUSTER", "SHARDS"},
            [this, conn, &p](Result<Value> r, bool) {
              if (r.ok() && is_unknown_subcommand(*r)) {
                conn->send(
                    {"CLUSTER", "SLOTS"},
                    [&p](Result<Value> r2, bool) {
                      Probe probe;
                      probe.slots = std::move(r2);
                      p.set_value(std::move(probe));
                    },
                    options_.connect_timeout);
                return;
              }
              Probe probe;
              probe.shards = std::move(r);
              p.set_value(std::move(probe));
            },
            options_.connect_timeout);
      });
    });
    // The connection enforces connect_timeout and the command timeout; the extra margin only
    // guards against a bug turning into a hang.
    if (f.wait_for(options_.connect_timeout * 3 + milliseconds(2000)) !=
        std::future_status::ready) {
      Probe probe;
      probe.connected = Error::make("redis at " + seed.to_string() + " did not answer in time",
                                    error_kind::kTimeout);
      // `p` must outlive the IO thread's use of it: keep waiting, the timeouts fire eventually.
      f.wait();
      return probe;
    }
    return f.get();
  }

  Result<void> bootstrap() {
    std::string failures;
    for (const Endpoint& seed : url_.endpoints) {
      Probe probe = probe_seed(seed);
      if (!probe.connected.ok()) {
        const Error& e = probe.connected.error();
        if (e.kind == error_kind::kAuth) {
          return Error::make(
              "redis cluster: authentication failed at " + seed.to_string() + ": " + e.message,
              error_kind::kAuth);
        }
        failures += (failures.empty() ? "" : "; ") + e.message;
        continue;
      }
      const Result<Value>& reply = probe.shards ? *probe.shards : *probe.slots;
      if (!reply.ok()) {
        failures +=
            (failures.empty() ? "" : "; ") + seed.to_string() + ": " + reply.error().message;
        continue;
      }
      if (is_cluster_disabled(*reply)) {
        return Error::make(
            "node " + seed.to_string() + " is not in cluster mode (cluster_enabled:0)", "config");
      }
      if (reply->is_error() &&
          (reply->str.starts_with("NOAUTH") || reply->str.starts_with("WRONGPASS"))) {
        return Error::make(
            "redis cluster: authentication failed at " + seed.to_string() + ": " + reply->str,
            error_kind::kAuth);
      }
      auto map = probe.shards ? SlotMap::from_cluster_shards(*reply, seed.host)
                              : SlotMap::from_cluster_slots(*reply, seed.host);
      if (!map.ok()) {
        failures += (failures.empty() ? "" : "; ") + seed.to_string() + ": " + map.error().message;
        continue;
      }
      if (map->covered_slots() == 0) {
        return Error::make("redis cluster at " + seed.to_string() + " has no slots assigned",
                           "config");
      }
      if (map->covered_slots() < kSlotCount) {
        log::warn(
            "redis cluster does not cover every slot",
            {{"seed", seed.to_string()}, {"covered_slots", std::to_string(map->covered_slots())}});
      }
      refreshes_.fetch_add(1, std::memory_order_relaxed);
      metrics_.refreshes.inc();
      std::promise<void> installed;
      asio::post(io_, [this, &installed, m = std::move(map.value()), seed]() mutable {
        install_map(std::move(m), seed);
        bootstrapped_ = true;
        last_refresh_start_ = Clock::now();
        arm_periodic_refresh();
        installed.set_value();
      });
      installed.get_future().wait();
      return Ok();
    }
    std::string seeds;
    for (const auto& s : url_.endpoints) seeds += (seeds.empty() ? "" : ",") + s.to_string();
    return Error::make(
        "no seed node of the redis cluster is reachable (" + seeds + "): " + failures,
        error_kind::kUnavailable);
  }

  ClusterStats stats() const {
    ClusterStats s;
    s.refreshes = refreshes_.load(std::memory_order_relaxed);
    s.moved = moved_.load(std::memory_order_relaxed);
    s.ask = ask_.load(std::memory_order_relaxed);
    s.retries = retries_.load(std::memory_order_relaxed);
    s.transport_errors = transport_errors_.load(std::memory_order_relaxed);
    return s;
  }

  void post_refresh() {
    asio::post(io_, [this] { request_refresh(); });
  }

 private:
  RedisUrl url_;
  ClientOptions options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // IO-thread state.
  std::unordered_map<std::string, Node> nodes_;
  std::unordered_set<asio::steady_timer*> retry_timers_;
  asio::steady_timer refresh_timer_;
  asio::steady_timer periodic_timer_;
  bool refresh_in_flight_ = false;
  bool refresh_again_ = false;
  bool refresh_timer_armed_ = false;
  bool closing_ = false;
  bool bootstrapped_ = false;  // refreshes start once the seeds gave a first map
  Clock::time_point last_refresh_start_{};
  size_t refresh_rotation_ = 0;
  size_t round_robin_ = 0;
  Metrics& metrics_;
  bool inline_dispatch_ = false;  // exec_async is dispatching on the IO thread
  std::shared_ptr<const SlotMap> io_map_;  // the IO thread's copy of map_
  std::vector<Node*> slot_nodes_;          // slot -> master's node for io_map_; empty: stale
  // Any thread.
  std::atomic<std::shared_ptr<const SlotMap>> map_;
  std::atomic<uint64_t> refreshes_{0}, moved_{0}, ask_{0}, retries_{0}, transport_errors_{0};
  std::thread thread_;
};

ClusterClient::ClusterClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClusterClient::~ClusterClient() { impl_->shutdown(); }

void ClusterClient::exec_async(Command command, Callback done, CommandOptions options) {
  impl_->exec_async(std::move(command), std::move(done), options);
}

ClusterStats ClusterClient::stats() const { return impl_->stats(); }

std::shared_ptr<const SlotMap> ClusterClient::slot_map() const { return impl_->map_snapshot(); }

void ClusterClient::request_refresh() { impl_->post_refresh(); }

Result<void> ClusterClient::scan_from(const ScanFilter& filter, ScanPosition position,
                                      const ScanBatchFn& on_batch) {
  auto map = impl_->map_snapshot();
  for (const Endpoint& start_master : map->masters()) {
    if (position.finished.count(start_master.to_string()) > 0) continue;
    // A slot of this master identifies its shard if a failover replaces the node mid-scan.
    uint16_t probe_slot = 0;
    for (int s = 0; s < kSlotCount; ++s) {
      const Endpoint* m = map->master_for(static_cast<uint16_t>(s));
      if (m != nullptr && *m == start_master) {
        probe_slot = static_cast<uint16_t>(s);
        break;
      }
    }
    Endpoint node = start_master;
    std::string name = node.to_string();
    auto at = position.cursors.find(name);
    std::string cursor = at == position.cursors.end() ? "0" : at->second;
    int restarts = 0;
    for (;;) {
      Command cmd{"SCAN", cursor};
      if (!filter.match.empty()) cmd.insert(cmd.end(), {"MATCH", filter.match});
      if (filter.count > 0) cmd.insert(cmd.end(), {"COUNT", std::to_string(filter.count)});
      if (!filter.type.empty()) cmd.insert(cmd.end(), {"TYPE", filter.type});
      auto r = impl_->exec_on(node, std::move(cmd), CommandOptions{});
      if (!r.ok() || (r->is_error() && r->str.starts_with("LOADING"))) {
        // The node failed: continue on whoever serves its slots now, from the beginning
        // (SCAN cursors are per node; keys may repeat, none is missed).
        if (++restarts > 3) {
          return Error::make(
              "SCAN on " + node.to_string() + " failed: " + (r.ok() ? r->str : r.error().message),
              r.ok() ? "redis" : r.error().kind);
        }
        impl_->post_refresh();
        std::this_thread::sleep_for(milliseconds(200));
        const Endpoint* now = impl_->map_snapshot()->master_for(probe_slot);
        if (now != nullptr && !(*now == node)) {
          position.cursors.erase(name);
          node = *now;
          name = node.to_string();
          cursor = "0";
        }
        continue;
      }
      if (r->is_error())
        return Error::make("SCAN on " + node.to_string() + " failed: " + r->str, "redis");
      if (!r->is_array() || r->elements.size() != 2 || !r->elements[0].is_string() ||
          !r->elements[1].is_array()) {
        return Error::make("SCAN on " + node.to_string() + ": unexpected reply shape",
                           error_kind::kProtocol);
      }
      cursor = r->elements[0].str;
      if (cursor == "0") {
        position.cursors.erase(name);
        position.finished.insert(name);
        // A master that replaced the one this scan started on covers its slots.
        position.finished.insert(start_master.to_string());
      } else {
        position.cursors[name] = cursor;
      }
      std::vector<std::string> keys;
      keys.reserve(r->elements[1].elements.size());
      for (auto& k : r->elements[1].elements) keys.push_back(std::move(k.str));
      if (!keys.empty() && !on_batch(keys, position)) return Ok();
      if (cursor == "0") break;
    }
  }
  return Ok();
}

}  // namespace cluster

Result<std::unique_ptr<Client>> connect_cluster(const RedisUrl& url, const ClientOptions& options) {
  if (url.endpoints.empty()) return Error::make("redis cluster URL without seed nodes", "config");
  auto impl = std::make_shared<cluster::ClusterClient::Impl>(url, options);
  auto r = impl->bootstrap();
  if (!r.ok()) return r.error();
  return std::unique_ptr<Client>(new cluster::ClusterClient(std::move(impl)));
}

}  // namespace suoke::redis
