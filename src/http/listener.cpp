#include "http/listener.h"

#include <sys/socket.h>

#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>

#include "core/log.h"

namespace suoke::http {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

Worker::Worker(std::size_t index, std::chrono::milliseconds tick) : index_(index), tick_(tick) {}

Worker::~Worker() {
  // Sessions still alive are destroyed with the io_context below; they only unlink.
  acceptors_.clear();
}

void Worker::add(Connection* c) {
  c->prev_ = nullptr;
  c->next_ = head_;
  if (head_) head_->prev_ = c;
  head_ = c;
  c->linked_ = true;
  ++count_;
}

void Worker::remove(Connection* c) {
  if (!c->linked_) return;
  if (c->prev_)
    c->prev_->next_ = c->next_;
  else
    head_ = c->next_;
  if (c->next_) c->next_->prev_ = c->prev_;
  c->prev_ = c->next_ = nullptr;
  c->linked_ = false;
  --count_;
}

void Worker::set_state(ConnState& current, ConnState next) {
  if (current == next) return;
  auto gauge = [this](ConnState s) -> std::atomic<uint64_t>* {
    switch (s) {
      case ConnState::kReading:
        return &counters_.reading;
      case ConnState::kWriting:
        return &counters_.writing;
      case ConnState::kWaiting:
        return &counters_.waiting;
      default:
        return nullptr;
    }
  };
  if (auto* g = gauge(current)) WorkerCounters::bump(*g, -1);
  if (auto* g = gauge(next)) WorkerCounters::bump(*g, 1);
  current = next;
}

void Worker::start_sweep() {
  sweep_timer_.expires_after(tick_);
  sweep_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    sweep();
    start_sweep();
  });
}

void Worker::sweep() {
  TimePoint now = SteadyClock::now();
  for (Connection* c = head_; c;) {
    Connection* next = c->next_;
    if (c->deadline <= now) {
      c->deadline = kNoDeadline;
      c->on_deadline();
    }
    c = next;
  }
}

void Worker::drain() {
  draining_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ignored;
    a->close(ignored);
  }
  for (Connection* c = head_; c;) {
    Connection* next = c->next_;
    c->on_drain();
    c = next;
  }
}

void Worker::abort_all() {
  for (Connection* c = head_; c;) {
    Connection* next = c->next_;
    c->on_abort();
    c = next;
  }
}

WorkerPool::WorkerPool(std::string name, std::chrono::milliseconds tick)
    : name_(std::move(name)), tick_(tick) {
  workers_.push_back(std::make_unique<Worker>(0, tick_));
}

WorkerPool::~WorkerPool() { stop(std::chrono::milliseconds(0)); }

Result<void> WorkerPool::open_acceptor(Worker& w, const tcp::endpoint& ep) {
  auto acceptor = std::make_unique<tcp::acceptor>(w.io());
  boost::system::error_code ec;
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->set_option(ReusePort(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error::make(name_ + ": cannot listen on " + ep.address().to_string() + ":" +
                           std::to_string(ep.port()) + ": " + ec.message(),
                       "io");
  }
  w.acceptors_.push_back(std::move(acceptor));
  return Ok();
}

Result<uint16_t> WorkerPool::listen(const Endpoint& endpoint) {
  if (started_) return Error::make(name_ + ": listen() after start()", "state");
  boost::system::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) {
    // Host names are resolved once, at bind time (e.g. "localhost").
    asio::io_context tmp;
    tcp::resolver resolver(tmp);
    auto results = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
    if (ec || results.empty()) {
      return Error::make(name_ + ": cannot resolve listen host '" + endpoint.host + "'", "io");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, endpoint.port);
  auto opened = open_acceptor(*workers_[0], ep);
  if (!opened.ok()) return opened.error();
  uint16_t port = workers_[0]->acceptors_.back()->local_endpoint(ec).port();
  if (ec) return Error::make(name_ + ": " + ec.message(), "io");
  ep.port(port);
  bound_.push_back(ep);
  if (first_port_ == 0) first_port_ = port;
  return port;
}

void WorkerPool::accept_loop(Worker& w, tcp::acceptor& acceptor) {
  acceptor.async_accept(
      w.io(), [this, &w, &acceptor](boost::system::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
          // EMFILE and friends: back off briefly instead of spinning on the error.
          log::warn("accept failed", {{"server", name_}, {"error", ec.message()}});
          auto timer = std::make_shared<asio::steady_timer>(w.io(), std::chrono::milliseconds(50));
          timer->async_wait([this, &w, &acceptor, timer](boost::system::error_code) {
            if (acceptor.is_open()) accept_loop(w, acceptor);
          });
          return;
        }
        WorkerCounters::bump(w.counters().accepted);
        WorkerCounters::bump(w.counters().handled);
        socket.set_option(tcp::no_delay(true), ec);
        handler_->on_accept(w, std::move(socket));
        accept_loop(w, acceptor);
      });
}

