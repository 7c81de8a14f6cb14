#include "redis/connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <random>

#include "core/log.h"
#include "redis/resp/encoder.h"
#include "telemetry/metrics.h"

namespace suoke::redis {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Metrics {
  telemetry::Counter& connect_failures;
  telemetry::Counter& reconnects;
  telemetry::Counter& timeouts;
  telemetry::Counter& lost;

  static Metrics& get() {
    auto& r = telemetry::Registry::global();
    static Metrics m{
        r.counter("suoke_redis_connect_failures_total",
                  "Failed Redis connection attempts (connect or handshake)"),
        r.counter("suoke_redis_reconnects_total", "Redis connections re-established after a loss"),
        r.counter("suoke_redis_command_timeouts_total", "Redis commands failed by their timeout"),
        r.counter("suoke_redis_connections_lost_total", "Redis connections dropped while in use"),
    };
    return m;
  }
};

uint64_t splitmix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string upper_name(const Command& c) {
  std::string name = c.empty() ? std::string() : c[0].substr(0, 32);
  for (char& ch : name) {
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
  }
  return name;
}

}  // namespace

std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, uint64_t random) {
  int64_t d = std::max<int64_t>(1, initial.count());
  for (int i = 1; i < attempt && d < max.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, std::max<int64_t>(1, max.count()));
  // Jitter in [d/2, d] so that many clients do not reconnect in lockstep after a restart.
  int64_t half = d / 2;
  return std::chrono::milliseconds(
      half + static_cast<int64_t>(random % static_cast<uint64_t>(d - half + 1)));
}

std::shared_ptr<Connection> Connection::create(asio::io_context& io, ConnectionOptions options) {
  return std::shared_ptr<Connection>(new Connection(io, std::move(options)));
}

Connection::Connection(asio::io_context& io, ConnectionOptions options)
    : io_(io),
      options_(std::move(options)),
      resolver_(io),
      socket_(io),
      connect_timer_(io),
      backoff_timer_(io),
      deadline_timer_(io),
      parser_(options_.limits),
      rng_state_(std::random_device{}()) {}

Connection::~Connection() = default;

void Connection::set_state(State s) {
  if (state_.exchange(s, std::memory_order_acq_rel) != s && state_listener_) state_listener_(s);
}

void Connection::start(std::function<void(Result<void>)> on_first_attempt) {
  if (state() != State::kIdle) return;
  on_first_attempt_ = std::move(on_first_attempt);
  connect_attempt();
}

void Connection::connect_attempt() {
  set_state(State::kConnecting);
  const uint64_t gen = ++generation_;
  parser_.reset();
  auto self = shared_from_this();
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([this, self, gen](boost::system::error_code ec) {
    if (ec || gen != generation_ || state() != State::kConnecting) return;
    attempt_failed(Error::make("cannot connect to redis at " + options_.endpoint.to_string() +
                                   ": timed out after " +
                                   std::to_string(options_.connect_timeout.count()) + " ms",
                               error_kind::kUnavailable));
  });
  resolver_.async_resolve(
      options_.endpoint.host, std::to_string(options_.endpoint.port),
      [this, self, gen](boost::system::error_code ec, tcp::resolver::results_type results) {
        if (gen != generation_) return;
        if (ec) {
          attempt_failed(Error::make(
              "cannot resolve redis host '" + options_.endpoint.host + "': " + ec.message(),
              error_kind::kUnavailable));
          return;
        }
        asio::async_connect(
            socket_, results,
            [this, self, gen](boost::system::error_code ec, const tcp::endpoint&) {
              if (gen != generation_) return;
              if (ec) {
                attempt_failed(Error::make("cannot connect to redis at " +
                                               options_.endpoint.to_string() + ": " + ec.message(),
                                           error_kind::kUnavailable));
                return;
              }
              on_connected(gen);
            });
      });
}

