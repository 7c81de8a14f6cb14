// DUMP payloads for tests: Redis' CRC64 and a rewrite of the payload's RDB version, so a real
// server can be made to answer RESTORE with "DUMP payload version or checksum are wrong" (the
// reply an older target gives a newer source's payload) while the checksum stays valid.
//
// Payload layout: <object type + value> <RDB version: 2 bytes, little endian> <CRC64 of all
// the bytes before it: 8 bytes, little endian>.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace suoke::testing {

// Redis' crc64 (src/crc64.c): the Jones polynomial 0xad93d23594c935a9, reflected input and
// output, initial value 0, no final xor. crc64("123456789") == 0xe9c6d914c4b8d9ca.
inline uint64_t redis_crc64(std::string_view data) {
  constexpr uint64_t kReflectedPoly = 0x95ac9329ac4bc9b5ULL;  // 0xad93d23594c935a9 bit-reversed
  uint64_t crc = 0;
  for (unsigned char byte : data) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ kReflectedPoly : crc >> 1;
  }
  return crc;
}

inline uint16_t dump_rdb_version(std::string_view payload) {
  if (payload.size() < 10) throw std::invalid_argument("DUMP payload shorter than its footer");
  const std::size_t at = payload.size() - 10;
  return static_cast<uint16_t>(static_cast<unsigned char>(payload[at]) |
                               (static_cast<unsigned char>(payload[at + 1]) << 8));
}

// Sets the payload's RDB version and recomputes its CRC64 footer.
inline void set_dump_rdb_version(std::string& payload, uint16_t version) {
  if (payload.size() < 10) throw std::invalid_argument("DUMP payload shorter than its footer");
  const std::size_t at = payload.size() - 10;
  payload[at] = static_cast<char>(version & 0xff);
  payload[at + 1] = static_cast<char>(version >> 8);
  uint64_t crc = redis_crc64(std::string_view(payload).substr(0, payload.size() - 8));
  for (int i = 0; i < 8; ++i) payload[payload.size() - 8 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
}

}  // namespace suoke::testing
