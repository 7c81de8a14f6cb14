// Internal: the HTTP/1.1 message parsers used by http::Server, the proxy and the fuzz targets.
// Our own parser (it replaced Beast's basic_parser, whose field scanning and field-name hashing
// were ~4.7% of the proxy's CPU): header fields land in a per-connection arena that is reused
// across requests (no allocation per field in steady state) and body bytes go straight into the
// caller's output buffer, optionally re-framed as chunks, which is what the streaming proxy
// needs. Errors are Beast's http::error values so callers and status_for_parse_error keep
// working; only error.hpp, field.hpp and verb.hpp of Beast are used.
//
// Deliberate differences from Beast's basic_parser (fuzz/http_parser_diff_fuzz.cpp checks that
// every other acceptance decision and every parsed value agree):
//  - obs-fold (a field line starting with SP/HTAB) is rejected (bad_obs_fold), not joined.
//  - request-target bytes >= 0x80 are rejected (bad_target): RFC 9112 targets are ASCII.
//  - Content-Length must be digits only ("5, 5" is rejected); repeated identical lines are fine.
//  - Content-Length together with any Transfer-Encoding is rejected, in responses too.
//  - Transfer-Encoding must be a list of bare tokens (no transfer-parameters) with chunked, if
//    present, last over all its lines; "chunked" in any other position or an empty line is
//    rejected (bad_transfer_encoding). Other codings without chunked: a request is rejected
//    (as before), a response's body runs to EOF (as Beast).
//  - trailer fields are validated but never change framing or keep_alive() (RFC 9110 6.5.1).
//  - chunk-ext quoted strings may not contain CTLs other than HTAB (bad_chunk_extension).
//  - the header limit counts the whole head (start line included); a chunk-size line and the
//    trailer section are each bounded by it too (header_limit).
//  - put_eof() before any header is complete is partial_message.
// Like Beast, bare LF line endings are rejected everywhere (bad_line_ending or the error of the
// element the LF interrupts); CRLF is required. Also like Beast, Proxy-Connection counts as
// Connection for keep_alive(), and a Connection value that is not a token list is bad_value.
// HeaderStore::id() is unknown for the names the gateway does not compare (classify_field).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "http/server.h"

namespace suoke::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// The field id HeaderStore::id() reports: one of the names the gateway compares ids against
// (Host, Connection, Content-Length, Transfer-Encoding, Expect, Upgrade, Trailer, TE,
// Proxy-Connection, Keep-Alive; case-insensitive), bhttp::field::unknown for every other name.
// A switch on the length and one compare, instead of Beast's hash table over ~350 names.
// `name` is a token, as the parser passes it.
bhttp::field classify_field(std::string_view name);

class HeaderStore {
 public:
  struct Entry {
    bhttp::field name;
    uint32_t name_off, name_len, value_off, value_len;
  };

  void clear() {
    arena_.clear();
    count_ = 0;
    first_ = second_ = {0, 0};
  }
  // The start line's two variable parts (method and target, or reason), kept in the arena so
  // a reused store allocates nothing.
  void set_start(std::string_view first, std::string_view second);
  std::string_view first() const { return {arena_.data() + first_.first, first_.second}; }
  std::string_view second() const { return {arena_.data() + second_.first, second_.second}; }
  void add(bhttp::field f, std::string_view name, std::string_view value);
  // For the parser: the head's bytes are appended as its lines complete (one copy per put(),
  // not one per field) and the start line and fields refer to them by offset. Only on a store
  // the parser cleared, so the head starts at arena offset 0.
  void append_head(std::string_view bytes) { arena_.append(bytes); }
  void set_start_at(uint32_t first_off, uint32_t first_len, uint32_t second_off,
                    uint32_t second_len) {
    first_ = {first_off, first_len};
    second_ = {second_off, second_len};
  }
  void add_at(bhttp::field f, uint32_t name_off, uint32_t name_len, uint32_t value_off,
              uint32_t value_len) {
    append_entry(Entry{f, name_off, name_len, value_off, value_len});
  }
  std::size_t size() const { return count_; }
  bhttp::field id(std::size_t i) const { return entries_[i].name; }
  std::string_view name(std::size_t i) const {
    return {arena_.data() + entries_[i].name_off, entries_[i].name_len};
  }
  std::string_view value(std::size_t i) const {
    return {arena_.data() + entries_[i].value_off, entries_[i].value_len};
  }
  // First value; empty when absent.
  std::string_view find(bhttp::field f) const;
  std::string_view find(std::string_view name) const;
  bool has(bhttp::field f) const;

 private:
  std::string arena_;
  void append_entry(const Entry& e) {
    if (count_ == capacity_) {
      capacity_ = capacity_ == 0 ? 16 : 2 * capacity_;
      entries_.resize(capacity_);
    }
    entries_[count_++] = e;
  }

  // entries_[0, count_) are the fields; the vector only grows, so a reused store allocates
  // nothing per field (and push_back's out-of-line growth path stays off the per-field path).
  std::vector<Entry> entries_;
  std::size_t count_ = 0;
  std::size_t capacity_ = 0;  // entries_.size(), without the division by sizeof(Entry)
  std::pair<uint32_t, uint32_t> first_{0, 0}, second_{0, 0};
};

