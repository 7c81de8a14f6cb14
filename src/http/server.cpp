#include "http/server.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <charconv>
#include <optional>

#include "core/log.h"
#include "http/listener.h"
#include "http/parser.h"

namespace suoke::http {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::chrono::milliseconds kLingerTime{2000};

std::chrono::milliseconds tick_for(const Limits& l) {
  auto smallest = std::min({l.header_timeout, l.keepalive_timeout, l.body_timeout});
  return std::clamp(smallest / 8, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

}  // namespace

namespace {

struct ServerCore {
  std::string name;
  Limits limits;
  Handler handler;
};

class ServerSession : public Connection, public std::enable_shared_from_this<ServerSession> {
 public:
  ServerSession(Worker& w, ServerCore& srv, tcp::socket s)
      : w_(w), srv_(srv), sock_(std::move(s)) {}

  ~ServerSession() override { close(); }

  void start() {
    w_.add(this);
    WorkerCounters::bump(w_.counters().active);
    boost::system::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (!ec) {
      req_.remote_address = ep.address().to_string();
      req_.remote_port = ep.port();
    }
    begin_request(true);
  }

  void on_deadline() override {
    switch (phase_) {
      case Phase::kIdle:
        close();
        break;
      case Phase::kHead:
      case Phase::kBody:
        respond_error(408, kong_message(408));
        break;
      default:
        close();
    }
  }

  void on_drain() override {
    if (phase_ == Phase::kIdle) close();
  }

  void on_abort() override { close(); }

 private:
  enum class Phase { kIdle, kHead, kBody, kHandling, kWriting, kLinger, kClosed };

  void begin_request(bool first) {
    parser_.emplace(headers_, srv_.limits);
    body_.clear();
    parser_->set_sink({&body_, false});
    phase_ = Phase::kIdle;
    continue_sent_ = false;
    w_.set_state(state_, first ? ConnState::kReading : ConnState::kWaiting);
    // The first request's head must arrive within header_timeout of the accept; later ones
    // may idle for keepalive_timeout before their first byte.
    deadline =
        coarse_now() + (first ? srv_.limits.header_timeout : srv_.limits.keepalive_timeout);
    if (first) first_ = true;
    if (in_.size() > 0) {
      parse();
    } else {
      if (w_.draining() && !first) return close();
      do_read();
    }
  }

  void do_read() {
    auto self = shared_from_this();
    sock_.async_read_some(in_.prepare(kReadChunk),
                          [this, self](boost::system::error_code ec, std::size_t n) {
                            if (phase_ == Phase::kClosed || phase_ == Phase::kWriting) return;
                            if (ec) return close();
                            in_.commit(n);
                            parse();
                          });
  }

  void parse() {
    for (;;) {
      if (in_.size() == 0) return do_read();
      if (phase_ == Phase::kIdle) {
        phase_ = Phase::kHead;
        w_.set_state(state_, ConnState::kReading);
        if (!first_) deadline = coarse_now() + srv_.limits.header_timeout;
      }
      beast::error_code ec;
      std::size_t used = parser_->put(in_.data(), ec);
      in_.consume(used);
      if (ec && ec != bhttp::error::need_more) {
        return respond_error(status_for_parse_error(ec), "");
      }
      if (parser_->is_done()) return dispatch();
      if (parser_->is_header_done() && phase_ == Phase::kHead) {
        phase_ = Phase::kBody;
        deadline = coarse_now() + srv_.limits.body_timeout;
        if (parser_->expect_continue() && !continue_sent_) {
          continue_sent_ = true;
          return send_continue();
        }
      } else if (phase_ == Phase::kBody && used > 0) {
        deadline = coarse_now() + srv_.limits.body_timeout;
      }
      if (used == 0 || ec == bhttp::error::need_more) return do_read();
    }
  }

  void send_continue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto self = shared_from_this();
    asio::async_write(sock_, asio::buffer(kContinue.data(), kContinue.size()),
                      [this, self](boost::system::error_code ec, std::size_t) {
                        if (phase_ == Phase::kClosed) return;
                        if (ec) return close();
                        parse();
                      });
  }

  void dispatch() {
    first_ = false;
    phase_ = Phase::kHandling;
    deadline = kNoDeadline;
    w_.set_state(state_, ConnState::kWriting);
    WorkerCounters::bump(w_.counters().requests);

    req_.method.assign(parser_->method_string());
    req_.target.assign(parser_->target());
    req_.headers.clear();
    for (std::size_t i = 0; i < headers_.size(); ++i) {
      req_.headers.emplace_back(headers_.name(i), headers_.value(i));
    }
    req_.body.swap(body_);
    bool keep_alive = parser_->keep_alive() && !w_.draining();
    bool head = parser_->method() == bhttp::verb::head;
    int version = parser_->version();

    Response res;
    try {
      res = srv_.handler(req_);
    } catch (const std::exception& e) {
      log::error("handler threw", {{"server", srv_.name}, {"error", e.what()}});
      res = Response::json(500, "{\"message\":\"An unexpected error occurred\"}");
    }

    out_.clear();
    out_.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    append_uint(out_, static_cast<uint64_t>(res.status));
    out_.push_back(' ');
    out_.append(reason_phrase(res.status));
    out_.append("\r\n");
    for (const auto& [k, v] : res.headers) {
      if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding")) continue;
      if (iequals(k, "Connection")) {
        if (iequals(v, "close")) keep_alive = false;
        continue;
      }
      out_.append(k);
      out_.append(": ");
      out_.append(v);
      out_.append("\r\n");
    }
    bool no_body =
        res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
    if (!no_body) {
      out_.append("Content-Length: ");
      append_uint(out_, res.body.size());
      out_.append("\r\n");
    }
    if (!keep_alive) {
      out_.append("Connection: close\r\n");
    } else if (version == 10) {
      out_.append("Connection: keep-alive\r\n");
    }
    out_.append("\r\n");
    if (!head && !no_body) out_.append(res.body);
    write_out(keep_alive);
  }

  void write_out(bool keep_alive) {
    phase_ = Phase::kWriting;
    deadline = coarse_now() + srv_.limits.body_timeout;
    auto self = shared_from_this();
    asio::async_write(sock_, asio::buffer(out_),
                      [this, self, keep_alive](boost::system::error_code ec, std::size_t) {
                        if (phase_ == Phase::kClosed) return;
                        if (ec) return close();
                        if (!keep_alive || w_.draining()) return finish(!keep_alive_ok_);
                        begin_request(false);
                      });
  }

  // Bad input: answer and close. Unread request bytes would make the kernel send RST, which
  // can destroy the answer before the client reads it, hence the linger.
  void respond_error(int status, std::string_view message) {
    if (phase_ == Phase::kClosed || phase_ == Phase::kWriting || phase_ == Phase::kLinger) return;
    keep_alive_ok_ = false;
    out_.clear();
    append_error_response(out_, status, message.empty() ? kong_message(status) : message, true);
    write_out(false);
  }

  // Request fully read and nothing pipelined: close at once. Otherwise linger.
  void finish(bool unread_input) {
    if (!unread_input && in_.size() == 0) {
      boost::system::error_code ec;
      sock_.shutdown(tcp::socket::shutdown_send, ec);
      return close();
    }
    linger();
  }

  void linger() {
    phase_ = Phase::kLinger;
    w_.set_state(state_, ConnState::kNone);
    boost::system::error_code ec;
    sock_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    deadline = coarse_now() + kLingerTime;
    discard();
  }

  void discard() {
    auto self = shared_from_this();
    in_.clear();
    sock_.async_read_some(in_.prepare(kReadChunk),
                          [this, self](boost::system::error_code ec, std::size_t) {
                            if (phase_ != Phase::kLinger) return;
                            if (ec) return close();
                            discard();
                          });
  }

  void close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    boost::system::error_code ec;
    sock_.close(ec);
    w_.set_state(state_, ConnState::kNone);
    w_.remove(this);
    WorkerCounters::bump(w_.counters().active, -1);
  }

  Worker& w_;
  ServerCore& srv_;
  tcp::socket sock_;
  beast::flat_buffer in_;
  HeaderStore headers_;
  std::optional<RequestParser> parser_;
  std::string body_;
  std::string out_;
  Request req_;
  Phase phase_ = Phase::kIdle;
  ConnState state_ = ConnState::kNone;
  bool continue_sent_ = false;
  bool first_ = true;
  bool keep_alive_ok_ = true;
};

}  // namespace

