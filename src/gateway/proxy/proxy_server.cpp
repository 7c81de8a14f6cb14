#include "gateway/proxy/proxy_server.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstring>
#include <optional>
#include <random>

#include "core/log.h"
#include "gateway/plugins/chain.h"
#include "gateway/proxy/upstream.h"
#include "gateway/router/router.h"
#include "http/listener.h"
#include "http/parser.h"

namespace suoke::gateway::proxy {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using namespace std::string_view_literals;
using http::ConnState;
using http::HeaderStore;
using http::SteadyClock;
using http::TimePoint;
using http::Worker;
using http::WorkerCounters;

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::chrono::milliseconds kLingerTime{2000};
constexpr std::chrono::milliseconds kTick{10};
// A suspended access phase longer than this closes the connection (a plugin that never
// resumes); plugins bound their own waits well below it.
constexpr std::chrono::seconds kAccessSafetyTimeout{60};

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}

// Builds a message head at the end of a std::string through a raw pointer: one resize to a
// guess up front (grown when short), then plain copies, instead of an out-of-line,
// capacity-checked append() per piece (a proxied request has some 60 pieces). The string
// must not be touched otherwise until the writer is gone; it then has the exact size.
class HeadWriter {
 public:
  HeadWriter(std::string& out, std::size_t guess) : out_(out) {
    const std::size_t at = out_.size();
    out_.resize(at + guess);
    p_ = out_.data() + at;
    end_ = out_.data() + out_.size();
  }
  ~HeadWriter() { out_.resize(size()); }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;

  std::size_t size() const { return static_cast<std::size_t>(p_ - out_.data()); }

  void put(std::string_view s) {
    if (s.empty()) return;  // an empty view may have no data(); memcpy must not see it
    room(s.size());
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void put(char c) {
    room(1);
    *p_++ = c;
  }
  void number(uint64_t v) {
    room(20);
    p_ = std::to_chars(p_, p_ + 20, v).ptr;
  }
  void header(std::string_view name, std::string_view value) {
    room(name.size() + value.size() + 4);
    std::memcpy(p_, name.data(), name.size());
    p_ += name.size();
    std::memcpy(p_, ": ", 2);
    p_ += 2;
    if (!value.empty()) std::memcpy(p_, value.data(), value.size());  // see put()
    p_ += value.size();
    std::memcpy(p_, "\r\n", 2);
    p_ += 2;
  }

 private:
  void room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) grow(n);
  }
  [[gnu::noinline]] void grow(std::size_t n) {
    const std::size_t used = size();
    out_.resize(std::max(out_.size() * 2, used + n));
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  char* p_;
  char* end_;
};

// Room a head of these headers usually takes, for HeadWriter's first guess.
std::size_t head_guess(const HeaderStore& headers) {
  std::size_t n = 256;
  for (std::size_t i = 0; i < headers.size(); ++i)
    n += headers.name(i).size() + headers.value(i).size() + 4;
  return n;
}

// "HTTP/1.x NNN reason\r\n", in the client's version.
void write_status_line(HeadWriter& w, int client_version, int status, std::string_view reason) {
  w.put(client_version == 10 ? "HTTP/1.0 "sv : "HTTP/1.1 "sv);
  w.number(static_cast<uint64_t>(status));
  w.put(' ');
  w.put(reason.empty() ? http::reason_phrase(status) : reason);
  w.put("\r\n"sv);
}

// The Connection line a response needs: close when the connection ends after it,
// keep-alive for an HTTP/1.0 client that keeps it, nothing otherwise.
std::string_view connection_line(bool keep, int client_version) {
  if (!keep) return "Connection: close\r\n"sv;
  return client_version == 10 ? "Connection: keep-alive\r\n"sv : std::string_view{};
}

bool is_hop_by_hop(bhttp::field f) {
  switch (f) {
    case bhttp::field::connection:
    case bhttp::field::keep_alive:
    case bhttp::field::proxy_connection:
    case bhttp::field::te:
    case bhttp::field::trailer:
    case bhttp::field::transfer_encoding:
    case bhttp::field::upgrade:
      return true;
    default:
      return false;
  }
}

// Names listed in a Connection header are hop-by-hop too (RFC 9110 7.6.1).
bool listed_in_connection(std::string_view connection, std::string_view name) {
  while (!connection.empty()) {
    auto comma = connection.find(',');
    auto token = connection.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (http::iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection.remove_prefix(comma + 1);
  }
  return false;
}

bool connection_is_plain(std::string_view v) {
  return v.empty() || http::iequals(v, "keep-alive") || http::iequals(v, "close");
}

// Proxy headers the gateway sets itself; incoming values are not trusted (Kong's default
// trusted_ips is empty), except X-Forwarded-For, which is appended to.
bool is_overridden_request_header(std::string_view name) {
  if (name.size() < 9) return false;
  char c = static_cast<char>(name[0] | 0x20);
  if (c != 'x') return false;
  return http::iequals(name, "x-forwarded-for") || http::iequals(name, "x-forwarded-proto") ||
         http::iequals(name, "x-forwarded-host") || http::iequals(name, "x-forwarded-port") ||
         http::iequals(name, "x-forwarded-path") || http::iequals(name, "x-forwarded-prefix") ||
         http::iequals(name, "x-real-ip") || http::iequals(name, "x-request-id");
}

bool in_list(const http::HeaderList& list, std::string_view name) {
  for (const auto& [k, v] : list) {
    if (http::iequals(k, name)) return true;
  }
  return false;
}

// Appends the "Name: value\r\n" lines of `lines` to `out`.
void add_lines_to_head(std::string_view lines, http::HeaderList& out) {
  while (!lines.empty()) {
    auto eol = lines.find("\r\n");
    std::string_view line = lines.substr(0, eol);
    auto colon = line.find(": ");
    if (colon != std::string_view::npos)
      out.emplace_back(line.substr(0, colon), line.substr(colon + 2));
    if (eol == std::string_view::npos) break;
    lines.remove_prefix(eol + 2);
  }
}

class StoreView : public HeaderView {
 public:
  explicit StoreView(const HeaderStore& s) : s_(s) {}
  std::size_t size() const override { return s_.size(); }
  std::string_view name(std::size_t i) const override { return s_.name(i); }
  std::string_view value(std::size_t i) const override { return s_.value(i); }
  std::string_view get(std::string_view n) const override { return s_.find(n); }

 private:
  const HeaderStore& s_;
};

}  // namespace

