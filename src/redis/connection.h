// One TCP connection to one Redis server, driven by the caller's io_context (the layer the
// standalone and cluster clients are built on; userver's redis "connection").
//
// - Pipelining: any number of commands in flight, replies matched FIFO. Commands sent while
//   a write is in flight (or in the same io_context turn) go out together in the next write.
// - Per-command timeout. A command that times out after it was written makes the
//   connection useless (its reply would be taken for the next command's), so the connection
//   is closed: the timed-out command fails with kind "timeout", every other written command
//   with "connection_lost", each reporting written=true; unwritten commands stay queued for
//   the reconnect.
// - Handshake on every (re)connect: HELLO 3 (optional) / AUTH [user] pass, SELECT db, PING.
//   Commands queue until it completes; a rejected AUTH ("WRONGPASS ...", "NOAUTH ...") fails
//   the attempt with the server's words.
// - Reconnect with exponential backoff and full jitter. While backing off, commands fail
//   at once with kind "unavailable" (written=false) instead of piling up.
//
// Threading: every method except state()/connected()/endpoint() must be called on the
// io_context's thread; handlers run there too. Never run more than one thread on that
// io_context. Handlers are never invoked from inside send() (failures are posted).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "redis/client.h"
#include "redis/resp/parser.h"
#include "redis/url.h"

namespace suoke::redis {

// Error::kind values of a failed command (Result error, not a server error reply).
namespace error_kind {
inline constexpr const char* kTimeout = "timeout";  // no reply within the command's timeout
inline constexpr const char* kConnectionLost =
    "connection_lost";                                      // connection dropped while pending
inline constexpr const char* kUnavailable = "unavailable";  // not connected: never sent
inline constexpr const char* kClosed = "closed";      // Connection::close() / client shut down
inline constexpr const char* kAuth = "auth";          // handshake rejected (AUTH/HELLO/SELECT)
inline constexpr const char* kProtocol = "protocol";  // malformed reply stream
}  // namespace error_kind

struct ConnectionOptions {
  Endpoint endpoint;
  std::string username;  // ACL user; empty: "default"
  std::string password;  // empty: no AUTH
  int db = 0;
  bool resp3 = false;  // HELLO 3: RESP3 replies (maps, doubles, push messages)
  // Covers resolve + TCP connect + handshake.
  std::chrono::milliseconds connect_timeout{2000};
  bool reconnect = true;
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  resp::ParserLimits limits;
};

// `written`: the command was handed to the socket, so the server may have executed it even
// when the result is an error. Unwritten commands are always safe to retry.
using ReplyHandler = std::function<void(Result<Value> reply, bool written)>;

// Delay before reconnect attempt `attempt` (1-based): uniform in [d/2, d] where
// d = min(max, initial * 2^(attempt-1)); `random` is any 64-bit random number.
std::chrono::milliseconds backoff_delay(int attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, uint64_t random);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class State {
    kIdle,        // created, start() not called
    kConnecting,  // resolving, connecting or handshaking; commands queue
    kReady,
    kBackoff,  // waiting to reconnect; commands fail fast
    kClosed,   // close() called, or a failed attempt with reconnect off
  };

