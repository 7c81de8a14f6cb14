// The JWT segment codec and key construction, below the handler.
#include <gtest/gtest.h>

#include <string>

#include "gateway/plugins/jwt/base64url.h"
#include "gateway/plugins/jwt/crypto.h"

namespace suoke::gateway::plugins::jwt {
namespace {

std::optional<std::string> decode(std::string_view in) {
  std::string out(decoded_size_bound(in.size()), '\0');
  long n = decode_base64url(in, reinterpret_cast<unsigned char*>(out.data()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n));
  return out;
}

TEST(JwtBase64url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    std::string encoded = encode_base64url(bytes);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    auto decoded = decode(encoded);
    ASSERT_TRUE(decoded) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 250));
  }
}

TEST(JwtBase64url, KnownVectors) {
  EXPECT_EQ(encode_base64url("{\"alg\":\"HS256\"}"), "eyJhbGciOiJIUzI1NiJ9");
  EXPECT_EQ(decode("eyJhbGciOiJIUzI1NiJ9").value_or("?"), "{\"alg\":\"HS256\"}");
  EXPECT_EQ(encode_base64url("\xfb\xff"), "-_8");
  EXPECT_EQ(decode("-_8").value_or("?"), "\xfb\xff");
  EXPECT_EQ(decode("").value_or("?"), "");
}

TEST(JwtBase64url, RejectsWhatRfc7515Forbids) {
  EXPECT_FALSE(decode("eyJhbGciOiJIUzI1NiJ9="));  // padding
  EXPECT_FALSE(decode("YQ=="));
  EXPECT_FALSE(decode("+_8"));  // standard alphabet
  EXPECT_FALSE(decode("-/8"));
  EXPECT_FALSE(decode("YW J"));  // whitespace
  EXPECT_FALSE(decode("YW*j"));  // other characters
  EXPECT_FALSE(decode("Y"));     // a length no encoding produces
  EXPECT_FALSE(decode("YWJjZ"));
  EXPECT_FALSE(decode(std::string("YW\0j", 4)));
  EXPECT_FALSE(decode("YR"));  // non-zero unused bits: a second spelling of "a"
  EXPECT_FALSE(decode("YWK"));
  EXPECT_TRUE(decode("YQ"));
  EXPECT_TRUE(decode("YWI"));
}

TEST(JwtBase64Secret, AcceptsBothAlphabetsAndPadding) {
  std::string out;
  ASSERT_TRUE(decode_base64_secret("+/8=", out));
  EXPECT_EQ(out, "\xfb\xff");
  ASSERT_TRUE(decode_base64_secret("-_8", out));
  EXPECT_EQ(out, "\xfb\xff");
  ASSERT_TRUE(decode_base64_secret("c2VjcmV0", out));
  EXPECT_EQ(out, "secret");
  EXPECT_FALSE(decode_base64_secret("not base64!", out));
  EXPECT_FALSE(decode_base64_secret("a", out));
}

TEST(JwtAlgorithms, KongNamesOnly) {
  for (const char* name : {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384",
                           "ES512", "PS256", "PS384", "PS512", "EdDSA"}) {
    auto alg = parse_algorithm(name);
    ASSERT_TRUE(alg) << name;
    EXPECT_EQ(algorithm_name(*alg), name);
  }
  for (const char* name :
       {"none", "None", "NONE", "hs256", "HS256 ", "", "ES256K", "Ed25519", "EDDSA"}) {
    EXPECT_FALSE(parse_algorithm(name)) << name;
  }
}

TEST(JwtKeys, PublicKeyMustBePem) {
  EXPECT_FALSE(VerifyKey::public_key(Algorithm::kRS256, "").ok());
  EXPECT_FALSE(VerifyKey::public_key(Algorithm::kRS256,
                                     "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                   .ok());
  EXPECT_FALSE(VerifyKey::public_key(Algorithm::kHS256, "x").ok());
  EXPECT_FALSE(VerifyKey::hmac(Algorithm::kRS256, "x").ok());
}

TEST(JwtKeys, EmptyHmacSecretIsTheZeroPaddedKey) {
  // RFC 4231 style check: HMAC-SHA256 with an empty key over an empty message.
  auto key = VerifyKey::hmac(Algorithm::kHS256, "");
  ASSERT_TRUE(key.ok());
  const unsigned char expected[32] = {0xb6, 0x13, 0x67, 0x9a, 0x08, 0x14, 0xd9, 0xec,
                                      0x77, 0x2f, 0x95, 0xd7, 0x78, 0xc3, 0x5f, 0xc5,
                                      0xff, 0x16, 0x97, 0xc4, 0x93, 0x71, 0x56, 0x53,
                                      0xc6, 0xc7, 0x12, 0x14, 0x42, 0x92, 0xc5, 0xad};
  EXPECT_TRUE((*key)->verify("", expected, sizeof expected));
  unsigned char wrong[32];
  std::copy(std::begin(expected), std::end(expected), wrong);
  wrong[31] ^= 1;
  EXPECT_FALSE((*key)->verify("", wrong, sizeof wrong));
  EXPECT_FALSE((*key)->verify("", expected, 31));  // truncated tags never match
}

}  // namespace
}  // namespace suoke::gateway::plugins::jwt
