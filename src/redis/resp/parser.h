// Incremental RESP2/RESP3 reply parser (the role of Dragonfly's RedisParser): bytes go in as
// they arrive from the socket, complete Values come out. Resumable: a value split across any
// number of reads is assembled without rescanning what was already parsed (only a bulk
// header whose payload has not fully arrived is looked at again).
//
// Untrusted input: every length is bounded (ParserLimits) before memory is reserved, and
// malformed input yields a precise error ("RESP protocol error: expected '\r\n' after bulk
// string at byte 17, got 'x'") after which the parser stays failed: the stream cannot be
// resynchronised, so the connection must be closed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "redis/client.h"

namespace suoke::redis::resp {

struct ParserLimits {
  // Redis' proto-max-bulk-len default.
  int64_t max_bulk_length = 512LL * 1024 * 1024;
  // Elements of one aggregate (map: key/value pairs count twice).
  int64_t max_array_length = 256LL * 1024 * 1024;
  // Nesting of aggregates; replies nest a few levels (CLUSTER SHARDS: 4), never hundreds.
  int max_depth = 64;
  // Simple strings, errors, integers, doubles, lengths: a line longer than this without CRLF
  // is garbage, not a reply still arriving.
  std::size_t max_line_length = 64 * 1024 * 1024;
};

class Parser {
 public:
  explicit Parser(ParserLimits limits = {});

  // Appends bytes (copied).
  void feed(std::string_view bytes);
  // Zero-copy feeding: the socket reads straight into the parser's buffer.
  // prepare(n) returns room for at least n bytes; commit(k) makes k of them visible.
  char* prepare(std::size_t n);
  void commit(std::size_t k);

  // Returns the next complete value, nullopt when more bytes are needed, or the protocol
  // error (sticky: every later call returns it too).
  Result<std::optional<Value>> next();

  bool failed() const { return failed_; }
  // Bytes received but not yet consumed into values (incl. a partial value's bytes).
  std::size_t buffered() const { return size_ - pos_; }
  // Total bytes consumed since construction; error offsets are relative to this stream.
  uint64_t consumed() const { return base_ + pos_; }

  void reset();

 private:
  struct Frame {
    Value value;
    int64_t remaining = 0;
    bool attribute = false;  // RESP3 '|': parsed and dropped
  };

  // Parses at most one token at pos_; returns false when more bytes are needed.
  Result<bool> step();
  // Finds the CRLF-terminated line starting at `start`; *next is the offset after CRLF.
  Result<bool> read_line(std::size_t start, std::string_view* line, std::size_t* next);
  Result<int64_t> parse_integer(std::string_view line, uint64_t at, const char* what);
  Error fail(const std::string& message);
  Error fail_expected(const char* expected, uint64_t at, char got);
  void complete(Value value);
  void compact();

  ParserLimits limits_;
  std::string buf_;
  std::size_t pos_ = 0;
  std::size_t size_ = 0;  // bytes of buf_ that hold data (buf_ may be larger after prepare)
  uint64_t base_ = 0;     // stream offset of buf_[0]
  std::vector<Frame> stack_;
  std::deque<Value> ready_;
  bool failed_ = false;
  Error error_;
};

// The byte as shown in error messages: 'x' when printable, '\xNN' otherwise.
std::string describe_byte(char c);

}  // namespace suoke::redis::resp