  static std::shared_ptr<Connection> create(boost::asio::io_context& io, ConnectionOptions options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts connecting. `on_first_attempt` runs once: Ok when the first handshake succeeded,
  // else that attempt's error ("cannot connect to redis at h:p: Connection refused",
  // "... timed out after 2000 ms", "redis at h:p rejected AUTH: WRONGPASS ..."). Later
  // reconnects happen in the background (options.reconnect).
  void start(std::function<void(Result<void>)> on_first_attempt = {});

  // Queues `command`; `done` runs exactly once with the reply (error replies included) or a
  // failure (see error_kind).
  void send(Command command, ReplyHandler done, std::chrono::milliseconds timeout);
  // ASKING immediately followed by `command` on this connection, nothing in between (the
  // ASK redirect protocol). `done` gets the command's reply; ASKING's "+OK" is swallowed.
  void send_asking(Command command, ReplyHandler done, std::chrono::milliseconds timeout);
  // The same, for a command the caller keeps (e.g. for a retry): it is encoded straight from
  // `command`, which must not change until `done` has run; no copy is made.
  void send(std::shared_ptr<const Command> command, ReplyHandler done,
            std::chrono::milliseconds timeout);
  void send_asking(std::shared_ptr<const Command> command, ReplyHandler done,
                   std::chrono::milliseconds timeout);

  // Fails everything pending with kind "closed" and stops reconnecting. Idempotent.
  void close();

  // Any thread.
  State state() const { return state_.load(std::memory_order_acquire); }
  bool connected() const { return state() == State::kReady; }
  const Endpoint& endpoint() const { return options_.endpoint; }

  // IO thread only.
  std::size_t pending() const { return queued_.size() + inflight_.size(); }
  // The last connect/handshake/IO error, for messages such as "redis unavailable: ...".
  const std::string& last_error() const { return last_error_; }
  // RESP3 push messages (pub/sub, client tracking); dropped when unset.
  void set_push_handler(std::function<void(Value)> handler) { push_handler_ = std::move(handler); }
  // Called on each state change, on the IO thread.
  void set_state_listener(std::function<void(State)> listener) {
    state_listener_ = std::move(listener);
  }

 private:
  using Clock = std::chrono::steady_clock;
  struct Pending {
    Command command;                        // cleared once encoded
    std::shared_ptr<const Command> shared;  // instead of `command`: the caller's, kept as is
    std::string name;   // command name, for messages (empty: taken from `shared`)
    ReplyHandler done;  // empty for internal commands whose reply is ignored
    Clock::time_point deadline;
    bool internal = false;  // handshake / ASKING: never reported to callers as a separate result
  };

  Connection(boost::asio::io_context& io, ConnectionOptions options);

  void set_state(State s);
  void connect_attempt();
  void on_connected(uint64_t gen);
  void on_handshake_reply(uint64_t gen, const std::string& step, Result<Value> reply, bool last);
  void on_ready();
  void attempt_failed(Error error);
  void connection_lost(Error error);
  void schedule_reconnect();
  // Closes the socket and fails written commands with `error`; returns their handlers.
  void teardown(const Error& error, std::vector<std::function<void()>>* calls);
  void fail_queued(const Error& error, std::vector<std::function<void()>>* calls);
  static Pending owned(Command command, ReplyHandler done);
  static Pending kept(std::shared_ptr<const Command> command, ReplyHandler done);
  // Queues `pending` (after an ASKING when `asking`), or fails it as refuse() says.
  void submit(Pending pending, std::chrono::milliseconds timeout, bool asking);
  void enqueue(Pending pending);
  void schedule_flush();
  void flush();
  void start_read();
  void on_read(uint64_t gen, std::size_t n);
  void arm_deadline(Clock::time_point deadline);
  void on_deadline();
  void post_failure(ReplyHandler done, Error error);
  // Fails `done` as send() does when the connection cannot take commands; false otherwise.
  bool refuse(ReplyHandler& done);
  static std::string name_of(const Pending& p);

  boost::asio::io_context& io_;
  ConnectionOptions options_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::steady_timer backoff_timer_;
  boost::asio::steady_timer deadline_timer_;
  Clock::time_point armed_deadline_ = Clock::time_point::max();
  std::atomic<State> state_{State::kIdle};
  uint64_t generation_ = 0;  // bumped per socket; stale handlers compare and bail
  resp::Parser parser_;
  std::deque<Pending> queued_;    // not yet written
  std::deque<Pending> inflight_;  // written, awaiting replies in order
  std::string write_buf_;
  bool writing_ = false;
  bool flush_scheduled_ = false;
  bool closed_ = false;
  bool ever_ready_ = false;
  int attempt_ = 0;
  Clock::time_point ready_since_;
  std::function<void(Result<void>)> on_first_attempt_;
  std::string last_error_;
  std::function<void(Value)> push_handler_;
  std::function<void(State)> state_listener_;
  uint64_t rng_state_;
};

}  // namespace suoke::redis
