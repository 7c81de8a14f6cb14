// Internal (includes Asio): the worker pool shared by http::Server and the gateway proxy. Each
// worker is one thread with its own io_context and its own SO_REUSEPORT acceptor per listening
// endpoint, so the kernel spreads connections and nothing on the request path is shared.
//
// Timeouts use a per-worker sweep instead of one Asio timer per operation: arming and
// cancelling a timer per read/write costs heap operations (and timerfd updates) on every
// request, while a sweep over the worker's connections every few milliseconds costs nothing
// per request. Deadlines are therefore accurate to one tick.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "http/server.h"

namespace suoke::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;

inline constexpr TimePoint kNoDeadline = TimePoint::max();

// CLOCK_MONOTONIC as of the last timer tick (up to a few ms behind, a quarter of the cost of
// a precise read): for deadlines and expiry times of seconds, which a request sets several
// of. Latencies use SteadyClock, whose clock this is.
inline TimePoint coarse_now() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return TimePoint(std::chrono::duration_cast<SteadyClock::duration>(
      std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
}

class Worker;

// A connection registered with its worker: the sweep calls on_deadline() once `deadline` has
// passed, and a graceful stop calls on_drain(). Both run on the worker's thread.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void on_deadline() = 0;
  // Close now when idle between requests; otherwise close after the current response.
  virtual void on_drain() = 0;
  // Close immediately (stop deadline reached).
  virtual void on_abort() = 0;

  TimePoint deadline = kNoDeadline;

 private:
  friend class Worker;
  Connection* prev_ = nullptr;
  Connection* next_ = nullptr;
  bool linked_ = false;
};

// Kong's connection states, tracked per connection so the gauges stay exact.
enum class ConnState : uint8_t { kNone, kReading, kWriting, kWaiting };

// Written only by the owning worker thread (relaxed load+store instead of a locked RMW);
// read by counters() from any thread.
struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> handled{0};
  std::atomic<uint64_t> active{0};
  std::atomic<uint64_t> reading{0};
  std::atomic<uint64_t> writing{0};
  std::atomic<uint64_t> waiting{0};
  std::atomic<uint64_t> requests{0};

  static void bump(std::atomic<uint64_t>& c, int64_t delta = 1) {
    c.store(c.load(std::memory_order_relaxed) + static_cast<uint64_t>(delta),
            std::memory_order_relaxed);
  }
};

class Worker {
 public:
  Worker(std::size_t index, std::chrono::milliseconds tick);
  ~Worker();

  std::size_t index() const { return index_; }
  asio::io_context& io() { return io_; }
  WorkerCounters& counters() { return counters_; }
  bool draining() const { return draining_; }

  void add(Connection* c);
  void remove(Connection* c);

  // Moves a connection between Kong's reading/writing/waiting gauges.
  void set_state(ConnState& current, ConnState next);

 private:
  friend class WorkerPool;
  void start_sweep();
  void sweep();
  void drain();
  void abort_all();

  std::size_t index_;
  std::chrono::milliseconds tick_;
  Connection* head_ = nullptr;
  std::size_t count_ = 0;
  bool draining_ = false;
  WorkerCounters counters_;
  // Declared after the connection list: destroying the io_context destroys pending handlers,
  // which release sessions, which unlink themselves from the list.
  // One thread runs it and every socket and timer on it is used from that thread only, so
  // the reactor needs no per-descriptor lock (cross-thread posts still lock the scheduler).
  asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  asio::steady_timer sweep_timer_{io_};
  std::thread thread_;
};

// Receives each accepted socket on the worker that accepted it.
class AcceptHandler {
 public:
  virtual ~AcceptHandler() = default;
  virtual void on_accept(Worker& worker, tcp::socket socket) = 0;
};

class WorkerPool {
 public:
  WorkerPool(std::string name, std::chrono::milliseconds tick);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Binds one acceptor now (so the port is known and bind errors surface here); start()
  // opens the other workers' acceptors on the same address and port.
  Result<uint16_t> listen(const Endpoint& endpoint);
  Result<void> start(int workers, AcceptHandler* handler);
  // start() in two steps, for owners that need every worker's io_context before the first
  // accept: create_workers() opens the acceptors, run() starts the threads.
  Result<void> create_workers(int workers);
  Result<void> run(AcceptHandler* handler);
  void stop(std::chrono::milliseconds deadline);

  uint16_t port() const { return first_port_; }
  ServerCounters counters() const;
  std::size_t size() const { return workers_.size(); }
  Worker& worker(std::size_t i) { return *workers_[i]; }

 private:
  Result<void> open_acceptor(Worker& w, const tcp::endpoint& ep);
  void accept_loop(Worker& w, tcp::acceptor& acceptor);

  std::string name_;
  std::chrono::milliseconds tick_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<tcp::endpoint> bound_;
  AcceptHandler* handler_ = nullptr;
  uint16_t first_port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace suoke::http