struct ProxyCore {
  ProxyOptions options;
  const SnapshotHolder& holder;
  std::vector<std::unique_ptr<WorkerState>> workers;
  http::Limits upstream_limits;
};

namespace {

void make_request_id(WorkerState& ws, std::string& out) {
  // xorshift128+: a uuid per request from std::random_device or mt19937 would cost more
  // than the rest of the request head; ids need uniqueness, not secrecy.
  uint64_t* s = ws.request_id_state;
  auto next = [s]() {
    uint64_t s1 = s[0];
    const uint64_t s0 = s[1];
    s[0] = s0;
    s1 ^= s1 << 23;
    s[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return s[1] + s0;
  };
  uint64_t hi = next(), lo = next();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  static constexpr char kHex[] = "0123456789abcdef";
  out.assign(36, '-');
  int pos = 0;
  for (uint64_t word : {hi, lo}) {
    for (int shift = 60; shift >= 0; shift -= 4) {
      if (pos == 8 || pos == 13 || pos == 18 || pos == 23) ++pos;
      out[pos++] = kHex[(word >> shift) & 0xF];
    }
  }
}

class ProxySession : public http::Connection,
                     public plugins::Suspender,
                     public std::enable_shared_from_this<ProxySession> {
 public:
  ProxySession(Worker& w, ProxyCore& core, tcp::socket s)
      : w_(w), core_(core), ws_(*core.workers[w.index()]), client_(std::move(s)) {}

  ~ProxySession() override { close(true); }

  void start() {
    w_.add(this);
    WorkerCounters::bump(w_.counters().active);
    boost::system::error_code ec;
    auto remote = client_.remote_endpoint(ec);
    if (!ec) client_ip_ = remote.address().to_string();
    auto local = client_.local_endpoint(ec);
    if (!ec) {
      local_port_.clear();
      append_uint(local_port_, local.port());
    }
    request_id_.reserve(40);
    key_.reserve(64);
    begin_request(true);
  }

  void on_deadline() override {
    switch (phase_) {
      case Phase::kIdle:
        return close();
      case Phase::kHead:
      case Phase::kReqBody:
        return send_error(408, http::kong_message(408));
      case Phase::kConnect:
        // Still resolving the service's host name.
        if (!up_) return send_error(504, http::kong_message(504));
        [[fallthrough]];
      case Phase::kUpWrite:
      case Phase::kUpRead:
      case Phase::kRespBody:
        timed_out_ = true;
        if (up_) {
          boost::system::error_code ec;
          up_->sock.close(ec);
        }
        return;
      default:
        return close();
    }
  }

  void on_drain() override {
    if (phase_ == Phase::kIdle) close();
  }

  void on_abort() override { close(); }

  // Async access (plugins::Resumer): the resumer holds the session weakly and posts the
  // continuation onto this session's worker. While suspended the session keeps itself alive
  // (suspend_hold_, no I/O is pending then); close() drops that hold, so a continuation that
  // arrives later finds the session gone or closed and does nothing. The generation tells a
  // stale resumer (an earlier suspension) from the current one.
  plugins::Resumer make_resumer() override {
    std::weak_ptr<ProxySession> weak = weak_from_this();
    auto exec = client_.get_executor();
    uint64_t gen = ++suspend_gen_;
    auto fired = std::make_shared<std::atomic<bool>>(false);
    return plugins::Resumer([weak, exec, gen, fired](plugins::Resumer::Apply apply) {
      if (fired->exchange(true)) return;
      auto self = weak.lock();
      if (!self) return;
      boost::asio::post(exec, [self = std::move(self), gen, apply = std::move(apply)]() mutable {
        self->on_access_resumed(gen, apply);
      });
    });
  }

 private:
  enum class Phase {
    kIdle,
    kHead,
    kAccess,  // a plugin suspended the access phase
    kConnect,
    kUpWrite,
    kReqBody,
    kUpRead,
    kRespBody,
    kClientWrite,
    kError,
    kLinger,
    kClosed
  };

  // ---- client request ----

  void begin_request(bool first) {
    req_parser_.emplace(req_headers_, core_.options.limits);
    req_parser_->eager(false);
    phase_ = Phase::kIdle;
    first_ = first;
    continue_sent_ = false;
    req_terminated_ = false;
    resp_terminated_ = false;
    response_started_ = false;
    head_written_ = false;
    head_held_ = false;
    held_body_.clear();
    timed_out_ = false;
    ctx_ = nullptr;
    logged_ = false;
    upstream_answered_ = false;
    request_id_.clear();
    w_.set_state(state_, first ? ConnState::kReading : ConnState::kWaiting);
    deadline = http::coarse_now() + (first ? core_.options.limits.header_timeout
                                           : core_.options.limits.keepalive_timeout);
    if (cin_.size() > 0) return parse_head();
    if (w_.draining() && !first) return close();
    read_client();
  }

  void read_client() {
    auto self = shared_from_this();
    client_.async_read_some(
        cin_.prepare(kReadChunk), [this, self](boost::system::error_code ec, std::size_t n) {
          if (phase_ != Phase::kIdle && phase_ != Phase::kHead && phase_ != Phase::kReqBody) return;
          if (ec) return close();
          cin_.commit(n);
          if (phase_ == Phase::kReqBody) return on_client_body();
          parse_head();
        });
  }

  void parse_head() {
    if (phase_ == Phase::kIdle) {
      phase_ = Phase::kHead;
      w_.set_state(state_, ConnState::kReading);
      if (!first_) deadline = http::coarse_now() + core_.options.limits.header_timeout;
    }
    for (;;) {
      if (cin_.size() == 0) return read_client();
      beast::error_code ec;
      std::size_t used = req_parser_->put(cin_.data(), ec);
      cin_.consume(used);
      if (ec == bhttp::error::need_more) return read_client();
      if (ec) return send_error(http::status_for_parse_error(ec), {});
      if (req_parser_->is_header_done()) return on_request_head();
      if (used == 0) return read_client();
    }
  }

  void on_request_head() {
    t_head_ = SteadyClock::now();
    deadline = http::kNoDeadline;
    w_.set_state(state_, ConnState::kWriting);
    WorkerCounters::bump(w_.counters().requests);
    client_version_ = req_parser_->version();
    client_keep_alive_ = req_parser_->keep_alive();
    head_request_ = req_parser_->method() == bhttp::verb::head;

    std::string_view target = req_parser_->target();
    auto q = target.find('?');
    path_ = target.substr(0, q);
    query_ = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    has_query_ = q != std::string_view::npos;
    host_ = req_headers_.find(bhttp::field::host);

    snapshot_ = ws_.reader.current();
    if (!snapshot_ || !snapshot_->router) {
      return send_error(404, "no Route matched with those values");
    }
    auto m = snapshot_->router->match(req_parser_->method_string(), host_, path_);
    if (!m) return send_error(404, "no Route matched with those values");
    match_ = *m;
    if (match_.service == nullptr) return send_error(503, "no Service found with those values");

    std::string_view incoming_id = req_headers_.find("x-request-id");
    if (!incoming_id.empty()) {
      request_id_.assign(incoming_id);
    } else {
      make_request_id(ws_, request_id_);
    }

    if (core_.options.plugins && route_has_plugins()) {
      if (ctx_storage_) {
        ctx_storage_->recycle();
      } else {
        ctx_storage_ = std::make_unique<ProxyContext>();
        ctx_storage_->upstream_headers.reserve(8);
        ctx_storage_->response_headers.reserve(8);
      }
      ctx_ = ctx_storage_.get();
      fill_context(*ctx_);
      core_.options.plugins->access(*ctx_);
      if (ctx_->suspended()) return wait_access();
      if (ctx_->exit) return send_exit();
    }
    after_access();
  }

  // A plugin suspended the access phase: nothing is read or written until it resumes. The
  // deadline only guards against a plugin that never resumes (plugins bound their own waits).
  void wait_access() {
    phase_ = Phase::kAccess;
    deadline = http::coarse_now() + kAccessSafetyTimeout;
    suspend_hold_ = shared_from_this();
  }

  void on_access_resumed(uint64_t gen, plugins::Resumer::Apply& apply) {
    if (phase_ != Phase::kAccess || gen != suspend_gen_ || !ctx_ || !ctx_->suspended()) return;
    auto hold = std::move(suspend_hold_);  // keeps `this` alive until we return
    phase_ = Phase::kHead;
    deadline = http::kNoDeadline;
    ctx_->clear_suspended();
    if (apply) apply(*ctx_);
    core_.options.plugins->resume_access(*ctx_);
    if (ctx_->suspended()) return wait_access();
    if (ctx_->exit) return send_exit();
    after_access();
  }

  void after_access() {
    build_upstream_head();
    req_chunked_ = req_parser_->chunked();
    req_parser_->set_sink({&up_out_, req_chunked_});
    req_parser_->eager(true);
    beast::error_code ec;
    if (!feed_request_body(ec)) return send_error(http::status_for_parse_error(ec), {});
    replayable_ = true;
    attempts_ = 0;
    connect_upstream(true);
  }

  // A route without plugins skips the context and every phase call: most routes of a
  // plain proxy pay nothing for the plugin machinery. A snapshot without a plan (a
  // runner installed directly, as in tests) runs the runner for every request.
  bool route_has_plugins() const {
    const plugins::Plan* plan = snapshot_->plugin_plan.get();
    if (plan == nullptr) return true;
    auto index = static_cast<std::size_t>(match_.route - snapshot_->routes.data());
    return index < snapshot_->routes.size() && !plan->steps(index).empty();
  }

  void fill_context(ProxyContext& c) {
    c.started_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
    c.snapshot = snapshot_.get();
    c.route = match_.route;
    c.service = match_.service;
    c.method = req_parser_->method_string();
    c.host = host_;
    c.path = path_;
    c.query = query_;
    c.client_ip = client_ip_;
    c.request_id = request_id_;
    view_.emplace(req_headers_);
    c.request_headers = &*view_;
    c.suspender = this;
  }

  void build_upstream_head() {
    const Service& svc = *match_.service;
    std::string upstream_path = router::Router::upstream_path(match_, path_);
    if (ctx_) {
      ctx_->upstream_uri = upstream_path;
      if (has_query_) {
        ctx_->upstream_uri.push_back('?');
        ctx_->upstream_uri.append(query_);
      }
    }
    up_out_.clear();
    HeadWriter w(up_out_, head_guess(req_headers_) + upstream_path.size() + 2 * client_ip_.size() +
                              request_id_.size());
    w.put(req_parser_->method_string());
    w.put(' ');
    w.put(upstream_path);
    if (has_query_) {
      w.put('?');
      w.put(query_);
    }
    w.put(" HTTP/1.1\r\nHost: "sv);
    if (match_.route->preserve_host && !host_.empty()) {
      w.put(host_);
    } else {
      w.put(svc.host);
      bool default_port = (svc.port == 80 && svc.protocol == "http") ||
                          (svc.port == 443 && svc.protocol == "https");
      if (!default_port) {
        w.put(':');
        w.number(svc.port);
      }
    }
    w.put("\r\n"sv);

    std::string_view connection = req_headers_.find(bhttp::field::connection);
    bool plain = connection_is_plain(connection);
    const http::HeaderList* overrides = ctx_ ? &ctx_->upstream_headers : nullptr;
    std::string_view xff;
    for (std::size_t i = 0; i < req_headers_.size(); ++i) {
      bhttp::field f = req_headers_.id(i);
      if (is_hop_by_hop(f) || f == bhttp::field::host || f == bhttp::field::content_length ||
          f == bhttp::field::expect) {
        continue;
      }
      std::string_view name = req_headers_.name(i);
      if (f == bhttp::field::unknown) {
        if (is_overridden_request_header(name)) {
          if (http::iequals(name, "x-forwarded-for")) {
            xff = req_headers_.value(i);
          }
          continue;
        }
      }
      if (!plain && listed_in_connection(connection, name)) continue;
      if (overrides && in_list(*overrides, name)) continue;
      w.header(name, req_headers_.value(i));
    }
    if (overrides) {
      // An override with an empty value removes the header (see RequestContext).
      for (const auto& [k, v] : *overrides) {
        if (!v.empty()) w.header(k, v);
      }
    }

    w.put("X-Forwarded-For: "sv);
    if (!xff.empty()) {
      w.put(xff);
      w.put(", "sv);
    }
    w.put(client_ip_);
    w.put("\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: "sv);
    std::string_view bare_host = host_;
    if (!bare_host.empty() && bare_host.front() != '[') {
      bare_host = bare_host.substr(0, bare_host.find(':'));
    } else if (!bare_host.empty()) {
      bare_host = bare_host.substr(0, bare_host.find(']') + 1);
    }
    w.put(bare_host);
    w.put("\r\nX-Forwarded-Port: "sv);
    w.put(local_port_);
    w.put("\r\nX-Forwarded-Path: "sv);
    w.put(path_);
    if (match_.route->strip_path && !match_.matched_path.empty() &&
        match_.route->paths.size() > 0) {
      std::string_view prefix = match_.matched_path;
      if (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
      if (prefix != "/") {
        w.put("\r\nX-Forwarded-Prefix: "sv);
        w.put(prefix);
      }
    }
    w.put("\r\nX-Real-IP: "sv);
    w.put(client_ip_);
    w.put("\r\nX-Request-Id: "sv);
    w.put(request_id_);
    w.put("\r\n"sv);
    if (req_parser_->chunked()) {
      w.put("Transfer-Encoding: chunked\r\n"sv);
    } else if (auto len = req_parser_->content_length()) {
      w.put("Content-Length: "sv);
      w.number(*len);
      w.put("\r\n"sv);
    }
    w.put("\r\n"sv);
  }

  // Moves buffered client body bytes into up_out_ (framed). False on a parse error.
  bool feed_request_body(beast::error_code& ec) {
    while (cin_.size() > 0 && !req_parser_->is_done()) {
      std::size_t used = req_parser_->put(cin_.data(), ec);
      cin_.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return false;
      if (used == 0) break;
    }
    if (req_parser_->is_done() && req_chunked_ && !req_terminated_) {
      req_terminated_ = true;
      up_out_.append("0\r\n\r\n"sv);
    }
    return true;
  }

  void read_client_body() {
    // The first write held everything buffered so far; later body pieces are streamed and
    // cannot be replayed on another connection.
    replayable_ = false;
    up_out_.clear();
    if (req_parser_->expect_continue() && !continue_sent_) {
      continue_sent_ = true;
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      phase_ = Phase::kClientWrite;
      deadline = http::coarse_now() + core_.options.limits.body_timeout;
      auto self = shared_from_this();
      asio::async_write(client_, asio::buffer(kContinue.data(), kContinue.size()),
                        [this, self](boost::system::error_code ec, std::size_t) {
                          if (phase_ != Phase::kClientWrite) return;
                          if (ec) return close();
                          read_client_body();
                        });
      return;
    }
    phase_ = Phase::kReqBody;
    deadline = http::coarse_now() + core_.options.limits.body_timeout;
    if (cin_.size() > 0) return on_client_body();
    read_client();
  }

  void on_client_body() {
    beast::error_code ec;
    if (!feed_request_body(ec)) return send_error(http::status_for_parse_error(ec), {});
    if (up_out_.empty()) {
      deadline = http::coarse_now() + core_.options.limits.body_timeout;
      return read_client();
    }
    write_upstream();
  }

  // ---- upstream ----

  void connect_upstream(bool allow_pool) {
    const Service& svc = *match_.service;
    key_.assign(svc.host);
    key_.push_back(':');
    append_uint(key_, svc.port);
    if (allow_pool) {
      if (auto conn = ws_.pool.acquire(key_, http::coarse_now())) {
        if (ctx_) ++ctx_->tries;
        up_ = std::move(conn);
        reused_ = true;
        return write_upstream();
      }
    }
    reused_ = false;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(svc.host, ec);
    if (!ec) return do_connect(addr);
    auto now = http::coarse_now();
    auto it = ws_.dns.find(svc.host);
    if (it != ws_.dns.end() && it->second.expires > now && !it->second.addresses.empty()) {
      const auto& list = it->second.addresses;
      return do_connect(list[static_cast<std::size_t>(attempts_) % list.size()]);
    }
    phase_ = Phase::kConnect;
    deadline = now + std::chrono::milliseconds(svc.connect_timeout_ms);
    auto self = shared_from_this();
    ws_.resolver.async_resolve(
        svc.host, "",
        [this, self](boost::system::error_code ec, tcp::resolver::results_type results) {
          if (phase_ != Phase::kConnect) return;
          if (ec || results.empty()) {
            return send_error(503, "name resolution failed");
          }
          DnsEntry entry;
          for (const auto& r : results) entry.addresses.push_back(r.endpoint().address());
          entry.expires = http::coarse_now() + std::chrono::seconds(30);
          auto& slot = ws_.dns[match_.service->host];
          slot = std::move(entry);
          do_connect(slot.addresses[static_cast<std::size_t>(attempts_) % slot.addresses.size()]);
        });
  }

  void do_connect(const asio::ip::address& addr) {
    const Service& svc = *match_.service;
    up_ = std::make_unique<UpstreamConn>(w_.io());
    if (ctx_) ++ctx_->tries;
    phase_ = Phase::kConnect;
    timed_out_ = false;
    deadline = http::coarse_now() + std::chrono::milliseconds(svc.connect_timeout_ms);
    auto self = shared_from_this();
    up_->sock.async_connect(tcp::endpoint(addr, svc.port),
                            [this, self](boost::system::error_code ec) {
                              if (phase_ != Phase::kConnect) return;
                              if (ec) {
                                bool timed_out = timed_out_;
                                up_.reset();
                                // Nothing reached the upstream: Kong retries these, up to
                                // service.retries times.
                                if (attempts_ < match_.service->retries) {
                                  ++attempts_;
                                  return connect_upstream(false);
                                }
                                if (timed_out) return send_error(504, http::kong_message(504));
                                return send_error(503, http::kong_message(503));
                              }
                              up_->sock.set_option(tcp::no_delay(true), ec);
                              write_upstream();
                            });
  }

  void write_upstream() {
    phase_ = Phase::kUpWrite;
    timed_out_ = false;
    // The first write starts the upstream latency, which needs the precise clock.
    TimePoint now = replayable_ ? SteadyClock::now() : http::coarse_now();
    deadline = now + std::chrono::milliseconds(match_.service->write_timeout_ms);
    if (replayable_) t_upstream_ = now;
    write_then(up_->sock, up_out_, [this](boost::system::error_code ec) {
      if (phase_ != Phase::kUpWrite) return;
      if (ec) {
        if (reused_ && replayable_ && !timed_out_) return retry_stale();
        return upstream_failed();
      }
      if (!req_parser_->is_done()) return read_client_body();
      read_upstream_head();
    });
  }

  // Writes `data`, then calls done(ec) from the scheduler. Deliberately not continued inline
  // when the socket takes everything at once: the next read would then start at once, and
  // asio's speculative read often finds nothing yet (strace: 0.35 EAGAIN reads per request
  // against 0.006), and that system call ate the 1.6k instructions the inline path saved
  // (equal throughput). `data` must stay put until done() runs.
  template <class Done>
  void write_then(tcp::socket& sock, std::string_view data, Done done) {
    asio::async_write(sock, asio::buffer(data.data(), data.size()),
                      [self = shared_from_this(), done = std::move(done)](
                          boost::system::error_code ec, std::size_t) mutable { done(ec); });
  }

  // A pooled connection the upstream had already closed: the request never reached it, so
  // a fresh connection is not a retry in Kong's sense.
  void retry_stale() {
    ws_.pool.clear(key_);
    up_.reset();
    connect_upstream(false);
  }

  void upstream_failed() {
    bool timed_out = timed_out_;
    up_.reset();
    if (response_started_) return close();
    if (timed_out) return send_error(504, http::kong_message(504));
    send_error(502, http::kong_message(502));
  }

  void read_upstream_head() {
    resp_parser_.emplace(resp_headers_, core_.upstream_limits);
    resp_parser_->eager(false);
    if (head_request_) resp_parser_->skip(true);
    resp_got_bytes_ = false;
    phase_ = Phase::kUpRead;
    deadline = http::coarse_now() + std::chrono::milliseconds(match_.service->read_timeout_ms);
    if (up_->buf.size() > 0) return parse_upstream_head();
    read_upstream();
  }

  void read_upstream() {
    auto self = shared_from_this();
    up_->sock.async_read_some(
        up_->buf.prepare(kReadChunk), [this, self](boost::system::error_code ec, std::size_t n) {
          if (phase_ != Phase::kUpRead && phase_ != Phase::kRespBody) return;
          if (ec) {
            if (ec == asio::error::eof && phase_ == Phase::kRespBody && !timed_out_) {
              beast::error_code pec;
              resp_parser_->put_eof(pec);
              if (!pec) {
                up_->sock.close(pec);
                return on_response_body(true);
              }
            }
            if (phase_ == Phase::kUpRead && !resp_got_bytes_ && reused_ && replayable_ &&
                !timed_out_) {
              return retry_stale();
            }
            return upstream_failed();
          }
          resp_got_bytes_ = true;
          up_->buf.commit(n);
          if (phase_ == Phase::kUpRead) return parse_upstream_head();
          on_response_body(false);
        });
  }

  void parse_upstream_head() {
    for (;;) {
      if (up_->buf.size() == 0) return read_upstream();
      beast::error_code ec;
      std::size_t used = resp_parser_->put(up_->buf.data(), ec);
      up_->buf.consume(used);
      if (ec == bhttp::error::need_more) return read_upstream();
      if (ec) return upstream_failed();
      if (resp_parser_->is_header_done()) {
        int status = resp_parser_->status();
        if (status >= 100 && status < 200) {
          // Interim responses (100, 103) are not forwarded; upgrades are not supported.
          if (status == 101) return upstream_failed();
          resp_parser_.emplace(resp_headers_, core_.upstream_limits);
          resp_parser_->eager(false);
          if (head_request_) resp_parser_->skip(true);
          continue;
        }
        return on_upstream_head();
      }
      if (used == 0) return read_upstream();
    }
  }

  void on_upstream_head() {
    auto now = SteadyClock::now();
    int status = resp_parser_->status();
    bool no_body = head_request_ || status == 204 || status == 304;
    bool has_length = resp_parser_->content_length().has_value();
    keep_client_ = client_keep_alive_ && !w_.draining();
    upstream_answered_ = true;

    std::string_view connection = resp_headers_.find(bhttp::field::connection);
    bool plain = connection_is_plain(connection);
    bool upstream_sent_id = false;
    int64_t upstream_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - t_upstream_).count();
    int64_t proxy_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t_upstream_ - t_head_).count();

    ResponseHead* head = nullptr;
    int out_status = status;
    if (ctx_) {
      // Plugin path: materialise the head so header_filter can edit it. The list's memory
      // is reused from request to request (head_storage_ and the context's response_head
      // trade buffers below).
      head = &head_storage_;
      head->headers.clear();
      head->headers.reserve(resp_headers_.size() + ctx_->response_headers.size() + 4);
      head->status = status;
      for (std::size_t i = 0; i < resp_headers_.size(); ++i) {
        bhttp::field f = resp_headers_.id(i);
        if (is_hop_by_hop(f)) continue;
        std::string_view name = resp_headers_.name(i);
        if (!plain && listed_in_connection(connection, name)) continue;
        head->headers.emplace_back(name, resp_headers_.value(i));
      }
      // Moved: nothing reads the plugins' response headers after this point.
      for (auto& h : ctx_->response_headers) head->headers.push_back(std::move(h));
      ctx_->response_headers.clear();
      ctx_->status = status;
      ctx_->upstream_latency_ms = upstream_ms;
      ctx_->proxy_latency_ms = proxy_ms;
      core_.options.plugins->header_filter(*ctx_, *head);
      if (head->status >= 100 && head->status <= 999) out_status = head->status;
    }

    out_.clear();
    std::size_t added_begin = 0, added_end = 0;
    {
      HeadWriter w(out_, head_guess(resp_headers_) + request_id_.size());
      write_status_line(w, client_version_, out_status,
                        out_status == status ? resp_parser_->reason() : std::string_view{});

      if (head) {
        has_length = false;
        for (const auto& [k, v] : head->headers) {
          if (http::iequals(k, "content-length")) {
            if (!no_body) has_length = true;
            w.header(k, v);
            continue;
          }
          if (http::iequals(k, "x-request-id")) upstream_sent_id = true;
          w.header(k, v);
        }
      } else {
        for (std::size_t i = 0; i < resp_headers_.size(); ++i) {
          bhttp::field f = resp_headers_.id(i);
          if (is_hop_by_hop(f)) continue;
          if (f == bhttp::field::content_length) {
            if (no_body) w.header(resp_headers_.name(i), resp_headers_.value(i));
            continue;
          }
          std::string_view name = resp_headers_.name(i);
          if (f == bhttp::field::unknown && http::iequals(name, "x-request-id"))
            upstream_sent_id = true;
          if (!plain && listed_in_connection(connection, name)) continue;
          w.header(name, resp_headers_.value(i));
        }
        if (has_length) {
          w.put("Content-Length: "sv);
          w.number(*resp_parser_->content_length());
          w.put("\r\n"sv);
        }
      }
      added_begin = w.size();
      if (!upstream_sent_id) w.header("X-Request-Id"sv, request_id_);
      w.put("X-Kong-Upstream-Latency: "sv);
      w.number(static_cast<uint64_t>(std::max<int64_t>(upstream_ms, 0)));
      w.put("\r\nX-Kong-Proxy-Latency: "sv);
      w.number(static_cast<uint64_t>(std::max<int64_t>(proxy_ms, 0)));
      w.put("\r\n"sv);
      added_end = w.size();
    }
    if (head) {
      // The log phase sees the head as the client got it, gateway-added headers included.
      ctx_->status = out_status;
      ctx_->response_head.clear();
      ctx_->response_head.swap(head->headers);
      add_lines_to_head(std::string_view(out_).substr(added_begin, added_end - added_begin),
                        ctx_->response_head);
    }

    rechunk_ = false;
    // A plugin that emits the body only once it has all of it: the head waits for the body,
    // so the client gets a Content-Length (not chunks) and a failure meanwhile is a clean 502.
    head_held_ = ctx_ && ctx_->buffer_response_body && !no_body && !has_length;
    if (!head_held_) end_head(!no_body && !has_length, std::nullopt);

    if (ctx_) {
      resp_parser_->set_sink({&body_tmp_, false});
    } else {
      resp_parser_->set_sink({&out_, rechunk_});
    }
    resp_parser_->eager(true);
    phase_ = Phase::kRespBody;
    on_response_body(false);
  }

  // Ends the head in out_: the framing (`length` for a held body; chunked, or the end of the
  // connection for an HTTP/1.0 client, when the length is unknown), then Connection.
  void end_head(bool unknown_length, std::optional<uint64_t> length) {
    if (length) {
      std::size_t at = out_.size();
      out_.append("Content-Length: "sv);
      append_uint(out_, *length);
      if (ctx_)
        ctx_->response_head.emplace_back("Content-Length", std::string_view(out_).substr(at + 16));
      out_.append("\r\n"sv);
    } else if (unknown_length) {
      if (client_version_ >= 11) {
        rechunk_ = true;
        out_.append("Transfer-Encoding: chunked\r\n"sv);
      } else {
        keep_client_ = false;  // HTTP/1.0 client: the body ends when the connection does
      }
    }
    out_.append(connection_line(keep_client_, client_version_));
    out_.append("\r\n"sv);
    response_started_ = true;
  }

  void append_body(std::string_view piece) {
    if (piece.empty()) return;
    if (rechunk_) {
      http::append_chunk_header(out_, piece.size());
      out_.append(piece);
      out_.append("\r\n"sv);
    } else {
      out_.append(piece);
    }
  }

  void on_response_body(bool eof_done) {
    body_tmp_.clear();
    if (!eof_done) {
      while (up_->buf.size() > 0 && !resp_parser_->is_done()) {
        beast::error_code ec;
        std::size_t used = resp_parser_->put(up_->buf.data(), ec);
        up_->buf.consume(used);
        if (ec == bhttp::error::need_more) break;
        if (ec) return upstream_failed();
        if (used == 0) break;
      }
    }
    bool done = resp_parser_->is_done();
    if (ctx_) {
      core_.options.plugins->body_filter(*ctx_, body_tmp_, done);
      // The head is already sent, so a plugin that cannot complete the body correctly (a
      // transform over its cap) makes the proxy cut the connection: the client sees a
      // truncated response, never a wrong or untransformed one.
      if (ctx_->abort_response) {
        if (!head_written_) {
          // Nothing reached the client yet: the head in out_ is replaced by a clean 502.
          response_started_ = false;
          return send_error(502, ctx_->abort_message);
        }
        return close();
      }
      ctx_->response_body_bytes += body_tmp_.size();  // what the client receives
      if (head_held_) {
        if (!done && ctx_->buffer_response_body) {
          held_body_.append(body_tmp_);
          body_tmp_.clear();
        } else {
          // Complete, or the plugin went back to streaming (an oversize body it passes
          // through): the head goes out now, framed by what is known.
          head_held_ = false;
          if (done) {
            end_head(false, held_body_.size() + body_tmp_.size());
          } else {
            end_head(true, std::nullopt);
          }
          append_body(held_body_);
          held_body_.clear();
        }
      }
      if (!head_held_) append_body(body_tmp_);
    }
    if (done && rechunk_ && !resp_terminated_) {
      resp_terminated_ = true;
      out_.append("0\r\n\r\n"sv);
    }
    if (head_held_ || (out_.empty() && !done)) {
      deadline = http::coarse_now() + std::chrono::milliseconds(match_.service->read_timeout_ms);
      return read_upstream();
    }
    write_client();
  }

  void write_client() {
    phase_ = Phase::kClientWrite;
    head_written_ = true;
    deadline = http::coarse_now() + core_.options.limits.body_timeout;
    write_then(client_, out_, [this](boost::system::error_code ec) {
      if (phase_ != Phase::kClientWrite) return;
      if (ec) return close();
      if (resp_parser_->is_done()) return finish_exchange();
      out_.clear();
      phase_ = Phase::kRespBody;
      deadline = http::coarse_now() + std::chrono::milliseconds(match_.service->read_timeout_ms);
      if (up_->buf.size() > 0) return on_response_body(false);
      read_upstream();
    });
  }

  void finish_exchange() {
    if (up_) {
      if (resp_parser_->keep_alive() && up_->buf.size() == 0 && up_->sock.is_open()) {
        ++up_->requests;
        ws_.pool.release(key_, std::move(up_), http::coarse_now());
      } else {
        up_.reset();
      }
    }
    run_log();
    snapshot_.reset();
    if (keep_client_ && !w_.draining()) return begin_request(false);
    finish_connection(false);
  }

  // ---- answers generated here ----

  void send_error(int status, std::string_view message) {
    if (phase_ == Phase::kClosed || phase_ == Phase::kError || phase_ == Phase::kLinger) return;
    if (response_started_) return close();
    up_.reset();
    bool request_done = req_parser_ && req_parser_->is_done();
    bool keep = request_done && req_parser_->keep_alive() && !w_.draining() && status != 408 &&
                status != 400 && status != 431 && status != 413;
    out_.clear();
    std::string extra;
    if (!request_id_.empty() && phase_ != Phase::kHead && phase_ != Phase::kIdle) {
      extra = "X-Request-Id: " + request_id_ + "\r\n";
    }
    http::append_error_response(
        out_, status, message.empty() ? http::kong_message(status) : message, !keep, extra);
    if (ctx_) {
      // Logged once the answer is written (write_final), or by close() if that fails.
      ctx_->status = status;
      ctx_->response_head.clear();
      std::string_view text(out_);
      auto head_end = text.find("\r\n\r\n");
      auto first_eol = text.find("\r\n");
      if (head_end != std::string_view::npos && first_eol < head_end) {
        add_lines_to_head(text.substr(first_eol + 2, head_end - first_eol - 2),
                          ctx_->response_head);
        ctx_->response_body_bytes = text.size() - head_end - 4;
      }
    }
    write_final(keep);
  }

  // An answer from a plugin's access phase (e.g. a jwt 401, a rate-limit 429). As in Kong it
  // goes through header_filter and body_filter, so plugins that ran (cors, rate-limiting)
  // still add their headers, and it carries X-Request-Id like a proxied response.
  void send_exit() {
    const http::Response& res = *ctx_->exit;
    ResponseHead head;
    head.status = res.status;
    for (const auto& [k, v] : res.headers) {
      if (http::iequals(k, "content-length") || http::iequals(k, "connection") ||
          http::iequals(k, "transfer-encoding")) {
        continue;
      }
      head.headers.emplace_back(k, v);
    }
    for (const auto& h : ctx_->response_headers) head.headers.push_back(h);
    ctx_->status = head.status;
    core_.options.plugins->header_filter(*ctx_, head);
    body_tmp_.assign(res.body);
    core_.options.plugins->body_filter(*ctx_, body_tmp_, true);
    int status = head.status >= 100 && head.status <= 999 ? head.status : res.status;

    bool request_done = req_parser_->is_done();
    bool keep = request_done && req_parser_->keep_alive() && !w_.draining();
    out_.clear();
    std::size_t added_begin = 0, added_end = 0;
    {
      HeadWriter w(out_, 256 + request_id_.size() + body_tmp_.size());
      write_status_line(w, client_version_, status, {});
      bool has_id = false;
      for (const auto& [k, v] : head.headers) {
        if (http::iequals(k, "content-length") || http::iequals(k, "connection") ||
            http::iequals(k, "transfer-encoding")) {
          continue;
        }
        if (http::iequals(k, "x-request-id")) has_id = true;
        w.header(k, v);
      }
      added_begin = w.size();
      if (!has_id) w.header("X-Request-Id"sv, request_id_);
      // Kong's header for answers it generated itself.
      w.put("X-Kong-Response-Latency: "sv);
      w.number(static_cast<uint64_t>(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t_head_)
                 .count())));
      w.put("\r\nContent-Length: "sv);
      w.number(body_tmp_.size());
      w.put("\r\n"sv);
      added_end = w.size();
      w.put(connection_line(keep, client_version_));
      w.put("\r\n"sv);
      if (!head_request_) w.put(body_tmp_);
    }
    ctx_->status = status;
    ctx_->response_body_bytes = head_request_ ? 0 : body_tmp_.size();
    ctx_->response_head = std::move(head.headers);
    add_lines_to_head(std::string_view(out_).substr(added_begin, added_end - added_begin),
                      ctx_->response_head);
    body_tmp_.clear();
    write_final(keep);
  }

  // Log phase, exactly once per request that had a context: after the response is written,
  // or when the connection ends before that (then 499 if nothing was answered, as nginx).
  void run_log() {
    if (!ctx_ || logged_) return;
    logged_ = true;
    ProxyContext& c = *ctx_;
    auto now = SteadyClock::now();
    c.request_latency_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - t_head_).count();
    if (!upstream_answered_) c.upstream_latency_ms = -1;
    // Kong's "kong" latency: all the time not spent waiting for the upstream.
    c.proxy_latency_ms = c.request_latency_ms - std::max<int64_t>(c.upstream_latency_ms, 0);
    if (c.proxy_latency_ms < 0) c.proxy_latency_ms = 0;
    if (req_parser_) c.request_body_bytes = req_parser_->body_bytes();
    if (c.status == 0) c.status = 499;
    core_.options.plugins->log(c);
  }

  void write_final(bool keep) {
    phase_ = Phase::kError;
    w_.set_state(state_, ConnState::kWriting);
    deadline = http::coarse_now() + core_.options.limits.body_timeout;
    auto self = shared_from_this();
    asio::async_write(client_, asio::buffer(out_),
                      [this, self, keep](boost::system::error_code ec, std::size_t) {
                        if (phase_ != Phase::kError) return;
                        if (ec) return close();
                        run_log();
                        snapshot_.reset();
                        if (keep && !w_.draining()) return begin_request(false);
                        finish_connection(!(req_parser_ && req_parser_->is_done()));
                      });
  }

  void finish_connection(bool unread_input) {
    if (!unread_input && cin_.size() == 0) {
      boost::system::error_code ec;
      client_.shutdown(tcp::socket::shutdown_send, ec);
      return close();
    }
    // Unread request bytes would make the kernel answer with RST, which can destroy the
    // response before the client reads it: drain the input for a while first.
    phase_ = Phase::kLinger;
    w_.set_state(state_, ConnState::kNone);
    boost::system::error_code ec;
    client_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    deadline = http::coarse_now() + kLingerTime;
    discard();
  }

  void discard() {
    auto self = shared_from_this();
    cin_.clear();
    client_.async_read_some(cin_.prepare(kReadChunk),
                            [this, self](boost::system::error_code ec, std::size_t) {
                              if (phase_ != Phase::kLinger) return;
                              if (ec) return close();
                              discard();
                            });
  }

  // `from_destructor`: the session outlived the server's shutdown; the plugin runner may be
  // gone, so the log phase is skipped.
  void close(bool from_destructor = false) {
    if (phase_ == Phase::kClosed) return;
    if (!from_destructor) run_log();
    phase_ = Phase::kClosed;
    boost::system::error_code ec;
    client_.close(ec);
    if (up_) up_->sock.close(ec);
    w_.set_state(state_, ConnState::kNone);
    w_.remove(this);
    WorkerCounters::bump(w_.counters().active, -1);
    // A suspended request held itself; release it after this call returns (the caller may
    // hold no other reference).
    if (suspend_hold_)
      boost::asio::post(client_.get_executor(), [hold = std::move(suspend_hold_)] {});
  }

  Worker& w_;
  ProxyCore& core_;
  WorkerState& ws_;
  tcp::socket client_;
  beast::flat_buffer cin_;
  HeaderStore req_headers_;
  HeaderStore resp_headers_;
  std::optional<http::RequestParser> req_parser_;
  std::optional<http::ResponseParser> resp_parser_;
  std::unique_ptr<UpstreamConn> up_;
  std::string up_out_;
  std::string out_;
  std::string body_tmp_;
  std::string client_ip_;
  std::string local_port_;
  std::string request_id_;
  std::string key_;
  std::shared_ptr<const Snapshot> snapshot_;
  router::Match match_;
  std::string_view path_, query_, host_;
  // The current request's plugin context (null: no plugins run for it), in ctx_storage_,
  // which is reused by the connection's next requests.
  ProxyContext* ctx_ = nullptr;
  std::unique_ptr<ProxyContext> ctx_storage_;
  ResponseHead head_storage_;
  std::optional<StoreView> view_;
  std::shared_ptr<ProxySession> suspend_hold_;  // set while a plugin has suspended the request
  uint64_t suspend_gen_ = 0;
  TimePoint t_head_{}, t_upstream_{};
  Phase phase_ = Phase::kIdle;
  ConnState state_ = ConnState::kNone;
  int client_version_ = 11;
  int attempts_ = 0;
  bool first_ = true;
  bool has_query_ = false;
  bool client_keep_alive_ = true;
  bool keep_client_ = true;
  bool head_request_ = false;
  bool continue_sent_ = false;
  bool req_chunked_ = false;
  bool req_terminated_ = false;
  bool resp_terminated_ = false;
  bool response_started_ = false;
  bool head_written_ = false;  // the response head was handed to the socket
  bool replayable_ = false;
  bool reused_ = false;
  bool resp_got_bytes_ = false;
  bool timed_out_ = false;
  bool rechunk_ = false;
  bool head_held_ = false;          // the head waits in out_ for the whole body (end_head)
  std::string held_body_;           // body pieces a plugin emitted while the head was held
  bool logged_ = false;             // the log phase ran for the current request
  bool upstream_answered_ = false;  // a response head came from the upstream
};

}  // namespace

