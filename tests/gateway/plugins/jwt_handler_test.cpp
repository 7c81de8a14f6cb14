// The jwt plugin against Kong 3.x's behavior (kong/plugins/jwt/handler.lua, jwt_parser.lua):
// an attack suite where every rejection has its Kong message, a valid token per algorithm
// (keys generated here with OpenSSL), claims against a FakeClock, anonymous consumers, and
// token extraction from query, cookies and headers.
#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/plugins/chain.h"
#include "gateway/plugins/jwt/base64url.h"
#include "gateway/plugins/jwt/handler.h"
#include "gateway/plugins/registry.h"
#include "support/public_key_pem.h"

namespace suoke::gateway::plugins {
namespace {

namespace json = boost::json;
using jwt::encode_base64url;
using suoke::testing::public_pem;

constexpr int64_t kNow = 1'700'000'000;  // FakeClock's default start, in seconds

// ---- keys and signing ---------------------------------------------------------------------

struct KeyPair {
  EVP_PKEY* pkey = nullptr;
  std::string public_pem;
};

KeyPair make_pair(EVP_PKEY* key) { return KeyPair{key, public_pem(key)}; }

// Generated once for the whole binary: RSA key generation is slow.
struct Keys {
  KeyPair rsa = make_pair(EVP_RSA_gen(2048));
  KeyPair rsa_other = make_pair(EVP_RSA_gen(2048));
  KeyPair p256 = make_pair(EVP_EC_gen("P-256"));
  KeyPair p384 = make_pair(EVP_EC_gen("P-384"));
  KeyPair p521 = make_pair(EVP_EC_gen("P-521"));
  KeyPair ed25519 = make_pair(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
};

const Keys& keys() {
  static const Keys* k = new Keys();
  return *k;
}

const EVP_MD* md_for(std::string_view alg) {
  if (alg.ends_with("256")) return EVP_sha256();
  if (alg.ends_with("384")) return EVP_sha384();
  return EVP_sha512();
}

std::string digest_sign(EVP_PKEY* key, const EVP_MD* md, std::string_view input, int padding) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx, &pctx, md, nullptr, key), 1);
  if (padding == RSA_PKCS1_PSS_PADDING) {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  std::size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(input.data());
  EXPECT_EQ(EVP_DigestSign(ctx, nullptr, &len, in, input.size()), 1);
  std::string sig(len, '\0');
  EXPECT_EQ(
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()), 1);
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

// DER ECDSA-Sig-Value to JOSE's fixed-width r||s.
std::string der_to_raw(const std::string& der, std::size_t half) {
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string raw(2 * half, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()),
               static_cast<int>(half));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + half,
               static_cast<int>(half));
  ECDSA_SIG_free(sig);
  return raw;
}

std::string hmac(std::string_view alg, std::string_view secret, std::string_view input) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md_for(alg), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// Signs `input` as `alg` with the key the test credentials use for it.
std::string sign(std::string_view alg, std::string_view input, std::string_view secret = "s3cret") {
  const Keys& k = keys();
  if (alg.starts_with("HS")) return hmac(alg, secret, input);
  if (alg.starts_with("RS")) return digest_sign(k.rsa.pkey, md_for(alg), input, RSA_PKCS1_PADDING);
  if (alg.starts_with("PS"))
    return digest_sign(k.rsa.pkey, md_for(alg), input, RSA_PKCS1_PSS_PADDING);
  if (alg == "ES256") return der_to_raw(digest_sign(k.p256.pkey, EVP_sha256(), input, 0), 32);
  if (alg == "ES384") return der_to_raw(digest_sign(k.p384.pkey, EVP_sha384(), input, 0), 48);
  if (alg == "ES512") return der_to_raw(digest_sign(k.p521.pkey, EVP_sha512(), input, 0), 66);
  return digest_sign(k.ed25519.pkey, nullptr, input, 0);  // EdDSA
}

std::string token_from(const json::value& header, const json::value& claims, std::string_view alg,
                       std::string_view secret = "s3cret") {
  std::string input =
      encode_base64url(json::serialize(header)) + "." + encode_base64url(json::serialize(claims));
  return input + "." + encode_base64url(sign(alg, input, secret));
}

// A token for the credential `<alg>-key` of that algorithm.
std::string token(std::string_view alg, json::object claims = {}) {
  if (!claims.contains("iss")) claims["iss"] = std::string(alg) + "-key";
  return token_from(json::object{{"typ", "JWT"}, {"alg", alg}}, claims, alg);
}

const char* const kAlgorithms[] = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256",
                                   "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA"};

// ---- requests -----------------------------------------------------------------------------

class Headers final : public HeaderView {
 public:
  explicit Headers(http::HeaderList list) : list_(std::move(list)) {}
  std::size_t size() const override { return list_.size(); }
  std::string_view name(std::size_t i) const override { return list_[i].first; }
  std::string_view value(std::size_t i) const override { return list_[i].second; }
  std::string_view get(std::string_view n) const override { return http::find_header(list_, n); }

 private:
  http::HeaderList list_;
};

struct Outcome {
  int status = 0;  // 0: no exit (the request would be proxied)
  std::string body;
  std::string www_authenticate;
  http::HeaderList upstream;
  const Consumer* consumer = nullptr;
  std::string credential_id;
  std::string credential_identifier;

