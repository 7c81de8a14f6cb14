// Fuzzes the RESP reply parser (src/redis/resp/parser.cpp): arbitrary bytes, fed in pieces
// whose sizes come from the input, must yield values or one protocol error, never a crash,
// hang or unbounded allocation. Every parsed value must survive encode -> parse unchanged,
// and a command built from the input must parse back as the same arguments.
//
// Input: byte 0 seeds the feed split sizes; the rest is the server's byte stream.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "redis/resp/encoder.h"
#include "redis/resp/parser.h"
#include "support/redis_value.h"

namespace {

using suoke::redis::Command;
using suoke::redis::Value;
using suoke::testing::same;
namespace resp = suoke::redis::resp;

// Maps of odd size cannot be written back; they only come from a truncated stream anyway.
bool encodable(const Value& v) {
  if (v.type == Value::Type::kMap && v.elements.size() % 2 != 0) return false;
  for (const Value& e : v.elements) {
    if (!encodable(e)) return false;
  }
  return true;
}

void round_trip(const Value& v) {
  if (!encodable(v)) return;
  std::string wire = resp::encode_value(v);
  resp::Parser p;
  p.feed(wire);
  auto r = p.next();
  if (!r.ok() || !r->has_value()) abort();
  const Value& back = **r;
  // A null encodes as RESP2 nil; a RESP3 null and a nil array both come back as kNull.
  if (!same(back, v)) abort();
  if (p.buffered() != 0) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  unsigned seed = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  resp::ParserLimits limits;
  limits.max_bulk_length = 1 << 20;  // keep allocations small; the checks are the same
  limits.max_array_length = 1 << 16;
  limits.max_depth = 32;
  limits.max_line_length = 1 << 16;
  resp::Parser parser(limits);
  std::size_t off = 0;
  bool failed = false;
  while (off < stream.size() && !failed) {
    std::size_t chunk = 1 + (seed % 17);
    seed = seed * 1103515245u + 12345u;
    chunk = std::min(chunk, stream.size() - off);
    char* dst = parser.prepare(chunk);
    std::copy(stream.data() + off, stream.data() + off + chunk, dst);
    parser.commit(chunk);
    off += chunk;
    for (;;) {
      auto r = parser.next();
      if (!r.ok()) {
        if (r.error().message.rfind("RESP protocol error: ", 0) != 0) abort();
        if (parser.next().ok()) abort();  // errors are sticky
        failed = true;
        break;
      }
      if (!r->has_value()) break;
      round_trip(**r);
    }
  }
  if (!failed && parser.consumed() + parser.buffered() != stream.size()) abort();

  // Commands: the input split on byte 0xff into arguments.
  Command cmd;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    if (i == stream.size() || static_cast<unsigned char>(stream[i]) == 0xff) {
      cmd.emplace_back(stream.substr(start, i - start));
      start = i + 1;
    }
  }
  resp::Parser cp;
  cp.feed(resp::encode_command(cmd));
  auto r = cp.next();
  if (!r.ok() || !r->has_value()) abort();
  const Value& arr = **r;
  if (arr.type != Value::Type::kArray || arr.elements.size() != cmd.size()) abort();
  for (std::size_t i = 0; i < cmd.size(); ++i) {
    if (arr.elements[i].type != Value::Type::kBulkString || arr.elements[i].str != cmd[i]) abort();
  }
  return 0;
}