void Connection::on_connected(uint64_t gen) {
  boost::system::error_code ignored;
  // Small request/response writes must not wait for Nagle.
  socket_.set_option(tcp::no_delay(true), ignored);

  std::vector<std::pair<std::string, Command>> steps;
  if (options_.resp3) {
    Command hello{"HELLO", "3"};
    if (!options_.password.empty()) {
      hello.insert(hello.end(), {"AUTH", options_.username.empty() ? "default" : options_.username,
                                 options_.password});
    }
    steps.emplace_back("HELLO 3", std::move(hello));
  } else if (!options_.password.empty()) {
    Command auth{"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    steps.emplace_back("AUTH", std::move(auth));
  }
  if (options_.db != 0)
    steps.emplace_back("SELECT " + std::to_string(options_.db),
                       Command{"SELECT", std::to_string(options_.db)});
  // PING proves the server speaks RESP and, without a password, that it does not need one.
  steps.emplace_back("PING", Command{"PING"});

  // The handshake goes out as one write, ahead of any queued command.
  write_buf_.clear();
  auto self = shared_from_this();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    resp::append_command(&write_buf_, steps[i].second);
    Pending p;
    p.name = steps[i].first;
    p.internal = true;
    p.deadline = Clock::time_point::max();  // the connect timer covers the handshake
    bool last = i + 1 == steps.size();
    p.done = [this, self, gen, step = steps[i].first, last](Result<Value> reply, bool) {
      on_handshake_reply(gen, step, std::move(reply), last);
    };
    inflight_.push_back(std::move(p));
  }
  writing_ = true;
  asio::async_write(
      socket_, asio::buffer(write_buf_),
      [this, self, gen](boost::system::error_code ec, std::size_t) {
        if (gen != generation_) return;
        writing_ = false;
        if (ec) {
          attempt_failed(Error::make(
              "cannot connect to redis at " + options_.endpoint.to_string() + ": " + ec.message(),
              error_kind::kUnavailable));
        }
      });
  start_read();
}

void Connection::on_handshake_reply(uint64_t gen, const std::string& step, Result<Value> reply,
                                    bool last) {
  if (gen != generation_ || !reply.ok()) return;  // teardown reports the failure itself
  if (reply->is_error()) {
    const std::string& text = reply->str;
    std::string what =
        step == "PING" && text.rfind("NOAUTH", 0) == 0 ? "requires a password" : "rejected " + step;
    attempt_failed(Error::make(
        "redis at " + options_.endpoint.to_string() + " " + what + ": " + text, error_kind::kAuth));
    return;
  }
  if (last) on_ready();
}

void Connection::on_ready() {
  connect_timer_.cancel();
  const bool was_reconnect = ever_ready_;
  ever_ready_ = true;
  attempt_ = 0;
  ready_since_ = Clock::now();
  set_state(State::kReady);
  if (on_first_attempt_) {
    auto cb = std::move(on_first_attempt_);
    on_first_attempt_ = nullptr;
    cb(Ok());
  } else if (was_reconnect) {
    Metrics::get().reconnects.inc();
    log::info("redis reconnected", {{"endpoint", options_.endpoint.to_string()}});
  }
  flush();
}

void Connection::attempt_failed(Error error) {
  if (closed_) return;
  Metrics::get().connect_failures.inc();
  last_error_ = error.message;
  std::vector<std::function<void()>> calls;
  teardown(error, &calls);
  if (on_first_attempt_) {
    // The caller is waiting for this very attempt: no silent retries behind its back.
    auto cb = std::move(on_first_attempt_);
    on_first_attempt_ = nullptr;
    fail_queued(error, &calls);
    set_state(options_.reconnect ? State::kBackoff : State::kClosed);
    if (options_.reconnect) schedule_reconnect();
    for (auto& c : calls) c();
    cb(error);
    return;
  }
  if (attempt_ <= 1)
    log::warn("redis connect failed",
              {{"endpoint", options_.endpoint.to_string()}, {"error", error.message}});
  Error unavailable =
      Error::make("redis at " + options_.endpoint.to_string() + " is unavailable: " + error.message,
                  error_kind::kUnavailable);
  fail_queued(unavailable, &calls);
  if (options_.reconnect) {
    set_state(State::kBackoff);
    schedule_reconnect();
  } else {
    set_state(State::kClosed);
  }
  for (auto& c : calls) c();
}