  std::string message() const {
    auto v = json::parse(body);
    return std::string(v.at("message").as_string());
  }
  std::string upstream_header(std::string_view name) const {
    return std::string(http::find_header(upstream, name));
  }
  bool has_upstream(std::string_view name) const {
    for (const auto& [k, v] : upstream) {
      if (http::iequals(k, name)) return true;
    }
    return false;
  }
};

json::value check_config(json::value config) {
  const PluginSchema* s = find_schema("jwt");
  schema::Errors errors;
  json::value out = schema::validate(*s->config, &config, {{"config", -1}}, errors);
  EXPECT_TRUE(errors.empty()) << schema::schema_violation_message(errors);
  return out;
}

class JwtPlugin : public ::testing::Test {
 protected:
  JwtPlugin() : runtime_(clock_) {
    snapshot_.consumers = {
        {"c-alice", "alice", "A-1"}, {"c-bob", "bob", ""}, {"c-anon", "anonymous", ""}};
    const Keys& k = keys();
    for (const char* alg : kAlgorithms) {
      JwtCredential c;
      c.id = std::string("cred-") + alg;
      c.consumer_id = "c-alice";
      c.key = std::string(alg) + "-key";
      c.secret = "s3cret";
      c.algorithm = alg;
      std::string_view a = alg;
      if (a.starts_with("RS") || a.starts_with("PS")) c.rsa_public_key = k.rsa.public_pem;
      if (a == "ES256") c.rsa_public_key = k.p256.public_pem;
      if (a == "ES384") c.rsa_public_key = k.p384.public_pem;
      if (a == "ES512") c.rsa_public_key = k.p521.public_pem;
      if (a == "EdDSA") c.rsa_public_key = k.ed25519.public_pem;
      snapshot_.jwt_credentials.push_back(c);
    }
    snapshot_.jwt_credentials.push_back(
        {"cred-bob", "c-bob", "bob-key", "bobs-secret", "HS256", ""});
    snapshot_.jwt_credentials.push_back(
        {"cred-orphan", "c-gone", "orphan-key", "s3cret", "HS256", ""});
    snapshot_.jwt_credentials.push_back(
        {"cred-badpem", "c-alice", "badpem-key", "", "RS256",
         "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"});
    snapshot_.jwt_credentials.push_back(
        {"cred-ec-as-rs", "c-alice", "ecrs-key", "", "RS256", k.p256.public_pem});
    snapshot_.jwt_credentials.push_back(
        {"cred-p384-as-es256", "c-alice", "curve-key", "", "ES256", k.p384.public_pem});
  }

  // A handler for `config` (Kong's defaults filled by the plugin schema).
  const PluginHandler& handler(json::object config = {}) {
    auto entity = std::make_unique<Plugin>();
    entity->id = "jwt-" + std::to_string(entities_.size());
    entity->name = "jwt";
    entity->config = check_config(std::move(config)).as_object();
    auto made = jwt::make_handler(*entity, snapshot_, runtime_);
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
    entities_.push_back(std::move(entity));
    handlers_.push_back(std::move(made).value());
    return *handlers_.back();
  }

  Outcome run(const PluginHandler& h, http::HeaderList headers, std::string query = {},
              std::string method = "GET", std::string preset_credential = {}) {
    Headers view(std::move(headers));
    RequestContext ctx;
    ctx.snapshot = &snapshot_;
    ctx.method = method;
    ctx.query = query;
    ctx.request_headers = &view;
    ctx.credential_id = preset_credential;
    h.access(ctx);
    Outcome out;
    if (ctx.exit) {
      out.status = ctx.exit->status;
      out.body = ctx.exit->body;
      out.www_authenticate = std::string(http::find_header(ctx.exit->headers, "WWW-Authenticate"));
    }
    out.upstream = ctx.upstream_headers;
    out.consumer = ctx.consumer;
    out.credential_id = ctx.credential_id;
    out.credential_identifier = ctx.credential_identifier;
    return out;
  }

  Outcome bearer(const PluginHandler& h, const std::string& t) {
    return run(h, {{"Authorization", "Bearer " + t}});
  }

  // Asserts a 401 with Kong's message and the invalid_token challenge.
  void expect_rejected(const Outcome& o, const std::string& message) {
    EXPECT_EQ(o.status, 401) << o.body;
    EXPECT_EQ(o.body, json::serialize(json::object{{"message", message}}));
    EXPECT_EQ(o.www_authenticate, "Bearer error=\"invalid_token\"");
    EXPECT_EQ(o.consumer, nullptr);
    EXPECT_TRUE(o.upstream.empty());
  }

  FakeClock clock_;
  PluginRuntime runtime_;
  Snapshot snapshot_;
  std::vector<std::unique_ptr<Plugin>> entities_;
  std::vector<std::unique_ptr<PluginHandler>> handlers_;
};

// ---- valid tokens -------------------------------------------------------------------------

TEST_F(JwtPlugin, FactoryIsRegistered) { EXPECT_NE(find_factory("jwt"), nullptr); }

