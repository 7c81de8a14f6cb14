// suoke_http_parser_bench: parses one typical proxied request (GET, 9 fields, a 180-byte
// Authorization) or one typical upstream response (6 fields, Content-Length body) N times with
// http::MessageParser, the way the proxy does (fresh parser per message, reused HeaderStore).
//
// Not a test: a fixed workload for instruction counts, e.g.
//   valgrind --tool=callgrind --callgrind-out-file=cg.out build/suoke_http_parser_bench 2000
//   request callgrind_annotate --inclusive=yes cg.out | grep '::put('
// (put() inclusive / N is the parse cost per message). At 6790da5: request 2,516 Ir, response
// 1,862 Ir; Beast's basic_parser before (2911f40^): 7,829 and 5,194.
#include <boost/asio/buffer.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

using suoke::http::HeaderStore;
using suoke::http::Limits;

const std::string kRequest =
    "GET /api/v1/orders/12345?include=items&limit=20 HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Authorization: Bearer "
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
    "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c12abcdefghijklmnop\r\n"
    "X-Request-Id: 7f3b2c1a-9d8e-4f6a-b5c4-3e2d1f0a9b8c\r\n"
    "X-Forwarded-For: 10.0.0.1\r\n"
    "Connection: keep-alive\r\n\r\n";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Content-Length: 62\r\n"
    "Date: Thu, 26 Nov 2026 12:00:00 GMT\r\n"
    "Server: upstream/1.0\r\n"
    "Cache-Control: no-cache\r\n"
    "Connection: keep-alive\r\n\r\n"
    "{\"id\":12345,\"status\":\"shipped\",\"items\":[1,2,3],\"total\":99.95}\n";

template <class Parser>
std::size_t parse_one(HeaderStore& store, const Limits& limits, const std::string& message,
                      std::string& body) {
  std::optional<Parser> parser;
  parser.emplace(store, limits);
  body.clear();
  parser->set_sink({&body, false});
  boost::beast::error_code ec;
  std::size_t used = parser->put(boost::asio::buffer(message.data(), message.size()), ec);
  if (ec || !parser->is_done() || used != message.size()) {
    std::fprintf(stderr, "parse failed: %s\n", ec.message().c_str());
    std::exit(1);
  }
  return store.size() + body.size();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 ||
      (std::string_view(argv[2]) != "request" && std::string_view(argv[2]) != "response")) {
    std::fprintf(stderr, "usage: %s <count> request|response\n", argv[0]);
    return 1;
  }
  long count = std::atol(argv[1]);
  bool response = std::string_view(argv[2]) == "response";
  Limits limits;
  HeaderStore store;
  std::string body;
  body.reserve(1024);
  std::size_t sum = 0;
  for (long i = 0; i < count; ++i) {
    sum += response ? parse_one<suoke::http::ResponseParser>(store, limits, kResponse, body)
                    : parse_one<suoke::http::RequestParser>(store, limits, kRequest, body);
  }
  std::printf("%ld messages, checksum %zu\n", count, sum);
  return 0;
}
