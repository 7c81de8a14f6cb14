// Differential libFuzzer target: http::MessageParser (our parser) against BeastParser, the
// Beast basic_parser-based implementation it replaced (kept here, and only here, as the
// oracle). Both parse the same bytes as a connection feeds them (pieces of random sizes taken
// from the input, pipelined messages one after another, optional EOF at the end), requests or
// responses (optionally the answer to HEAD).
//
// When both accept a message, everything a caller reads must agree: method, target, version,
// status, reason, fields (names and values, in order), body, keep_alive, chunked,
// content_length and the bytes the message took. When only one accepts, the disagreement must
// be one of the deliberate differences listed in src/http/parser.h, checked by
// intended_rejection() / intended_acceptance() below; anything else traps.
//
// Input: byte 0 = mode (0x80 response, 0x40 HEAD, 0x20 EOF after the input), byte 1 and 2 =
// seeds of the piece sizes for our parser and for the oracle; the rest is the stream.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"
#include "http/parser.h"

namespace {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using suoke::http::iequals;

// ---- the oracle: the previous MessageParser on Beast's basic_parser ----

template <bool isRequest>
class BeastParser : public bhttp::basic_parser<isRequest> {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;

  BeastParser(const suoke::http::Limits& limits) {
    this->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    if (limits.max_body_bytes == 0) {
      this->body_limit(boost::none);
    } else {
      this->body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
    }
    this->eager(true);
  }

  void set_body(std::string* out) { out_ = out; }
  const Fields& fields() const { return fields_; }
  const std::vector<std::string>& extensions() const { return extensions_; }
  std::string_view method_string() const { return method_string_; }
  std::string_view target() const { return target_; }
  std::string_view reason() const { return reason_; }
  bhttp::verb method() const { return method_; }
  int status() const { return status_; }
  int version() const { return version_; }
  bool expect_continue() const { return expect_continue_; }
  uint64_t body_bytes() const { return body_bytes_; }
  std::optional<uint64_t> length() const {
    auto l = bhttp::basic_parser<isRequest>::content_length();
    return l ? std::optional<uint64_t>(*l) : std::nullopt;
  }

 private:
  void on_request_impl(bhttp::verb method, beast::string_view method_str, beast::string_view target,
                       int version, beast::error_code&) override {
    method_ = method;
    version_ = version;
    method_string_ = method_str;
    target_ = target;
  }
  void on_response_impl(int code, beast::string_view reason, int version,
                        beast::error_code&) override {
    status_ = code;
    version_ = version;
    reason_ = reason;
  }
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code&) override {
    if (this->is_header_done()) return;  // trailers
    if (name == bhttp::field::expect && iequals(value, "100-continue")) expect_continue_ = true;
    if (name == bhttp::field::transfer_encoding) has_transfer_encoding_ = true;
    if (name == bhttp::field::host) has_host_ = true;
    fields_.emplace_back(name_string, value);
  }
  void on_header_impl(beast::error_code& ec) override {
    if constexpr (isRequest) {
      if (has_transfer_encoding_ && !this->chunked()) {
        ec = bhttp::error::bad_transfer_encoding;
        return;
      }
      if (version_ >= 11 && !has_host_) {
        ec = bhttp::error::bad_field;
        return;
      }
    }
  }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    body_bytes_ += body.size();
    if (out_) out_->append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view extensions,
                            beast::error_code&) override {
    extensions_.emplace_back(extensions);
  }
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 beast::error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(beast::error_code&) override {}

  std::string* out_ = nullptr;
  Fields fields_;
  std::vector<std::string> extensions_;
  std::string method_string_, target_, reason_;
  bhttp::verb method_ = bhttp::verb::unknown;
  int status_ = 0;
  int version_ = 11;
  bool expect_continue_ = false;
  bool has_transfer_encoding_ = false;
  bool has_host_ = false;
  uint64_t body_bytes_ = 0;
};

// ---- running either parser the way a connection does ----

enum class Outcome { kAccepted, kRejected, kIncomplete };

struct Message {
  Outcome outcome = Outcome::kIncomplete;
  beast::error_code ec;
  std::size_t used = 0;
  std::string method, target, reason, body;
  bhttp::verb verb = bhttp::verb::unknown;
  int version = 0, status = 0;
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<std::string> extensions;  // oracle only
  bool keep_alive = false, chunked = false, expect_continue = false;
  std::optional<uint64_t> content_length;
  uint64_t body_bytes = 0;
};

struct Mode {
  bool head = false;
  bool eof = false;
};

// Piece sizes from a seed: mostly small, sometimes everything at once.
struct Pieces {
  uint32_t state;
  std::size_t next() {
    state = state * 1103515245u + 12345u;
    uint32_t r = (state >> 16) & 0x7fff;
    if (r % 8 == 0) return 1 << 20;
    return 1 + r % 24;
  }
};