TEST_F(JwtPlugin, ValidTokenForEveryAlgorithm) {
  const PluginHandler& h = handler();
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    Outcome o = bearer(h, token(alg));
    ASSERT_EQ(o.status, 0) << o.body;
    ASSERT_NE(o.consumer, nullptr);
    EXPECT_EQ(o.consumer->id, "c-alice");
    EXPECT_EQ(o.credential_id, std::string("cred-") + alg);
    EXPECT_EQ(o.credential_identifier, std::string(alg) + "-key");
    EXPECT_EQ(o.upstream_header("X-Consumer-ID"), "c-alice");
    EXPECT_EQ(o.upstream_header("X-Consumer-Username"), "alice");
    EXPECT_EQ(o.upstream_header("X-Consumer-Custom-ID"), "A-1");
    EXPECT_EQ(o.upstream_header("X-Credential-Identifier"), std::string(alg) + "-key");
    EXPECT_FALSE(o.has_upstream("X-Anonymous-Consumer"));
  }
}

TEST_F(JwtPlugin, ConsumerWithoutCustomIdGetsNoCustomIdHeader) {
  Outcome o =
      bearer(handler(), token_from(json::object{{"alg", "HS256"}}, json::object{{"iss", "bob-key"}},
                                   "HS256", "bobs-secret"));
  ASSERT_EQ(o.status, 0) << o.body;
  EXPECT_EQ(o.upstream_header("X-Consumer-Username"), "bob");
  EXPECT_FALSE(o.has_upstream("X-Consumer-Custom-ID"));
}

TEST_F(JwtPlugin, ForgedIdentityHeadersAreBlanked) {
  // The client claims to be anonymous and sends a custom id bob does not have: Kong clears
  // both, so the upstream must not see the client's values.
  Outcome o =
      run(handler(), {{"Authorization", "Bearer " + token_from(json::object{{"alg", "HS256"}},
                                                               json::object{{"iss", "bob-key"}},
                                                               "HS256", "bobs-secret")},
                      {"X-Anonymous-Consumer", "true"},
                      {"X-Consumer-Custom-ID", "admin"},
                      {"X-Consumer-ID", "c-alice"}});
  ASSERT_EQ(o.status, 0) << o.body;
  EXPECT_EQ(o.upstream_header("X-Consumer-ID"), "c-bob");
  EXPECT_TRUE(o.has_upstream("X-Anonymous-Consumer"));
  EXPECT_EQ(o.upstream_header("X-Anonymous-Consumer"), "");
  EXPECT_EQ(o.upstream_header("X-Consumer-Custom-ID"), "");
}

TEST_F(JwtPlugin, KeyClaimFromHeaderWhenNotInPayload) {
  const PluginHandler& h = handler(json::object{{"key_claim_name", "kid"}});
  Outcome o = bearer(h, token_from(json::object{{"alg", "HS256"}, {"kid", "HS256-key"}},
                                   json::object{{"sub", "x"}}, "HS256"));
  ASSERT_EQ(o.status, 0) << o.body;
  EXPECT_EQ(o.credential_identifier, "HS256-key");
  // The payload wins over the header.
  o = bearer(h, token_from(json::object{{"alg", "HS256"}, {"kid", "HS256-key"}},
                           json::object{{"kid", "nope"}}, "HS256"));
  expect_rejected(o, "No credentials found for given 'kid'");
}

TEST_F(JwtPlugin, Base64Secret) {
  snapshot_.jwt_credentials.push_back({"cred-b64", "c-bob", "b64-key", "AAEC/+8=", "HS256", ""});
  snapshot_.jwt_credentials.push_back({"cred-notb64", "c-bob", "notb64-key", "%%%", "HS256", ""});
  const PluginHandler& h = handler(json::object{{"secret_is_base64", true}});
  std::string raw("\x00\x01\x02\xff\xef", 5);
  Outcome o = bearer(h, token_from(json::object{{"alg", "HS256"}}, json::object{{"iss", "b64-key"}},
                                   "HS256", raw));
  EXPECT_EQ(o.status, 0) << o.body;
  // Signed with the encoded text instead of the decoded bytes.
  o = bearer(h, token_from(json::object{{"alg", "HS256"}}, json::object{{"iss", "b64-key"}},
                           "HS256", "AAEC/+8="));
  expect_rejected(o, "Invalid signature");
  o = bearer(h, token_from(json::object{{"alg", "HS256"}}, json::object{{"iss", "notb64-key"}},
                           "HS256", "%%%"));
  expect_rejected(o, "Invalid key/secret");
}

// ---- the attack suite ---------------------------------------------------------------------

TEST_F(JwtPlugin, NoTokenIsUnauthorizedWithBareChallenge) {
  Outcome o = run(handler(), {});
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.body, R"({"message":"Unauthorized"})");
  EXPECT_EQ(o.www_authenticate, "Bearer");
  // Other schemes and an empty bearer are no token either.
  EXPECT_EQ(run(handler(), {{"Authorization", "Basic dXNlcjpwYXNz"}}).body,
            R"({"message":"Unauthorized"})");
  EXPECT_EQ(run(handler(), {{"Authorization", "Bearer"}}).body, R"({"message":"Unauthorized"})");
  EXPECT_EQ(run(handler(), {}, "jwt=").body, R"({"message":"Unauthorized"})");
}