struct ProxyServer::Impl : http::AcceptHandler {
  Impl(ProxyOptions options, const SnapshotHolder& holder)
      : pool("proxy", kTick), core{std::move(options), holder, {}, {}} {
    core.upstream_limits = core.options.limits;
    core.upstream_limits.max_body_bytes = 0;
  }
  void on_accept(Worker& worker, tcp::socket socket) override {
    std::make_shared<ProxySession>(worker, core, std::move(socket))->start();
  }

  // The pool is declared first so that the per-worker state (pooled upstream sockets, the
  // resolver) is destroyed while the workers' io_contexts still exist.
  http::WorkerPool pool;
  ProxyCore core;
};

ProxyServer::ProxyServer(ProxyOptions options, const SnapshotHolder& snapshots)
    : shutdown_deadline_(options.shutdown_deadline) {
  impl_ = std::make_unique<Impl>(std::move(options), snapshots);
}

ProxyServer::~ProxyServer() { impl_->pool.stop(std::chrono::milliseconds(0)); }

Result<uint16_t> ProxyServer::listen(const http::Endpoint& endpoint) {
  return impl_->pool.listen(endpoint);
}

Result<void> ProxyServer::start(int workers) {
  // The per-worker state needs each worker's io_context, which exists only once the pool
  // has created its workers, and must be complete before the first connection is accepted.
  auto created = impl_->pool.create_workers(workers);
  if (!created.ok()) return created;
  std::random_device rd;
  auto& states = impl_->core.workers;
  states.clear();
  for (std::size_t i = 0; i < impl_->pool.size(); ++i) {
    auto state = std::make_unique<WorkerState>(
        impl_->core.holder, impl_->core.options.upstream_keepalive_pool_size,
        impl_->core.options.upstream_keepalive_idle_timeout, impl_->pool.worker(i).io());
    state->request_id_state[0] = (static_cast<uint64_t>(rd()) << 32) | rd() | 1;
    state->request_id_state[1] = (static_cast<uint64_t>(rd()) << 32) | rd();
    states.push_back(std::move(state));
  }
  return impl_->pool.run(impl_.get());
}

void ProxyServer::stop(std::chrono::milliseconds deadline) { impl_->pool.stop(deadline); }

uint16_t ProxyServer::port() const { return impl_->pool.port(); }

http::ServerCounters ProxyServer::counters() const { return impl_->pool.counters(); }

}  // namespace suoke::gateway::proxy