Result<void> WorkerPool::start(int workers, AcceptHandler* handler) {
  auto created = create_workers(workers);
  if (!created.ok()) return created;
  return run(handler);
}

Result<void> WorkerPool::create_workers(int workers) {
  if (started_ || workers_.size() > 1) return Error::make(name_ + ": already started", "state");
  if (bound_.empty()) return Error::make(name_ + ": start() before listen()", "state");
  if (workers < 1) workers = 1;
  for (int i = 1; i < workers; ++i) {
    workers_.push_back(std::make_unique<Worker>(static_cast<std::size_t>(i), tick_));
    for (const auto& ep : bound_) {
      auto opened = open_acceptor(*workers_.back(), ep);
      if (!opened.ok()) {
        workers_.resize(1);
        return opened.error();
      }
    }
  }
  return Ok();
}

Result<void> WorkerPool::run(AcceptHandler* handler) {
  if (started_) return Error::make(name_ + ": already started", "state");
  if (bound_.empty()) return Error::make(name_ + ": start() before listen()", "state");
  handler_ = handler;
  started_ = true;
  for (auto& w : workers_) {
    Worker* wp = w.get();
    for (auto& a : wp->acceptors_) accept_loop(*wp, *a);
    wp->start_sweep();
    wp->thread_ = std::thread([wp] {
      for (;;) {
        try {
          wp->io().run();
          return;
        } catch (const std::exception& e) {
          // A handler threw: log and keep the worker serving the other connections.
          log::error("worker handler threw", {{"error", e.what()}});
        }
      }
    });
  }
  return Ok();
}

void WorkerPool::stop(std::chrono::milliseconds deadline) {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) {
    for (auto& w : workers_) w->acceptors_.clear();
    return;
  }
  for (auto& w : workers_) {
    Worker* wp = w.get();
    asio::post(wp->io(), [wp] { wp->drain(); });
  }
  auto until = SteadyClock::now() + deadline;
  for (;;) {
    uint64_t active = 0;
    for (auto& w : workers_) active += w->counters().active.load(std::memory_order_relaxed);
    if (active == 0 || SteadyClock::now() >= until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& w : workers_) {
    Worker* wp = w.get();
    asio::post(wp->io(), [wp] {
      wp->abort_all();
      wp->sweep_timer_.cancel();
      wp->io().stop();
    });
  }
  for (auto& w : workers_) {
    if (w->thread_.joinable()) w->thread_.join();
  }
}

ServerCounters WorkerPool::counters() const {
  ServerCounters out;
  for (const auto& w : workers_) {
    const auto& c = w->counters_;
    out.connections_accepted += c.accepted.load(std::memory_order_relaxed);
    out.connections_handled += c.handled.load(std::memory_order_relaxed);
    out.connections_active += c.active.load(std::memory_order_relaxed);
    out.connections_reading += c.reading.load(std::memory_order_relaxed);
    out.connections_writing += c.writing.load(std::memory_order_relaxed);
    out.connections_waiting += c.waiting.load(std::memory_order_relaxed);
    out.total_requests += c.requests.load(std::memory_order_relaxed);
  }
  return out;
}

}  // namespace suoke::http