TEST_F(JwtPlugin, AlgNoneInAnySpellingIsRejected) {
  const PluginHandler& h = handler();
  for (const char* none : {"none", "None", "NONE", "nOnE"}) {
    SCOPED_TRACE(none);
    std::string unsigned_token =
        encode_base64url(json::serialize(json::object{{"alg", none}, {"typ", "JWT"}})) + "." +
        encode_base64url(R"({"iss":"HS256-key"})") + ".";
    expect_rejected(bearer(h, unsigned_token), "Bad token; invalid alg");
    // With a valid HMAC attached, still no.
    expect_rejected(bearer(h, token_from(json::object{{"alg", none}},
                                         json::object{{"iss", "HS256-key"}}, "HS256")),
                    "Bad token; invalid alg");
  }
}

TEST_F(JwtPlugin, MissingOrStrangeAlgIsRejected) {
  const PluginHandler& h = handler();
  json::object claims{{"iss", "HS256-key"}};
  expect_rejected(bearer(h, token_from(json::object{{"typ", "JWT"}}, claims, "HS256")),
                  "Bad token; invalid alg");
  expect_rejected(bearer(h, token_from(json::object{{"alg", 256}}, claims, "HS256")),
                  "Bad token; invalid alg");
  expect_rejected(
      bearer(h, token_from(json::object{{"alg", json::array{"HS256"}}}, claims, "HS256")),
      "Bad token; invalid alg");
  expect_rejected(bearer(h, token_from(json::object{{"alg", "hs256"}}, claims, "HS256")),
                  "Bad token; invalid alg");
  expect_rejected(bearer(h, token_from(json::object{{"alg", "HS1"}}, claims, "HS256")),
                  "Bad token; invalid alg");
}

TEST_F(JwtPlugin, AlgorithmConfusionIsRejected) {
  const PluginHandler& h = handler();
  // The classic: an HS256 token keyed with the RS256 credential's public key.
  std::string pem = keys().rsa.public_pem;
  expect_rejected(bearer(h, token_from(json::object{{"alg", "HS256"}},
                                       json::object{{"iss", "RS256-key"}}, "HS256", pem)),
                  "Invalid algorithm");
  // Any alg other than the credential's, even a valid signature of that alg.
  expect_rejected(bearer(h, token("RS256", json::object{{"iss", "HS256-key"}})),
                  "Invalid algorithm");
  expect_rejected(bearer(h, token("PS256", json::object{{"iss", "RS256-key"}})),
                  "Invalid algorithm");
  expect_rejected(bearer(h, token("ES256", json::object{{"iss", "ES384-key"}})),
                  "Invalid algorithm");
  expect_rejected(bearer(h, token("HS512", json::object{{"iss", "HS256-key"}})),
                  "Invalid algorithm");
  expect_rejected(bearer(h, token("EdDSA", json::object{{"iss", "ES256-key"}})),
                  "Invalid algorithm");
}

TEST_F(JwtPlugin, TamperedTokensAreRejected) {
  const PluginHandler& h = handler();
  for (const char* alg : kAlgorithms) {
    SCOPED_TRACE(alg);
    std::string good = token(alg);
    std::size_t dot2 = good.rfind('.');
    // A flipped signature bit (kept canonical base64url by flipping a middle character).
    std::string bad_sig = good;
    char& c = bad_sig[dot2 + 3];
    c = c == 'A' ? 'B' : 'A';
    expect_rejected(bearer(h, bad_sig), "Invalid signature");
    // Claims changed after signing (another subject, same issuer).
    std::string forged_claims = encode_base64url(
        json::serialize(json::object{{"iss", std::string(alg) + "-key"}, {"admin", true}}));
    std::size_t dot1 = good.find('.');
    std::string swapped = good.substr(0, dot1 + 1) + forged_claims + good.substr(dot2);
    expect_rejected(bearer(h, swapped), "Invalid signature");
    // Signature stripped.
    expect_rejected(bearer(h, good.substr(0, dot2 + 1)), "Invalid signature");
  }
  // Wrong HMAC secret, wrong RSA key.
  expect_rejected(
      bearer(h, token_from(json::object{{"alg", "HS256"}}, json::object{{"iss", "HS256-key"}},
                           "HS256", "not-the-secret")),
      "Invalid signature");
  std::string input =
      encode_base64url(R"({"alg":"RS256"})") + "." + encode_base64url(R"({"iss":"RS256-key"})");
  expect_rejected(bearer(h, input + "." +
                                encode_base64url(digest_sign(keys().rsa_other.pkey, EVP_sha256(),
                                                             input, RSA_PKCS1_PADDING))),
                  "Invalid signature");
  // An ES signature in DER instead of JOSE's raw r||s.
  input = encode_base64url(R"({"alg":"ES256"})") + "." + encode_base64url(R"({"iss":"ES256-key"})");
  expect_rejected(
      bearer(h,
             input + "." + encode_base64url(digest_sign(keys().p256.pkey, EVP_sha256(), input, 0))),
      "Invalid signature");
  // ES raw signature of the right length but r = s = 0.
  expect_rejected(bearer(h, input + "." + encode_base64url(std::string(64, '\0'))),
                  "Invalid signature");
}