void Connection::connection_lost(Error error) {
  if (closed_) return;
  Metrics::get().lost.inc();
  last_error_ = error.message;
  log::warn("redis connection lost",
            {{"endpoint", options_.endpoint.to_string()}, {"error", error.message}});
  std::vector<std::function<void()>> calls;
  teardown(error, &calls);
  if (!options_.reconnect) {
    fail_queued(error, &calls);
    set_state(State::kClosed);
  } else if (Clock::now() - ready_since_ >= std::chrono::seconds(1)) {
    // A connection that served for a while is retried at once (the usual case: one broken
    // socket, or a timeout we closed ourselves); unwritten commands wait for it.
    attempt_ = 1;
    connect_attempt();
  } else {
    // It died right after connecting: back off, or a flapping server gets a reconnect storm.
    attempt_ = std::max(attempt_, 1);
    fail_queued(Error::make("redis at " + options_.endpoint.to_string() +
                                " is unavailable: " + error.message,
                            error_kind::kUnavailable),
                &calls);
    set_state(State::kBackoff);
    schedule_reconnect();
  }
  for (auto& c : calls) c();
}

void Connection::schedule_reconnect() {
  ++attempt_;
  auto delay = backoff_delay(attempt_, options_.backoff_initial, options_.backoff_max,
                             splitmix(&rng_state_));
  auto self = shared_from_this();
  backoff_timer_.expires_after(delay);
  backoff_timer_.async_wait([this, self](boost::system::error_code ec) {
    if (ec || closed_ || state() != State::kBackoff) return;
    connect_attempt();
  });
}

void Connection::teardown(const Error& error, std::vector<std::function<void()>>* calls) {
  ++generation_;
  boost::system::error_code ignored;
  resolver_.cancel();
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  connect_timer_.cancel();
  writing_ = false;
  write_buf_.clear();
  parser_.reset();
  std::deque<Pending> inflight;
  inflight.swap(inflight_);
  for (auto& p : inflight) {
    if (p.internal || !p.done) continue;
    calls->push_back([done = std::move(p.done), error] { done(error, true); });
  }
}

void Connection::fail_queued(const Error& error, std::vector<std::function<void()>>* calls) {
  std::deque<Pending> queued;
  queued.swap(queued_);
  for (auto& p : queued) {
    if (!p.done || p.internal) continue;
    calls->push_back([done = std::move(p.done), error] { done(error, false); });
  }
}

void Connection::close() {
  if (closed_) return;
  closed_ = true;
  std::vector<std::function<void()>> calls;
  Error error = Error::make("redis connection to " + options_.endpoint.to_string() + " closed",
                            error_kind::kClosed);
  teardown(error, &calls);
  fail_queued(error, &calls);
  backoff_timer_.cancel();
  deadline_timer_.cancel();
  armed_deadline_ = Clock::time_point::max();
  set_state(State::kClosed);
  if (on_first_attempt_) {
    auto cb = std::move(on_first_attempt_);
    on_first_attempt_ = nullptr;
    calls.push_back([cb = std::move(cb), error] { cb(error); });
  }
  for (auto& c : calls) c();
}

void Connection::post_failure(ReplyHandler done, Error error) {
  asio::post(io_, [done = std::move(done), error = std::move(error)] { done(error, false); });
}

bool Connection::refuse(ReplyHandler& done) {
  State s = state();
  if (s == State::kClosed || s == State::kIdle) {
    post_failure(std::move(done),
                 Error::make("redis connection to " + options_.endpoint.to_string() + " is closed",
                             error_kind::kClosed));
    return true;
  }
  if (s == State::kBackoff) {
    post_failure(std::move(done), Error::make("redis at " + options_.endpoint.to_string() +
                                                  " is unavailable: " + last_error_,
                                              error_kind::kUnavailable));
    return true;
  }
  return false;
}