struct Server::Impl : AcceptHandler {
  Impl(std::string n, Limits l, Handler h)
      : core{std::move(n), l, std::move(h)}, pool(core.name, tick_for(l)) {}
  void on_accept(Worker& worker, tcp::socket socket) override {
    std::make_shared<ServerSession>(worker, core, std::move(socket))->start();
  }

  ServerCore core;
  WorkerPool pool;
};

Server::Server(std::string name, Limits limits, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(name), limits, std::move(handler))) {}

Server::~Server() { stop(std::chrono::milliseconds(0)); }

Result<uint16_t> Server::listen(const Endpoint& endpoint) { return impl_->pool.listen(endpoint); }

Result<void> Server::start(int workers) { return impl_->pool.start(workers, impl_.get()); }

void Server::stop(std::chrono::milliseconds deadline) { impl_->pool.stop(deadline); }

uint16_t Server::port() const { return impl_->pool.port(); }

ServerCounters Server::counters() const { return impl_->pool.counters(); }

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint ep;
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos)
      return Error::make("bad endpoint '" + std::string(text) + "'", "parse");
    host = text.substr(1, close - 1);
    auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return Error::make("bad endpoint '" + std::string(text) + "': missing port", "parse");
    }
    port = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      host = "0.0.0.0";
      port = text;
    } else {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (host.find(':') != std::string_view::npos) {
        return Error::make("bad endpoint '" + std::string(text) + "': IPv6 needs [brackets]",
                           "parse");
      }
      if (host.empty()) host = "0.0.0.0";
    }
  }
  // Kong's listen syntax allows flags after the address ("0.0.0.0:8000 reuseport"); only
  // the address matters here.
  if (auto space = port.find(' '); space != std::string_view::npos) port = port.substr(0, space);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return Error::make("bad port in endpoint '" + std::string(text) + "'", "parse");
  }
  if (host.empty()) return Error::make("bad endpoint '" + std::string(text) + "'", "parse");
  ep.host = std::string(host);
  ep.port = static_cast<uint16_t>(value);
  return ep;
}

}  // namespace suoke::http