TEST_F(JwtPlugin, MalformedBase64IsRejected) {
  const PluginHandler& h = handler();
  std::string good = token("HS256");
  std::size_t dot1 = good.find('.'), dot2 = good.rfind('.');
  std::string header = good.substr(0, dot1), claims = good.substr(dot1 + 1, dot2 - dot1 - 1),
              sig = good.substr(dot2 + 1);
  expect_rejected(bearer(h, header + "=." + claims + "." + sig), "Bad token; invalid JSON");
  expect_rejected(bearer(h, header + "." + claims + "==." + sig), "Bad token; invalid JSON");
  expect_rejected(bearer(h, header + "*." + claims + "." + sig), "Bad token; invalid JSON");
  expect_rejected(bearer(h, header + "." + claims + "A." + sig),
                  "Bad token; invalid JSON");  // length % 4 == 1
  std::string std_alphabet = claims;
  for (char& c : std_alphabet) c = c == '-' ? '+' : c == '_' ? '/' : c;
  if (std_alphabet != claims)
    expect_rejected(bearer(h, header + "." + std_alphabet + "." + sig), "Bad token; invalid JSON");
  expect_rejected(bearer(h, header + "." + claims + "." + sig + "="),
                  "Bad token; invalid signature");
  expect_rejected(bearer(h, header + "." + claims + "." + sig + "!"),
                  "Bad token; invalid signature");
  expect_rejected(bearer(h, header + "." + claims + "." + sig + ".extra"),
                  "Bad token; invalid signature");
  // A non-canonical last character (unused bits set) is a second spelling: rejected.
  ASSERT_EQ(sig.size() % 4, 3u);  // 32 bytes
  std::string alt = sig;
  alt.back() = static_cast<char>(alt.back() + 1);  // canonical values are multiples of 4
  expect_rejected(bearer(h, header + "." + claims + "." + alt), "Bad token; invalid signature");
}

TEST_F(JwtPlugin, NonJsonOrNonObjectSegmentsAreRejected) {
  const PluginHandler& h = handler();
  std::string claims = encode_base64url(R"({"iss":"HS256-key"})");
  std::string header = encode_base64url(R"({"alg":"HS256"})");
  for (const char* bad :
       {"not json", "{\"alg\":\"HS256\"", "[\"HS256\"]", "123", "\"HS256\"", "null", "{} {}", ""}) {
    SCOPED_TRACE(bad);
    expect_rejected(bearer(h, encode_base64url(bad) + "." + claims + ".sig"),
                    "Bad token; invalid JSON");
    expect_rejected(bearer(h, header + "." + encode_base64url(bad) + ".sig"),
                    "Bad token; invalid JSON");
  }
  // Invalid UTF-8 inside a JSON string.
  expect_rejected(bearer(h, header + "." + encode_base64url("{\"iss\":\"\xff\"}") + ".sig"),
                  "Bad token; invalid JSON");
}

TEST_F(JwtPlugin, WrongSegmentCountIsRejected) {
  const PluginHandler& h = handler();
  std::string good = token("HS256");
  expect_rejected(bearer(h, "abc"), "Bad token; invalid JSON");
  expect_rejected(bearer(h, good.substr(0, good.rfind('.'))),
                  "Bad token; invalid JSON");                                  // two segments
  expect_rejected(bearer(h, good + ".more"), "Bad token; invalid signature");  // four
  expect_rejected(bearer(h, ".."), "Bad token; invalid JSON");
}

TEST_F(JwtPlugin, KeyClaimProblems) {
  const PluginHandler& h = handler();
  json::object alg{{"alg", "HS256"}};
  expect_rejected(bearer(h, token_from(alg, json::object{{"sub", "x"}}, "HS256")),
                  "No mandatory 'iss' in claims");
  expect_rejected(bearer(h, token_from(alg, json::object{{"iss", false}}, "HS256")),
                  "No mandatory 'iss' in claims");
  expect_rejected(bearer(h, token_from(alg, json::object{{"iss", ""}}, "HS256")),
                  "Invalid 'iss' in claims");
  expect_rejected(bearer(h, token_from(alg, json::object{{"iss", "who"}}, "HS256")),
                  "No credentials found for given 'iss'");
  expect_rejected(bearer(h, token_from(alg, json::object{{"iss", 42}}, "HS256")),
                  "No credentials found for given 'iss'");
  const PluginHandler& custom = handler(json::object{{"key_claim_name", "client"}});
  expect_rejected(bearer(custom, token("HS256")), "No mandatory 'client' in claims");
}

TEST_F(JwtPlugin, UnusableCredentialKeys) {
  const PluginHandler& h = handler();
  // Kong's "Invalid key/secret": a key that is not a PEM public key, or not one for the alg.
  expect_rejected(bearer(h, token("RS256", json::object{{"iss", "badpem-key"}})),
                  "Invalid key/secret");
  expect_rejected(bearer(h, token("RS256", json::object{{"iss", "ecrs-key"}})),
                  "Invalid key/secret");
  expect_rejected(bearer(h, token("ES256", json::object{{"iss", "curve-key"}})),
                  "Invalid key/secret");
}

TEST_F(JwtPlugin, CredentialWithoutConsumer) {
  Outcome o = bearer(handler(), token("HS256", json::object{{"iss", "orphan-key"}}));
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.message(), "Could not find consumer for 'iss=orphan-key'");
  EXPECT_EQ(o.www_authenticate, "");  // Kong sends no challenge here
}

