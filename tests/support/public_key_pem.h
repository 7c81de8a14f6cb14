// The PEM (SubjectPublicKeyInfo) of a key's public half, as a JWT credential's rsa_public_key
// holds it: for tests and fuzz targets that generate keys with OpenSSL.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <string>

namespace suoke::testing {

inline std::string public_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return pem;
}

}  // namespace suoke::testing