std::string Connection::name_of(const Pending& p) {
  if (!p.name.empty() || !p.shared) return p.name;
  return upper_name(*p.shared);
}

Connection::Pending Connection::owned(Command command, ReplyHandler done) {
  Pending p;
  p.name = upper_name(command);
  p.command = std::move(command);
  p.done = std::move(done);
  return p;
}

Connection::Pending Connection::kept(std::shared_ptr<const Command> command, ReplyHandler done) {
  Pending p;
  p.shared = std::move(command);
  p.done = std::move(done);
  return p;
}

void Connection::submit(Pending pending, std::chrono::milliseconds timeout, bool asking) {
  if (refuse(pending.done)) return;
  pending.deadline = Clock::now() + timeout;
  if (asking) {
    Pending ask;
    ask.name = "ASKING";
    ask.command = Command{"ASKING"};
    ask.internal = true;
    ask.deadline = pending.deadline;
    enqueue(std::move(ask));
  }
  enqueue(std::move(pending));
}

void Connection::send(Command command, ReplyHandler done, std::chrono::milliseconds timeout) {
  submit(owned(std::move(command), std::move(done)), timeout, false);
}

void Connection::send(std::shared_ptr<const Command> command, ReplyHandler done,
                      std::chrono::milliseconds timeout) {
  submit(kept(std::move(command), std::move(done)), timeout, false);
}

void Connection::send_asking(Command command, ReplyHandler done,
                             std::chrono::milliseconds timeout) {
  submit(owned(std::move(command), std::move(done)), timeout, true);
}

void Connection::send_asking(std::shared_ptr<const Command> command, ReplyHandler done,
                             std::chrono::milliseconds timeout) {
  submit(kept(std::move(command), std::move(done)), timeout, true);
}

void Connection::enqueue(Pending pending) {
  arm_deadline(pending.deadline);
  queued_.push_back(std::move(pending));
  if (state() == State::kReady) schedule_flush();
}

void Connection::schedule_flush() {
  if (writing_ || flush_scheduled_) return;
  // Deferred to the end of this io_context turn so that a burst of send() calls (a pipeline,
  // or many callers' requests handled in one turn) becomes one write.
  flush_scheduled_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->flush_scheduled_ = false;
    self->flush();
  });
}

void Connection::flush() {
  if (state() != State::kReady || writing_ || queued_.empty()) return;
  write_buf_.clear();
  while (!queued_.empty()) {
    Pending& p = queued_.front();
    if (p.shared) {
      resp::append_command(&write_buf_, *p.shared);
    } else {
      resp::append_command(&write_buf_, p.command);
      p.command = Command();
    }
    inflight_.push_back(std::move(p));
    queued_.pop_front();
  }
  writing_ = true;
  const uint64_t gen = generation_;
  asio::async_write(
      socket_, asio::buffer(write_buf_),
      [this, self = shared_from_this(), gen](boost::system::error_code ec, std::size_t) {
        if (gen != generation_) return;
        writing_ = false;
        if (ec) {
          connection_lost(Error::make("redis connection to " + options_.endpoint.to_string() +
                                          " lost: write failed: " + ec.message(),
                                      error_kind::kConnectionLost));
          return;
        }
        // Commands queued during the write go out now, together.
        flush();
      });
}

void Connection::start_read() {
  constexpr std::size_t kReadSize = 16 * 1024;
  const uint64_t gen = generation_;
  socket_.async_read_some(
      asio::buffer(parser_.prepare(kReadSize), kReadSize),
      [this, self = shared_from_this(), gen](boost::system::error_code ec, std::size_t n) {
        if (gen != generation_) return;
        if (ec) {
          Error e = Error::make(
              "redis connection to " + options_.endpoint.to_string() +
                  " lost: " + (ec == asio::error::eof ? "closed by the server" : ec.message()),
              error_kind::kConnectionLost);
          if (state() == State::kConnecting) {
            attempt_failed(Error::make(
                "cannot connect to redis at " + options_.endpoint.to_string() + ": " + e.message,
                error_kind::kUnavailable));
          } else {
            connection_lost(e);
          }
          return;
        }
        on_read(gen, n);
      });
}