TEST_F(JwtPlugin, RealmInChallenge) {
  const PluginHandler& h = handler(json::object{{"realm", "kong"}});
  EXPECT_EQ(run(h, {}).www_authenticate, "Bearer realm=\"kong\"");
  EXPECT_EQ(bearer(h, "x.y.z").www_authenticate, "Bearer realm=\"kong\", error=\"invalid_token\"");
}

// ---- registered claims --------------------------------------------------------------------

TEST_F(JwtPlugin, ExpAndNbfFollowTheClock) {
  const PluginHandler& h = handler(json::object{{"claims_to_verify", json::array{"exp", "nbf"}}});
  std::string t = token("HS256", json::object{{"exp", kNow + 10}, {"nbf", kNow + 5}});
  Outcome o = bearer(h, t);
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.body, R"({"nbf":"token not valid yet"})");
  EXPECT_EQ(o.www_authenticate, "Bearer error=\"invalid_token\"");
  clock_.advance_ms(5'000);  // nbf == now: valid
  EXPECT_EQ(bearer(h, t).status, 0);
  clock_.advance_ms(4'999);
  EXPECT_EQ(bearer(h, t).status, 0);
  clock_.advance_ms(1);  // exp == now: expired
  o = bearer(h, t);
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.body, R"({"exp":"token expired"})");
  // Both failing at once, in claims_to_verify order.
  o = bearer(h, token("HS256", json::object{{"exp", kNow - 1}, {"nbf", kNow + 100}}));
  EXPECT_EQ(o.body, R"({"exp":"token expired","nbf":"token not valid yet"})");
}

TEST_F(JwtPlugin, ClaimsMustBeNumbers) {
  const PluginHandler& h = handler(json::object{{"claims_to_verify", json::array{"exp", "nbf"}}});
  EXPECT_EQ(bearer(h, token("HS256", json::object{{"nbf", kNow}})).body,
            R"({"exp":"must be a number"})");
  EXPECT_EQ(
      bearer(h, token("HS256", json::object{{"exp", std::to_string(kNow + 60)}, {"nbf", kNow}}))
          .body,
      R"({"exp":"must be a number"})");
  EXPECT_EQ(bearer(h, token("HS256", json::object{{"exp", kNow + 60}, {"nbf", nullptr}})).body,
            R"({"nbf":"must be a number"})");
  EXPECT_EQ(
      bearer(h, token("HS256", json::object{{"exp", kNow + 60.5}, {"nbf", kNow - 0.5}})).status, 0);
}

TEST_F(JwtPlugin, ClaimsAreNotCheckedUnlessConfigured) {
  EXPECT_EQ(
      bearer(handler(), token("HS256", json::object{{"exp", kNow - 1000}, {"nbf", kNow + 1000}}))
          .status,
      0);
}

TEST_F(JwtPlugin, MaximumExpiration) {
  const PluginHandler& h =
      handler(json::object{{"claims_to_verify", json::array{"exp"}}, {"maximum_expiration", 60}});
  EXPECT_EQ(bearer(h, token("HS256", json::object{{"exp", kNow + 60}})).status, 0);
  Outcome o = bearer(h, token("HS256", json::object{{"exp", kNow + 61}}));
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.body, R"({"exp":"exceeds maximum allowed expiration"})");
  EXPECT_EQ(o.www_authenticate, "Bearer error=\"invalid_token\"");
}

// ---- flow ---------------------------------------------------------------------------------

TEST_F(JwtPlugin, Preflight) {
  EXPECT_EQ(run(handler(), {}, "", "OPTIONS").status, 401);  // run_on_preflight defaults to true
  const PluginHandler& skip = handler(json::object{{"run_on_preflight", false}});
  Outcome o = run(skip, {}, "", "OPTIONS");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.consumer, nullptr);
  EXPECT_EQ(run(skip, {}, "", "GET").status, 401);
}

TEST_F(JwtPlugin, AnonymousById) {
  const PluginHandler& h = handler(json::object{{"anonymous", "c-anon"}});
  Outcome o = run(h, {});
  EXPECT_EQ(o.status, 0);
  ASSERT_NE(o.consumer, nullptr);
  EXPECT_EQ(o.consumer->id, "c-anon");
  EXPECT_EQ(o.credential_id, "");
  EXPECT_EQ(o.upstream_header("X-Anonymous-Consumer"), "true");
  EXPECT_EQ(o.upstream_header("X-Consumer-ID"), "c-anon");
  EXPECT_EQ(o.upstream_header("X-Consumer-Username"), "anonymous");
  EXPECT_FALSE(o.has_upstream("X-Credential-Identifier"));
  // A bad token falls back to anonymous too; a good one authenticates.
  EXPECT_EQ(bearer(h, "garbage").consumer->id, "c-anon");
  o = bearer(h, token("ES256"));
  EXPECT_EQ(o.consumer->id, "c-alice");
  EXPECT_FALSE(o.has_upstream("X-Anonymous-Consumer"));
}

TEST_F(JwtPlugin, AnonymousByUsername) {
  Outcome o = run(handler(json::object{{"anonymous", "anonymous"}}), {});
  ASSERT_NE(o.consumer, nullptr);
  EXPECT_EQ(o.consumer->id, "c-anon");
}

