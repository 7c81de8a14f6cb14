// Redis Cluster key hashing: CRC16 (XMODEM variant, as the cluster spec defines it) and the
// key -> hash slot mapping with hash tags.
#pragma once

#include <cstdint>
#include <string_view>

namespace suoke::redis::cluster {

inline constexpr int kSlotCount = 16384;

// CRC16-CCITT/XMODEM: polynomial 0x1021, init 0, no reflection, no final xor.
uint16_t crc16(std::string_view data);

// The part of `key` that is hashed: the content of the first "{...}" when the first '{' is
// followed by a '}' with at least one byte in between; the whole key otherwise (so "{}" and
// "{}{x}" hash whole, "{a}{b}" hashes "a", "{{a}}" hashes "{a").
std::string_view hash_tag(std::string_view key);

// CRC16(hash_tag(key)) mod 16384.
uint16_t key_slot(std::string_view key);

}  // namespace suoke::redis::cluster
