#include "gateway/plugins/response_transformer/decoder.h"

#include <array>

#include "http/message.h"

namespace suoke::gateway::plugins::response_transformer {
namespace {

namespace zlib = boost::beast::zlib;

// A gzip header with optional fields this long is not a real response.
constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t n = 0; n < 256; ++n) {
    uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

uint32_t crc32_update(uint32_t crc, const unsigned char* p, std::size_t n) {
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = kCrcTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t adler32_update(uint32_t adler, const unsigned char* p, std::size_t n) {
  uint32_t a = adler & 0xffff, b = adler >> 16;
  while (n > 0) {
    // 5552 is the largest block for which b cannot overflow before the modulo (zlib's NMAX).
    std::size_t block = n < 5552 ? n : 5552;
    n -= block;
    while (block--) {
      a += *p++;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return (b << 16) | a;
}

uint32_t le32(const std::string& s, std::size_t at) {
  auto b = [&](std::size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(s[at + i]));
  };
  return b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
}

}  // namespace

bool BodyDecoder::format_for(std::string_view content_encoding, Format* format) {
  if (http::iequals(content_encoding, "gzip") || http::iequals(content_encoding, "x-gzip")) {
    *format = Format::kGzip;
    return true;
  }
  if (http::iequals(content_encoding, "deflate")) {
    *format = Format::kDeflate;
    return true;
  }
  return false;
}

Result<bool> BodyDecoder::parse_header() {
  const std::string& p = pending_;
  if (format_ == Format::kDeflate) {
    if (p.size() < 2) return false;
    auto cmf = static_cast<unsigned char>(p[0]), flg = static_cast<unsigned char>(p[1]);
    bool zlib_header = (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
    if (zlib_header) {
      if (flg & 0x20) return Error::make("deflate body needs a preset dictionary", "parse");
      wrapper_ = Wrapper::kZlib;
      pending_.erase(0, 2);
    } else {
      wrapper_ = Wrapper::kRaw;
    }
    return true;
  }
  wrapper_ = Wrapper::kGzip;
  if (p.size() < 10) return false;
  if (static_cast<unsigned char>(p[0]) != 0x1f || static_cast<unsigned char>(p[1]) != 0x8b) {
    return Error::make("not a gzip stream", "parse");
  }
  if (p[2] != 8) return Error::make("gzip: unknown compression method", "parse");
  auto flags = static_cast<unsigned char>(p[3]);
  if (flags & 0xe0) return Error::make("gzip: reserved flags set", "parse");
  std::size_t at = 10;
  if (flags & 0x04) {  // FEXTRA
    if (p.size() < at + 2) return false;
    std::size_t xlen =
        static_cast<unsigned char>(p[at]) | (static_cast<unsigned char>(p[at + 1]) << 8);
    at += 2 + xlen;
  }
  for (unsigned char bit : {0x08, 0x10}) {  // FNAME, FCOMMENT: zero-terminated
    if (!(flags & bit)) continue;
    if (at >= p.size()) return false;
    std::size_t zero = p.find('\0', at);
    if (zero == std::string::npos) return false;
    at = zero + 1;
  }
  if (flags & 0x02) at += 2;  // FHCRC
  if (p.size() < at) return false;
  pending_.erase(0, at);
  return true;
}

Result<bool> BodyDecoder::parse_trailer() {
  switch (wrapper_) {
    case Wrapper::kRaw:
      return true;
    case Wrapper::kZlib: {
      if (pending_.size() < 4) return false;
      auto b = [&](std::size_t i) {
        return static_cast<uint32_t>(static_cast<unsigned char>(pending_[i]));
      };
      uint32_t expected = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
      if (expected != adler_) return Error::make("deflate: Adler-32 mismatch", "parse");
      pending_.erase(0, 4);
      return true;
    }
    case Wrapper::kGzip: {
      if (pending_.size() < 8) return false;
      if (le32(pending_, 0) != crc_) return Error::make("gzip: CRC-32 mismatch", "parse");
      if (le32(pending_, 4) != size_) return Error::make("gzip: length mismatch", "parse");
      pending_.erase(0, 8);
      return true;
    }
  }
  return true;
}

Result<void> BodyDecoder::inflate(std::string& out, std::size_t limit) {
  unsigned char buf[16384];
  zlib::z_params zs;
  zs.next_in = pending_.data();
  zs.avail_in = pending_.size();
  for (;;) {
    zs.next_out = buf;
    zs.avail_out = sizeof buf;
    std::size_t before = zs.avail_in;
    boost::system::error_code ec;
    inflater_.write(zs, zlib::Flush::sync, ec);
    std::size_t produced = sizeof buf - zs.avail_out;
    if (produced > 0) {
      out.append(reinterpret_cast<const char*>(buf), produced);
      crc_ = crc32_update(crc_, buf, produced);
      adler_ = adler32_update(adler_, buf, produced);
      size_ += static_cast<uint32_t>(produced);
      if (out.size() > limit) {
        // Stop early (a bomb must not expand further) but keep the stream consistent: what
        // was decoded is in `out`, unconsumed input stays pending for a later feed().
        if (ec == zlib::error::end_of_stream) state_ = State::kTrailer;
        pending_.erase(0, pending_.size() - zs.avail_in);
        return Error::make("decoded body exceeds the limit", "limit");
      }
    }
    if (ec == zlib::error::end_of_stream) {
      state_ = State::kTrailer;
      break;
    }
    if (ec == zlib::error::need_buffers) {
      if (zs.avail_in == 0 || produced == 0) break;
      continue;
    }
    if (ec) return Error::make("invalid compressed body: " + ec.message(), "parse");
    if (zs.avail_in == 0 && produced < sizeof buf) break;
    if (produced == 0 && zs.avail_in == before) break;  // no progress: wait for input
  }
  pending_.erase(0, pending_.size() - zs.avail_in);
  return Ok();
}

Result<void> BodyDecoder::feed(std::string_view in, std::string& out, std::size_t limit) {
  pending_.append(in);
  for (;;) {
    switch (state_) {
      case State::kHeader: {
        auto r = parse_header();
        if (!r.ok()) return r.error();
        if (!*r) {
          if (pending_.size() > kMaxHeaderBytes)
            return Error::make("gzip header too long", "parse");
          return Ok();
        }
        inflater_.reset();
        crc_ = 0;
        adler_ = 1;
        size_ = 0;
        state_ = State::kBody;
        break;
      }
      case State::kBody: {
        auto r = inflate(out, limit);
        if (!r.ok()) return r;
        if (state_ == State::kBody) return Ok();  // needs more input
        break;
      }
      case State::kTrailer: {
        auto r = parse_trailer();
        if (!r.ok()) return r.error();
        if (!*r) return Ok();
        state_ = State::kDone;
        break;
      }
      case State::kDone:
        if (pending_.empty()) return Ok();
        // Another gzip member may follow (RFC 1952 allows concatenation); anything else is
        // trailing garbage.
        if (wrapper_ != Wrapper::kGzip)
          return Error::make("data after the end of the deflate stream", "parse");
        if (static_cast<unsigned char>(pending_[0]) != 0x1f) {
          return Error::make("data after the end of the gzip stream", "parse");
        }
        state_ = State::kHeader;
        break;
    }
  }
}

Result<void> BodyDecoder::finish() const {
  if (state_ != State::kDone) return Error::make("compressed body is truncated", "parse");
  return Ok();
}

}  // namespace suoke::gateway::plugins::response_transformer