void Connection::on_read(uint64_t gen, std::size_t n) {
  parser_.commit(n);
  for (;;) {
    auto r = parser_.next();
    if (!r.ok()) {
      Error e = Error::make(
          "redis connection to " + options_.endpoint.to_string() + " lost: " + r.error().message,
          error_kind::kConnectionLost);
      if (state() == State::kConnecting) {
        attempt_failed(e);
      } else {
        connection_lost(e);
      }
      return;
    }
    if (!r->has_value()) break;
    Value v = std::move(**r);
    if (v.type == Value::Type::kPush) {
      if (push_handler_) push_handler_(std::move(v));
      if (gen != generation_) return;
      continue;
    }
    if (inflight_.empty()) {
      connection_lost(Error::make("redis connection to " + options_.endpoint.to_string() +
                                      " lost: a reply arrived with no command pending",
                                  error_kind::kProtocol));
      return;
    }
    Pending p = std::move(inflight_.front());
    inflight_.pop_front();
    if (p.done) p.done(std::move(v), true);
    // The handler may have closed this connection (or a timeout tore it down).
    if (gen != generation_) return;
  }
  start_read();
}

void Connection::arm_deadline(Clock::time_point deadline) {
  if (deadline >= armed_deadline_) return;
  armed_deadline_ = deadline;
  deadline_timer_.expires_at(deadline);
  deadline_timer_.async_wait([this, self = shared_from_this()](boost::system::error_code ec) {
    if (ec) return;  // re-armed earlier, or closed
    on_deadline();
  });
}

void Connection::on_deadline() {
  armed_deadline_ = Clock::time_point::max();
  if (closed_) return;
  const auto now = Clock::now();
  std::vector<std::function<void()>> calls;
  auto timeout_error = [this](const Pending& p) {
    return Error::make(
        "redis command " + name_of(p) + " timed out on " + options_.endpoint.to_string(),
        error_kind::kTimeout);
  };
  // Unwritten commands simply leave the queue (an ASKING goes with its command: same deadline).
  std::deque<Pending> keep;
  for (auto& p : queued_) {
    if (p.deadline <= now) {
      Metrics::get().timeouts.inc();
      if (p.done && !p.internal)
        calls.push_back([done = std::move(p.done), e = timeout_error(p)] { done(e, false); });
    } else {
      keep.push_back(std::move(p));
    }
  }
  queued_.swap(keep);
  bool expired_written = false;
  for (auto& p : inflight_) {
    if (p.deadline <= now && !p.internal) {
      Metrics::get().timeouts.inc();
      expired_written = true;
      calls.push_back([done = std::move(p.done), e = timeout_error(p)] { done(e, true); });
      p.done = nullptr;
    }
  }
  if (expired_written) {
    // The late reply would be taken for the next command's: this connection is done for.
    Error lost = Error::make("redis connection to " + options_.endpoint.to_string() +
                                 " lost: closed after a command timed out",
                             error_kind::kConnectionLost);
    log::warn("redis command timed out; reconnecting",
              {{"endpoint", options_.endpoint.to_string()}});
    last_error_ = lost.message;
    Metrics::get().lost.inc();
    std::vector<std::function<void()>> lost_calls;
    teardown(lost, &lost_calls);
    calls.insert(calls.end(), std::make_move_iterator(lost_calls.begin()),
                 std::make_move_iterator(lost_calls.end()));
    if (options_.reconnect) {
      // Immediate: the server is probably fine, only this socket's reply order is not.
      attempt_ = 1;
      connect_attempt();
    } else {
      fail_queued(lost, &calls);
      set_state(State::kClosed);
    }
  }
  auto next = Clock::time_point::max();
  for (const auto& p : queued_) next = std::min(next, p.deadline);
  for (const auto& p : inflight_) next = std::min(next, p.deadline);
  if (next != Clock::time_point::max()) arm_deadline(next);
  for (auto& c : calls) c();
}

}  // namespace suoke::redis
