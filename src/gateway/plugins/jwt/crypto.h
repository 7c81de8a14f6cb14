// JWS signature verification (RFC 7518 algorithms plus RFC 8037 EdDSA) on OpenSSL 3.
//
// A VerifyKey is built once per credential when the handler is created (parsing PEM,
// fetching digests, keying the HMAC) and is then immutable: verify() may be called from any
// number of threads at once, each call using its own short-lived OpenSSL contexts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "core/result.h"

namespace suoke::gateway::plugins::jwt {

enum class Algorithm : uint8_t {
  kHS256,
  kHS384,
  kHS512,
  kRS256,
  kRS384,
  kRS512,
  kES256,
  kES384,
  kES512,
  kPS256,
  kPS384,
  kPS512,
  kEdDSA,
};

// Kong's supported `alg` values, matched case-sensitively ("none", "hs256" are not algorithms).
std::optional<Algorithm> parse_algorithm(std::string_view name);
std::string_view algorithm_name(Algorithm alg);
inline bool is_hmac(Algorithm alg) { return alg <= Algorithm::kHS512; }

class VerifyKey {
 public:
  virtual ~VerifyKey() = default;

  // An HMAC key for HS256/384/512 from the raw secret bytes.
  static Result<std::unique_ptr<const VerifyKey>> hmac(Algorithm alg, std::string_view secret);
  // A public key (SubjectPublicKeyInfo PEM) for the asymmetric algorithms. The key type must
  // fit the algorithm (RSA for RS/PS, the matching curve for ES, Ed25519/Ed448 for EdDSA), so
  // a credential cannot be used with a signature scheme it was not meant for.
  static Result<std::unique_ptr<const VerifyKey>> public_key(Algorithm alg, std::string_view pem);

  // True when `sig` is a valid signature of `signing_input` (header.payload as sent).
  // HMAC tags are compared in constant time; ES signatures are JOSE's raw r||s.
  virtual bool verify(std::string_view signing_input, const unsigned char* sig,
                      std::size_t sig_len) const = 0;
};

}  // namespace suoke::gateway::plugins::jwt
