// libFuzzer target for the HTTP/1.1 parsing the server and the proxy run on untrusted bytes:
// http::RequestParser with the server's default Limits, fed the way a connection feeds it
// (in pieces, consuming what each put() used, pipelined messages one after another). The
// proxy's upstream-response parser runs on the same bytes too.
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

using suoke::http::BodySink;
using suoke::http::HeaderStore;
using suoke::http::Limits;

template <class Parser>
void run(std::string_view input, std::size_t piece, bool chunk_sink, bool head) {
  Limits limits;
  limits.max_body_bytes = 1 << 20;
  HeaderStore headers;
  std::string body;
  std::string buffered;
  std::optional<Parser> parser;
  auto fresh = [&] {
    parser.emplace(headers, limits);
    parser->set_sink(BodySink{&body, chunk_sink});
    if constexpr (!Parser::is_request::value) {
      if (head) parser->skip(true);
    }
  };
  fresh();
  for (int messages = 0; messages < 64;) {
    if (buffered.empty() || !input.empty()) {
      if (input.empty() && buffered.empty()) break;
      std::size_t n = std::min(piece, input.size());
      buffered.append(input.substr(0, n));
      input.remove_prefix(n);
    }
    boost::beast::error_code ec;
    std::size_t used = parser->put(boost::asio::buffer(buffered.data(), buffered.size()), ec);
    if (used > buffered.size()) __builtin_trap();
    buffered.erase(0, used);
    if (ec && ec != boost::beast::http::error::need_more) {
      (void)suoke::http::status_for_parse_error(ec);
      return;
    }
    if (parser->is_done()) {
      // Exercise the accessors the server reads after a message.
      for (std::size_t i = 0; i < headers.size(); ++i) {
        (void)headers.name(i);
        (void)headers.value(i);
      }
      (void)parser->keep_alive();
      body.clear();
      ++messages;
      fresh();
      continue;
    }
    if ((used == 0 || ec) && input.empty()) {
      if (parser->got_some()) {
        boost::beast::error_code eof;
        parser->put_eof(eof);
      }
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t piece = (mode & 0x0F) == 0 ? input.size() + 1 : (mode & 0x0F) * 7;
  if (mode & 0x80) {
    run<suoke::http::ResponseParser>(input, piece, mode & 0x40, mode & 0x20);
  } else {
    run<suoke::http::RequestParser>(input, piece, mode & 0x40, false);
  }
  return 0;
}
