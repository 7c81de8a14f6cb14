// Streaming decoder for `Content-Encoding: gzip` / `deflate` response bodies, so the
// response-transformer can still edit JSON that an upstream compressed although we asked it
// for `Accept-Encoding: identity`.
//
// It uses Boost.Beast's port of zlib's inflate (already compiled into the http component),
// so no new dependency is needed; the gzip (RFC 1952) and zlib (RFC 1950) wrappers, with
// their CRC-32 / Adler-32 checks, are handled here. `deflate` accepts both the zlib format
// the RFC specifies and the raw deflate some servers send.
#pragma once

#include <boost/beast/zlib/inflate_stream.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace suoke::gateway::plugins::response_transformer {

class BodyDecoder {
 public:
  enum class Format { kGzip, kDeflate };

  explicit BodyDecoder(Format format) : format_(format) {}

  // Decodes `in` and appends the output to `out`. Fails on corrupt input, or with kind
  // "limit" once `out` would grow beyond `limit` bytes (decompression bombs stop there).
  Result<void> feed(std::string_view in, std::string& out, std::size_t limit);
  // Called at the end of the body: fails when the compressed stream is incomplete.
  Result<void> finish() const;

  // "gzip"/"x-gzip" -> kGzip, "deflate" -> kDeflate; false for anything else.
  static bool format_for(std::string_view content_encoding, Format* format);

 private:
  enum class State { kHeader, kBody, kTrailer, kDone };

  // Each returns false when more input is needed.
  Result<bool> parse_header();
  Result<bool> parse_trailer();
  Result<void> inflate(std::string& out, std::size_t limit);

  Format format_;
  State state_ = State::kHeader;
  enum class Wrapper { kGzip, kZlib, kRaw } wrapper_ = Wrapper::kGzip;
  boost::beast::zlib::inflate_stream inflater_;
  std::string pending_;  // input not consumed yet (headers and trailers arrive in pieces)
  uint32_t crc_ = 0;     // gzip CRC-32 of the output so far
  uint32_t adler_ = 1;   // zlib Adler-32 of the output so far
  uint32_t size_ = 0;    // output size modulo 2^32 (gzip ISIZE)
};

}  // namespace suoke::gateway::plugins::response_transformer