TEST_F(JwtPlugin, MissingAnonymousConsumerIs500) {
  Outcome o = run(handler(json::object{{"anonymous", "ghost"}}), {});
  EXPECT_EQ(o.status, 500);
  EXPECT_EQ(o.message(), "anonymous consumer ghost is configured but doesn't exist");
  // A valid token does not need the anonymous consumer.
  EXPECT_EQ(bearer(handler(json::object{{"anonymous", "ghost"}}), token("HS256")).status, 0);
}

TEST_F(JwtPlugin, AnonymousSkipsWhenAlreadyAuthenticated) {
  Outcome o = run(handler(json::object{{"anonymous", "c-anon"}}), {}, "", "GET",
                  "cred-from-another-plugin");
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.consumer, nullptr);
  EXPECT_TRUE(o.upstream.empty());
}

// ---- where the token comes from -----------------------------------------------------------

TEST_F(JwtPlugin, TokenFromQuery) {
  const PluginHandler& h = handler();
  std::string t = token("HS256");
  EXPECT_EQ(run(h, {}, "jwt=" + t).status, 0);
  EXPECT_EQ(run(h, {}, "a=1&jwt=" + t + "&b=2").status, 0);
  // Percent-encoded characters are decoded like ngx.req.get_uri_args.
  std::string encoded = t;
  encoded.replace(encoded.find('.'), 1, "%2E");
  EXPECT_EQ(run(h, {}, "jwt=" + encoded).status, 0);
  const PluginHandler& custom =
      handler(json::object{{"uri_param_names", json::array{"token", "access_token"}}});
  EXPECT_EQ(run(custom, {}, "access_token=" + t).status, 0);
  EXPECT_EQ(run(custom, {}, "jwt=" + t).status, 401);
  // A parameter without a value is Lua's `true`: not a token.
  Outcome o = run(h, {}, "jwt");
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.message(), "Unrecognizable token");
}

TEST_F(JwtPlugin, TokenFromCookie) {
  const PluginHandler& h =
      handler(json::object{{"cookie_names", json::array{"session", "jwt_cookie"}}});
  std::string t = token("RS256");
  EXPECT_EQ(run(h, {{"Cookie", "a=b; jwt_cookie=" + t + "; c=d"}}).status, 0);
  EXPECT_EQ(run(h, {{"Cookie", "a=b"}, {"cookie", "session=" + t}}).status, 0);
  EXPECT_EQ(run(h, {{"Cookie", "xjwt_cookie=" + t}}).status, 401);
  EXPECT_EQ(run(handler(), {{"Cookie", "jwt_cookie=" + t}}).status,
            401);  // no cookie_names by default
}

TEST_F(JwtPlugin, TokenFromHeaders) {
  std::string t = token("PS384");
  const PluginHandler& h = handler();
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER ", "Bearer \t ", "  Bearer "}) {
    EXPECT_EQ(run(h, {{"authorization", scheme + t}}).status, 0) << scheme;
  }
  const PluginHandler& custom =
      handler(json::object{{"header_names", json::array{"x-token", "authorization"}}});
  EXPECT_EQ(run(custom, {{"X-Token", "Bearer " + t}}).status, 0);
  EXPECT_EQ(run(custom, {{"X-Token", t}}).status, 401);  // the Bearer scheme is required
}

TEST_F(JwtPlugin, MultipleTokens) {
  const PluginHandler& h = handler(json::object{{"cookie_names", json::array{"jwt"}}});
  std::string a = token("HS256"), b = token("HS384");
  // The same token in several places is one token.
  EXPECT_EQ(run(h, {{"Authorization", "Bearer " + a}, {"Cookie", "jwt=" + a}}, "jwt=" + a).status,
            0);
  Outcome o = run(h, {{"Authorization", "Bearer " + a}}, "jwt=" + b);
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.message(), "Multiple tokens provided");
  EXPECT_EQ(o.www_authenticate, "Bearer error=\"invalid_token\"");
  EXPECT_EQ(run(h, {}, "jwt=" + a + "&jwt=" + b).body, R"({"message":"Multiple tokens provided"})");
  EXPECT_EQ(run(h, {{"Cookie", "jwt=" + b}}, "jwt=" + a).body,
            R"({"message":"Multiple tokens provided"})");
  EXPECT_EQ(run(h, {}, "jwt&jwt=" + a).body, R"({"message":"Multiple tokens provided"})");
}

