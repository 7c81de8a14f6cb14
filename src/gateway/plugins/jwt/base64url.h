// Base64 decoding for JWT segments (RFC 7515 §2: base64url without padding) and for
// credential secrets (`secret_is_base64`, either alphabet, padding optional).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace suoke::gateway::plugins::jwt {

// Upper bound of the decoded size of `n` base64 characters.
constexpr std::size_t decoded_size_bound(std::size_t n) { return n / 4 * 3 + 2; }

// Strict base64url: alphabet [A-Za-z0-9-_] only, no '=' padding, no whitespace, and the
// unused low bits of the last character must be zero (one canonical encoding per value, so a
// token cannot be altered without changing its decoded bytes). Writes into `out`, which must
// hold decoded_size_bound(in.size()) bytes; returns the decoded length or -1 when malformed.
long decode_base64url(std::string_view in, unsigned char* out);

// Lenient decoding of a configured secret: standard or URL alphabet, optional padding.
// Returns false when malformed.
bool decode_base64_secret(std::string_view in, std::string& out);

// Unpadded base64url encoding (tests, seeds and tools that mint tokens).
std::string encode_base64url(std::string_view in);

}  // namespace suoke::gateway::plugins::jwt