// Where parsed body bytes go: appended to `*out`, as chunks when `chunked` (each piece the
// parser hands over becomes one chunk; the terminating chunk is the caller's job).
struct BodySink {
  std::string* out = nullptr;
  bool chunked = false;
};

template <bool isRequest>
class MessageParser {
 public:
  using is_request = std::bool_constant<isRequest>;

  // Clears `headers`; the header limit is limits.max_header_bytes (header_limit), the body
  // limit limits.max_body_bytes of decoded body bytes (body_limit; 0: none).
  MessageParser(HeaderStore& headers, const Limits& limits);

  // Parses from the start of `buffer`, which holds the bytes not yet consumed by the previous
  // calls followed by new ones. Returns how many bytes it consumed (never bytes of the next
  // message). While the head is incomplete it consumes nothing and sets need_more; the bytes
  // it scanned are remembered, so a head that trickles in is scanned once.
  std::size_t put(boost::asio::const_buffer buffer, beast::error_code& ec);
  // The peer closed: completes a response delimited by EOF, else partial_message when a
  // message is under way.
  void put_eof(beast::error_code& ec);

  // false: put() returns as soon as the head is complete, before any body byte is consumed.
  void eager(bool v) { eager_ = v; }
  // The response to a HEAD request: no body whatever the head says.
  void skip(bool v) { skip_ = v; }
  void set_sink(BodySink sink) { sink_ = sink; }

  bool got_some() const { return got_some_; }
  bool is_header_done() const { return state_ >= State::kBody; }
  bool is_done() const { return state_ == State::kDone; }
  bool keep_alive() const;
  bool chunked() const { return chunked_; }
  std::optional<uint64_t> content_length() const {
    return has_length_ ? std::optional<uint64_t>(length_) : std::nullopt;
  }

  const HeaderStore& headers() const { return *headers_; }
  // Request line.
  bhttp::verb method() const { return method_; }
  std::string_view method_string() const { return headers_->first(); }
  std::string_view target() const { return headers_->second(); }
  // Status line.
  int status() const { return status_; }
  std::string_view reason() const { return headers_->second(); }

  int version() const { return version_; }
  bool expect_continue() const { return expect_continue_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class State : uint8_t {
    kStartLine,
    kFields,
    kBody,  // is_header_done() from here on
    kBodyToEof,
    kChunkLine,
    kChunkData,
    kChunkEnd,  // the CRLF after chunk data
    kTrailers,
    kDone,
  };

  bool parse_head(const char* begin, const char* end, beast::error_code& ec);
  void parse_start_line(const char* p, const char* eol, beast::error_code& ec);
  void on_field(const char* begin, std::string_view name, std::string_view value,
                beast::error_code& ec);
  void on_framing_field(bhttp::field f, std::string_view value, beast::error_code& ec);
  void finish_header(beast::error_code& ec);
  // One step of the body; returns the bytes it consumed.
  std::size_t parse_body(const char* p, const char* end, beast::error_code& ec);
  std::size_t parse_chunk_line(const char* p, const char* end, beast::error_code& ec);
  std::size_t parse_trailer(const char* p, const char* end, beast::error_code& ec);
  void deliver(const char* p, std::size_t n);

  HeaderStore* headers_;
  BodySink sink_;
  std::size_t header_limit_;
  uint64_t body_budget_;         // body bytes still allowed (UINT64_MAX: unlimited)
  std::size_t head_parsed_ = 0;  // bytes of complete head lines (nothing consumed yet)
  std::size_t head_stored_ = 0;  // of which copied into the HeaderStore
  std::size_t scanned_ = 0;      // bytes known to hold no CR or CTL past the current line start
  std::size_t trailer_bytes_ = 0;
  uint64_t length_ = 0;     // Content-Length value
  uint64_t remaining_ = 0;  // of the Content-Length body or the current chunk
  uint64_t body_bytes_ = 0;
  State state_ = State::kStartLine;
  bhttp::verb method_ = bhttp::verb::unknown;
  int status_ = 0;
  int version_ = 11;
  bool eager_ = true;
  bool skip_ = false;
  bool got_some_ = false;
  bool has_length_ = false;
  bool has_te_ = false;
  bool chunked_ = false;  // Transfer-Encoding's last coding is chunked
  bool has_host_ = false;
  bool close_ = false;       // Connection: close
  bool keep_alive_ = false;  // Connection: keep-alive
  bool need_eof_ = false;    // response body delimited by the end of the connection
  bool expect_continue_ = false;
};

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;

// The status a parse error maps to (431, 413 or 400), as the server answers it.
int status_for_parse_error(const beast::error_code& ec);

// Kong's message for an error status ("Bad request", "Request timeout", ...).
std::string_view kong_message(int status);
// Appends a complete JSON error response ({"message": ...}) to `out`.
void append_error_response(std::string& out, int status, std::string_view message, bool close,
                           std::string_view extra_headers = {});

std::string_view reason_phrase(int status);

// Appends "<hex>\r\n" for a chunk of `size` bytes.
void append_chunk_header(std::string& out, std::size_t size);

}  // namespace suoke::http