TEST_F(JwtPlugin, ConcurrentVerification) {
  // One handler shared by threads (as by the proxy's workers): keys are used concurrently.
  const PluginHandler& h = handler();
  std::vector<std::string> tokens;
  for (const char* alg : kAlgorithms) tokens.push_back(token(alg));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        const std::string& tok = tokens[(i + t) % tokens.size()];
        Headers view({{"Authorization", "Bearer " + tok}});
        RequestContext ctx;
        ctx.method = "GET";
        ctx.request_headers = &view;
        h.access(ctx);
        if (ctx.exit || !ctx.consumer) ++failures;
        std::string bad = tok;
        bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
        Headers bad_view({{"Authorization", "Bearer " + bad}});
        RequestContext bad_ctx;
        bad_ctx.method = "GET";
        bad_ctx.request_headers = &bad_view;
        h.access(bad_ctx);
        if (!bad_ctx.exit) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// ---- the per-worker cache of verified tokens ----------------------------------------------

TEST_F(JwtPlugin, CachedTokenStillExpires) {
  // The second request with the same bytes is served from the cache; the clock is read again
  // on every hit, so the token stops working the second it expires, with Kong's message.
  const PluginHandler& h = handler(json::object{{"claims_to_verify", json::array{"exp"}}});
  std::string t = token("HS256", json::object{{"exp", kNow + 10}});
  for (int i = 0; i < 3; ++i) {
    Outcome o = bearer(h, t);
    ASSERT_EQ(o.status, 0) << o.body;
    ASSERT_NE(o.consumer, nullptr);
    EXPECT_EQ(o.consumer->id, "c-alice");
    EXPECT_EQ(o.credential_id, "cred-HS256");
    EXPECT_EQ(o.upstream_header("X-Credential-Identifier"), "HS256-key");
  }
  clock_.advance_ms(10'000);  // exp == now: expired
  for (int i = 0; i < 2; ++i) {
    Outcome o = bearer(h, t);
    EXPECT_EQ(o.status, 401);
    EXPECT_EQ(o.body, R"({"exp":"token expired"})");
    EXPECT_EQ(o.consumer, nullptr);
  }
}

TEST_F(JwtPlugin, CachedTokenStillObeysMaximumExpiration) {
  const PluginHandler& h =
      handler(json::object{{"claims_to_verify", json::array{"exp"}}, {"maximum_expiration", 60}});
  std::string t = token("HS256", json::object{{"exp", kNow + 30}});
  ASSERT_EQ(bearer(h, t).status, 0);
  ASSERT_EQ(bearer(h, t).status, 0);  // from the cache
  clock_.advance_ms(31'000);
  Outcome o = bearer(h, t);
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.body, R"({"exp":"token expired"})");
}

TEST_F(JwtPlugin, ChangedOrDeletedCredentialInvalidatesCachedToken) {
  // A credential change is a new snapshot, hence a new handler: the token verified (and
  // cached) by the old one is checked again against the new credential.
  std::string t = token_from(json::object{{"alg", "HS256"}}, json::object{{"iss", "bob-key"}},
                             "HS256", "bobs-secret");
  const PluginHandler& before = handler();
  ASSERT_EQ(bearer(before, t).status, 0);
  ASSERT_EQ(bearer(before, t).status, 0);

  for (auto& c : snapshot_.jwt_credentials) {
    if (c.key == "bob-key") c.secret = "rotated-secret";
  }
  const PluginHandler& rotated = handler();
  expect_rejected(bearer(rotated, t), "Invalid signature");
  expect_rejected(bearer(rotated, t), "Invalid signature");

  std::erase_if(snapshot_.jwt_credentials,
                [](const JwtCredential& c) { return c.key == "bob-key"; });
  const PluginHandler& deleted = handler();
  expect_rejected(bearer(deleted, t), "No credentials found for given 'iss'");

  for (auto& c : snapshot_.consumers) {
    if (c.id == "c-bob") c.username = "robert";
  }
  snapshot_.jwt_credentials.push_back({"cred-bob", "c-bob", "bob-key", "bobs-secret", "HS256", ""});
  const PluginHandler& restored = handler();
  Outcome o = bearer(restored, t);
  ASSERT_EQ(o.status, 0) << o.body;
  EXPECT_EQ(o.upstream_header("X-Consumer-Username"), "robert");
}

TEST_F(JwtPlugin, CacheNeedsTheSameBytes) {
  const PluginHandler& h = handler();
  std::string t = token("HS256");
  ASSERT_EQ(bearer(h, t).status, 0);
  // Same header and claims, one signature character changed: not the cached token.
  std::string tampered = t;
  char& c = tampered[tampered.size() - 10];  // not the last one: its low bits must be zero
  c = c == 'A' ? 'B' : 'A';
  expect_rejected(bearer(h, tampered), "Invalid signature");
  // A prefix of the token is a different token too (43 signature characters cut to 40:
  // whole base64 quanta, so it decodes, to 30 bytes).
  expect_rejected(bearer(h, t.substr(0, t.size() - 3)), "Invalid signature");
  EXPECT_EQ(bearer(h, t).status, 0);
}

TEST_F(JwtPlugin, ManyDistinctTokensThroughTheBoundedCache) {
  // More tokens than cache slots, twice over: every one still verifies with its own claims.
  const PluginHandler& h = handler(json::object{{"claims_to_verify", json::array{"exp"}}});
  std::vector<std::string> tokens;
  for (int i = 0; i < 1500; ++i) {
    tokens.push_back(token("HS256", json::object{{"exp", kNow + 10 + (i % 2) * 100}, {"n", i}}));
  }
  for (int round = 0; round < 2; ++round) {
    for (const auto& t : tokens) ASSERT_EQ(bearer(h, t).status, 0);
  }
  clock_.advance_ms(10'000);  // the even ones expire
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    EXPECT_EQ(bearer(h, tokens[i]).status, i % 2 == 0 ? 401 : 0) << i;
  }
}

}  // namespace
}  // namespace suoke::gateway::plugins