template <class P, class Setup, class Fill>
Message run(std::string_view stream, std::size_t pos, Pieces pieces, const Mode& mode, Setup setup,
            Fill fill) {
  std::optional<P> parser;
  std::string body;
  setup(parser, body);
  Message m;
  std::string buffered;
  std::size_t fed = pos;
  for (;;) {
    if (fed < stream.size()) {
      std::size_t n = std::min(pieces.next(), stream.size() - fed);
      buffered.append(stream.substr(fed, n));
      fed += n;
    }
    if (buffered.empty()) break;
    beast::error_code ec;
    std::size_t used = parser->put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
    if (used > buffered.size()) __builtin_trap();
    buffered.erase(0, used);
    m.used += used;
    if (ec && ec != bhttp::error::need_more) {
      m.outcome = Outcome::kRejected;
      m.ec = ec;
      return m;
    }
    if (parser->is_done()) break;
    if (fed == stream.size() && (used == 0 || ec == bhttp::error::need_more)) break;
  }
  if (!parser->is_done()) {
    if (!mode.eof || !parser->got_some()) return m;
    beast::error_code ec;
    parser->put_eof(ec);
    if (ec) {
      m.outcome = Outcome::kRejected;
      m.ec = ec;
      return m;
    }
    if (!parser->is_done()) return m;
  }
  m.outcome = Outcome::kAccepted;
  m.body = body;
  m.version = parser->version();
  m.keep_alive = parser->keep_alive();
  m.chunked = parser->chunked();
  m.expect_continue = parser->expect_continue();
  m.body_bytes = parser->body_bytes();
  if constexpr (P::is_request::value) {
    m.method = parser->method_string();
    m.verb = parser->method();
    m.target = parser->target();
  } else {
    m.status = parser->status();
    m.reason = parser->reason();
  }
  fill(*parser, m);
  return m;
}

// ---- the deliberate differences (src/http/parser.h) ----

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Fields Beast accepted and we refuse by design: Content-Length not plain digits, Content-Length
// with Transfer-Encoding, a Transfer-Encoding that is not a token list ending in (at most one)
// chunked, an empty Transfer-Encoding line.
bool stricter_framing(const Message& beast) {
  bool has_cl = false, has_te = false, loose = false, chunked_seen = false;
  for (const auto& [name, value] : beast.fields) {
    if (iequals(name, "content-length")) {
      has_cl = true;
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) {
        loose = true;
      }
    } else if (iequals(name, "transfer-encoding")) {
      has_te = true;
      bool any = false;  // an empty Transfer-Encoding line is refused on its own
      std::string_view rest = value;
      for (;;) {
        auto comma = rest.find(',');
        std::string_view item = trim(rest.substr(0, comma));
        if (!item.empty()) {
          if (!is_token(item) || chunked_seen) loose = true;
          chunked_seen = iequals(item, "chunked");
          any = true;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (!any) loose = true;
    }
  }
  return loose || (has_cl && has_te);
}

bool has_ctl(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  }
  return false;
}

// Whether the head of `text` (a message Beast accepted) has an obs-fold line, which we refuse.
bool head_has_obs_fold(std::string_view text) {
  std::string_view head = text.substr(0, text.find("\r\n\r\n"));
  return head.find("\r\n ") != std::string_view::npos ||
         head.find("\r\n\t") != std::string_view::npos;
}

// We reject (ec) what Beast accepted; `text` is the message as Beast consumed it.
bool intended_rejection(const beast::error_code& ec, const Message& beast, std::string_view text) {
  // Beast joins folded lines; we refuse them, with the error of whatever the fold interrupts
  // first (e.g. an empty Content-Length whose value only the fold would supply).
  if (ec == bhttp::error::bad_obs_fold || head_has_obs_fold(text)) return true;
  if (ec == bhttp::error::bad_target) {
    for (char c : beast.target) {
      if (static_cast<unsigned char>(c) >= 0x80) return true;
    }
  }
  if (ec == bhttp::error::bad_content_length || ec == bhttp::error::bad_transfer_encoding ||
      ec == bhttp::error::multiple_content_length) {
    return stricter_framing(beast);
  }
  if (ec == bhttp::error::bad_chunk_extension) {
    for (const auto& e : beast.extensions) {
      if (has_ctl(e)) return true;
    }
  }
  return false;
}

