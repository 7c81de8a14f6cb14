// Internal (includes Beast): the HTTP/1.1 message parsers used by http::Server, the proxy and
// the fuzz target. They derive from Beast's basic_parser instead of using parser<Body> so that
// header fields land in a per-connection arena that is reused across requests (no allocation
// per field in steady state) and body bytes go straight into the caller's output buffer,
// optionally re-framed as chunks, which is what the streaming proxy needs.
#pragma once

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace suoke::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

class HeaderStore {
 public:
  struct Entry {
    bhttp::field name;
    uint32_t name_off, name_len, value_off, value_len;
  };

  void clear() {
    arena_.clear();
    entries_.clear();
    first_ = second_ = {0, 0};
  }
  // The start line's two variable parts (method and target, or reason), kept in the arena so
  // a reused store allocates nothing.
  void set_start(std::string_view first, std::string_view second);
  std::string_view first() const { return {arena_.data() + first_.first, first_.second}; }
  std::string_view second() const { return {arena_.data() + second_.first, second_.second}; }
  void add(bhttp::field f, std::string_view name, std::string_view value);
  std::size_t size() const { return entries_.size(); }
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
  std::vector<Entry> entries_;
  std::pair<uint32_t, uint32_t> first_{0, 0}, second_{0, 0};
};

// Where parsed body bytes go: appended to `*out`, as chunks when `chunked` (each piece the
// parser hands over becomes one chunk; the terminating chunk is the caller's job).
struct BodySink {
  std::string* out = nullptr;
  bool chunked = false;
};

template <bool isRequest>
class MessageParser : public bhttp::basic_parser<isRequest> {
 public:
  MessageParser(HeaderStore& headers, const Limits& limits) : headers_(&headers) {
    headers_->clear();
    this->header_limit(
        static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
    if (limits.max_body_bytes == 0) {
      this->body_limit(boost::none);
    } else {
      this->body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));
    }
    this->eager(true);
  }

  void set_sink(BodySink sink) { sink_ = sink; }
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
  void on_request_impl(bhttp::verb method, beast::string_view method_str, beast::string_view target,
                       int version, beast::error_code& ec) override;
  void on_response_impl(int code, beast::string_view reason, int version,
                        beast::error_code& ec) override;
  void on_field_impl(bhttp::field name, beast::string_view name_string, beast::string_view value,
                     beast::error_code& ec) override;
  void on_header_impl(beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         beast::error_code& ec) override {}
  std::size_t on_body_impl(beast::string_view body, beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, beast::string_view extensions,
                            beast::error_code& ec) override {}
  std::size_t on_chunk_body_impl(std::uint64_t remain, beast::string_view body,
                                 beast::error_code& ec) override;
  void on_finish_impl(beast::error_code& ec) override {}

  HeaderStore* headers_;
  BodySink sink_;
  bhttp::verb method_ = bhttp::verb::unknown;
  int status_ = 0;
  int version_ = 11;
  bool expect_continue_ = false;
  bool has_transfer_encoding_ = false;
  uint64_t body_bytes_ = 0;
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
