#include "http/parser.h"

#include <boost/beast/http/status.hpp>
#include <charconv>

#include "core/json_string.h"
#include "http/message.h"

namespace suoke::http {

void HeaderStore::add(bhttp::field f, std::string_view name, std::string_view value) {
  Entry e;
  e.name = f;
  e.name_off = static_cast<uint32_t>(arena_.size());
  e.name_len = static_cast<uint32_t>(name.size());
  arena_.append(name);
  e.value_off = static_cast<uint32_t>(arena_.size());
  e.value_len = static_cast<uint32_t>(value.size());
  arena_.append(value);
  entries_.push_back(e);
}

void HeaderStore::set_start(std::string_view first, std::string_view second) {
  first_ = {static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(first.size())};
  arena_.append(first);
  second_ = {static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(second.size())};
  arena_.append(second);
}

std::string_view HeaderStore::find(bhttp::field f) const {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].name == f) return value(i);
  }
  return {};
}

std::string_view HeaderStore::find(std::string_view n) const {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (iequals(name(i), n)) return value(i);
  }
  return {};
}

bool HeaderStore::has(bhttp::field f) const {
  for (const auto& e : entries_) {
    if (e.name == f) return true;
  }
  return false;
}

template <bool isRequest>
void MessageParser<isRequest>::on_request_impl(bhttp::verb method, beast::string_view method_str,
                                               beast::string_view target, int version,
                                               beast::error_code& ec) {
  method_ = method;
  version_ = version;
  headers_->set_start(method_str, target);
}

template <bool isRequest>
void MessageParser<isRequest>::on_response_impl(int code, beast::string_view reason, int version,
                                                beast::error_code& ec) {
  status_ = code;
  version_ = version;
  headers_->set_start({}, reason);
}

template <bool isRequest>
void MessageParser<isRequest>::on_field_impl(bhttp::field name, beast::string_view name_string,
                                             beast::string_view value, beast::error_code& ec) {
  // Trailer fields of a chunked body arrive here too; nothing downstream uses them.
  if (this->is_header_done()) return;
  if (name == bhttp::field::expect && iequals(value, "100-continue")) expect_continue_ = true;
  if (name == bhttp::field::transfer_encoding) has_transfer_encoding_ = true;
  headers_->add(name, name_string, value);
}

template <bool isRequest>
void MessageParser<isRequest>::on_header_impl(beast::error_code& ec) {
  if constexpr (isRequest) {
    // RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked has no
    // determinable length; Beast would read it as bodiless, which is a smuggling vector.
    if (has_transfer_encoding_ && !this->chunked()) {
      ec = bhttp::error::bad_transfer_encoding;
      return;
    }
    if (version_ >= 11 && !headers_->has(bhttp::field::host)) {
      ec = bhttp::error::bad_field;
      return;
    }
  }
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::on_body_impl(beast::string_view body, beast::error_code& ec) {
  body_bytes_ += body.size();
  if (sink_.out && !body.empty()) {
    if (sink_.chunked) {
      append_chunk_header(*sink_.out, body.size());
      sink_.out->append(body);
      sink_.out->append("\r\n", 2);
    } else {
      sink_.out->append(body);
    }
  }
  return body.size();
}

template <bool isRequest>
std::size_t MessageParser<isRequest>::on_chunk_body_impl(std::uint64_t remain,
                                                         beast::string_view body,
                                                         beast::error_code& ec) {
  return on_body_impl(body, ec);
}

template class MessageParser<true>;
template class MessageParser<false>;

int status_for_parse_error(const beast::error_code& ec) {
  if (ec == bhttp::error::header_limit) return 431;
  if (ec == bhttp::error::body_limit) return 413;
  return 400;
}

std::string_view kong_message(int status) {
  switch (status) {
    case 400:
      return "Bad request";
    case 404:
      return "Not found";
    case 405:
      return "Method not allowed";
    case 408:
      return "Request timeout";
    case 411:
      return "Length required";
    case 413:
      return "Payload too large";
    case 414:
      return "URI too long";
    case 417:
      return "Expectation failed";
    case 431:
      return "Request header or cookie too large";
    case 500:
      return "An unexpected error occurred";
    case 502:
      return "An invalid response was received from the upstream server";
    case 503:
      return "The upstream server is currently unavailable";
    case 504:
      return "The upstream server is timing out";
    default:
      return "An unexpected error occurred";
  }
}

std::string_view reason_phrase(int status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return {r.data(), r.size()};
}

void append_chunk_header(std::string& out, std::size_t size) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), size, 16);
  out.append(buf, end);
  out.append("\r\n", 2);
}

void append_error_response(std::string& out, int status, std::string_view message, bool close,
                           std::string_view extra_headers) {
  std::string body = "{\"message\":";
  append_json_string(body, message);
  body.push_back('}');
  out.append("HTTP/1.1 ");
  out.append(std::to_string(status));
  out.push_back(' ');
  out.append(reason_phrase(status));
  out.append("\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ");
  out.append(std::to_string(body.size()));
  out.append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append(extra_headers);
  out.append("\r\n");
  out.append(body);
}

}  // namespace suoke::http