// The trailer field names of a chunked message we accepted (`text` is the whole message).
std::vector<std::string_view> trailer_names(std::string_view text, std::size_t head) {
  std::vector<std::string_view> names;
  std::size_t p = head;
  for (;;) {
    std::size_t eol = text.find("\r\n", p);
    if (eol == std::string_view::npos) return names;
    uint64_t size = std::strtoull(std::string(text.substr(p, eol - p)).c_str(), nullptr, 16);
    p = eol + 2;
    if (size == 0) break;
    p += size + 2;
  }
  for (;;) {
    std::size_t eol = text.find("\r\n", p);
    if (eol == std::string_view::npos || eol == p) return names;
    std::string_view line = text.substr(p, eol - p);
    names.push_back(line.substr(0, line.find(':')));
    p = eol + 2;
  }
}

// Trailers never change framing or keep-alive for us; Beast applies Content-Length,
// Transfer-Encoding, Connection and Proxy-Connection trailers (and so may reject them).
bool has_framing_trailer(std::string_view text, std::size_t head) {
  for (auto name : trailer_names(text, head)) {
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
        iequals(name, "connection") || iequals(name, "proxy-connection")) {
      return true;
    }
  }
  return false;
}

template <bool isRequest>
std::size_t head_size(std::string_view text) {
  suoke::http::HeaderStore store;
  suoke::http::MessageParser<isRequest> p(store, suoke::http::Limits{});
  p.eager(false);
  beast::error_code ec;
  return p.put(boost::asio::buffer(text.data(), text.size()), ec);
}

template <bool isRequest>
void diff(std::string_view stream, uint8_t seed_ours, uint8_t seed_beast, const Mode& mode) {
  suoke::http::Limits limits;
  limits.max_body_bytes = 1 << 16;
  suoke::http::HeaderStore store;
  Pieces ours_pieces{seed_ours}, beast_pieces{seed_beast};
  std::size_t pos = 0;
  for (int n = 0; n < 16 && pos < stream.size(); ++n) {
    using Ours = suoke::http::MessageParser<isRequest>;
    Message ours = run<Ours>(
        stream, pos, ours_pieces, mode,
        [&](std::optional<Ours>& p, std::string& body) {
          p.emplace(store, limits);
          p->set_sink({&body, false});
          if (mode.head && !isRequest) p->skip(true);
        },
        [&](const Ours& p, Message& m) {
          for (std::size_t i = 0; i < store.size(); ++i) {
            m.fields.emplace_back(store.name(i), store.value(i));
          }
          m.content_length = p.content_length();
        });
    using Oracle = BeastParser<isRequest>;
    Message beast = run<Oracle>(
        stream, pos, beast_pieces, mode,
        [&](std::optional<Oracle>& p, std::string& body) {
          p.emplace(limits);
          p->set_body(&body);
          if (mode.head && !isRequest) p->skip(true);
        },
        [&](const Oracle& p, Message& m) {
          m.fields = p.fields();
          m.extensions = p.extensions();
          m.content_length = p.length();
        });
    for (int i = 0; i < 4; ++i) ours_pieces.next(), beast_pieces.next();

    if (ours.outcome == Outcome::kAccepted && beast.outcome == Outcome::kAccepted) {
      std::string_view text = stream.substr(pos, ours.used);
      bool keep_alive_ok = ours.keep_alive == beast.keep_alive ||
                           (ours.chunked && has_framing_trailer(text, head_size<isRequest>(text)));
      if (ours.used != beast.used || ours.method != beast.method || ours.verb != beast.verb ||
          ours.target != beast.target || ours.version != beast.version ||
          ours.status != beast.status || ours.reason != beast.reason ||
          ours.fields != beast.fields || ours.body != beast.body || !keep_alive_ok ||
          ours.chunked != beast.chunked || ours.content_length != beast.content_length ||
          ours.expect_continue != beast.expect_continue || ours.body_bytes != beast.body_bytes) {
        __builtin_trap();
      }
      pos += ours.used;
      continue;
    }
    if (ours.outcome == Outcome::kAccepted) {
      std::string_view text = stream.substr(pos, ours.used);
      if (beast.outcome == Outcome::kRejected && ours.chunked &&
          has_framing_trailer(text, head_size<isRequest>(text))) {
        return;
      }
      __builtin_trap();
    }
    if (beast.outcome == Outcome::kAccepted) {
      if (ours.outcome == Outcome::kRejected &&
          intended_rejection(ours.ec, beast, stream.substr(pos, beast.used))) {
        return;
      }
      __builtin_trap();
    }
    return;  // neither accepted: rejected or incomplete, for whatever reason
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  Mode mode;
  mode.head = (data[0] & 0x40) != 0;
  mode.eof = (data[0] & 0x20) != 0;
  std::string_view stream(reinterpret_cast<const char*>(data + 3), size - 3);
  if (data[0] & 0x80) {
    diff<false>(stream, data[1], data[2], mode);
  } else {
    diff<true>(stream, data[1], data[2], mode);
  }
  return 0;
}
