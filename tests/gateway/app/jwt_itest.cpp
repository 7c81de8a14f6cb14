// The jwt plugin through a running gateway: consumers and jwt_secrets from declarative
// config and from the Admin API, 401s with Kong's challenge, and the identity headers the
// upstream receives.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "gateway/app/gateway_app.h"
#include "gateway/plugins/jwt/base64url.h"
#include "http/server.h"
#include "support/gateway_app.h"
#include "support/http_client.h"
#include "support/loopback_upstream.h"
#include "support/process.h"
#include "support/public_key_pem.h"

namespace suoke::testing {
namespace {

namespace json = boost::json;
using gateway::plugins::jwt::encode_base64url;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hs256_token(const std::string& iss, const std::string& secret, int64_t exp) {
  std::string input =
      encode_base64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
      encode_base64url(json::serialize(json::object{{"iss", iss}, {"exp", exp}, {"sub", "u1"}}));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + encode_base64url(std::string(reinterpret_cast<char*>(mac), len));
}

std::string rs256_token(EVP_PKEY* key, const std::string& iss, int64_t exp) {
  std::string input = encode_base64url(R"({"alg":"RS256","typ":"JWT"})") + "." +
                      encode_base64url(json::serialize(json::object{{"iss", iss}, {"exp", exp}}));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  std::size_t len = 0;
  auto in = reinterpret_cast<const unsigned char*>(input.data());
  EVP_DigestSign(ctx, nullptr, &len, in, input.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return input + "." + encode_base64url(sig);
}

TEST(GatewayJwt, DeclarativeConsumersAndAdminCredentials) {
  // The upstream echoes the identity headers it received.
  http::Server upstream("upstream", http::Limits{}, [](const http::Request& request) {
    json::object seen;
    // Presence, not just a value: a forged identity header must be removed, not emptied.
    for (const auto& [name, value] : request.headers) {
      for (const char* h : {"x-consumer-id", "x-consumer-username", "x-consumer-custom-id",
                            "x-credential-identifier", "x-anonymous-consumer", "authorization"}) {
        if (http::iequals(name, h)) seen[h] = value;
      }
    }
    return http::Response::json(200, json::serialize(seen));
  });
  auto upstream_port = serve_on_loopback(upstream);
  ASSERT_TRUE(upstream_port.ok()) << upstream_port.error().message;

  TempDir dir;
  std::string config =
      "_format_version: \"3.0\"\n"
      "services:\n"
      "- name: agents\n"
      "  url: http://127.0.0.1:" +
      std::to_string(*upstream_port) +
      "\n"
      "  routes:\n"
      "  - name: agents-route\n"
      "    paths: [/agents]\n"
      "  plugins:\n"
      "  - name: jwt\n"
      "    config:\n"
      "      claims_to_verify: [exp]\n"
      "- name: open\n"
      "  url: http://127.0.0.1:" +
      std::to_string(*upstream_port) +
      "\n"
      "  routes:\n"
      "  - name: open-route\n"
      "    paths: [/open]\n"
      "consumers:\n"
      "- username: alice\n"
      "  custom_id: A-1\n"
      "  jwt_secrets:\n"
      "  - key: alice-key\n"
      "    secret: alice-secret\n";
  auto app = gateway::GatewayApp::start(
      loopback_gateway_options(config, {.admin = true, .workers = 2, .data_dir = dir.path()}));
  ASSERT_TRUE(app.ok()) << app.error().message;
  uint16_t proxy = (*app)->proxy_port(), admin = (*app)->admin_port();

  // The consumer's id, as the Admin API reports it.
  auto alice = http_request(admin, "GET", "/consumers/alice");
  ASSERT_TRUE(alice && alice->status == 200);
  std::string alice_id(json::parse(alice->body).at("id").as_string());

  auto none = http_request(proxy, "GET", "/agents/chat");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->body, R"({"message":"Unauthorized"})");
  EXPECT_EQ(none->header("www-authenticate"), "Bearer");

  auto ok = http_request(
      proxy, "GET", "/agents/chat", {},
      {{"Authorization", "Bearer " + hs256_token("alice-key", "alice-secret", now_s() + 300)}});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body;
  json::value seen = json::parse(ok->body);
  EXPECT_EQ(seen.at("x-consumer-id"), alice_id.c_str());
  EXPECT_EQ(seen.at("x-consumer-username"), "alice");
  EXPECT_EQ(seen.at("x-consumer-custom-id"), "A-1");
  EXPECT_EQ(seen.at("x-credential-identifier"), "alice-key");
  EXPECT_FALSE(seen.as_object().contains("x-anonymous-consumer"));

  // From the query string too, and a forged identity header does not pass through.
  auto query = http_request(
      proxy, "GET", "/agents/chat?jwt=" + hs256_token("alice-key", "alice-secret", now_s() + 300),
      {}, {{"X-Anonymous-Consumer", "true"}});
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 200) << query->body;
  EXPECT_FALSE(json::parse(query->body).as_object().contains("x-anonymous-consumer"))
      << query->body;

  auto expired = http_request(
      proxy, "GET", "/agents/chat", {},
      {{"Authorization", "Bearer " + hs256_token("alice-key", "alice-secret", now_s() - 10)}});
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 401);
  EXPECT_EQ(expired->body, R"({"exp":"token expired"})");
  EXPECT_EQ(expired->header("www-authenticate"), "Bearer error=\"invalid_token\"");

  auto forged = http_request(
      proxy, "GET", "/agents/chat", {},
      {{"Authorization", "Bearer " + hs256_token("alice-key", "guessed", now_s() + 300)}});
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 401);
  EXPECT_EQ(forged->body, R"({"message":"Invalid signature"})");

  // The route without the plugin is open.
  auto open = http_request(proxy, "GET", "/open/x");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);

  // An RS256 credential added through the Admin API takes effect without a restart.
  EVP_PKEY* key = EVP_RSA_gen(2048);
  ASSERT_NE(key, nullptr);
  auto bob = http_request(admin, "POST", "/consumers", R"({"username":"bob"})",
                          {{"Content-Type", "application/json"}});
  ASSERT_TRUE(bob && bob->status == 201) << (bob ? bob->body : "no reply");
  json::object cred{
      {"key", "bob-rsa"}, {"algorithm", "RS256"}, {"rsa_public_key", public_pem(key)}};
  auto created = http_request(admin, "POST", "/consumers/bob/jwt", json::serialize(cred),
                              {{"Content-Type", "application/json"}});
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "no reply");
  std::string rs = rs256_token(key, "bob-rsa", now_s() + 300);
  std::optional<HttpReply> as_bob;
  for (int i = 0; i < 200; ++i) {
    as_bob = http_request(proxy, "GET", "/agents/chat", {}, {{"Authorization", "Bearer " + rs}});
    if (as_bob && as_bob->status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(as_bob);
  ASSERT_EQ(as_bob->status, 200) << as_bob->body;
  EXPECT_EQ(json::parse(as_bob->body).at("x-consumer-username"), "bob");
  EXPECT_EQ(json::parse(as_bob->body).at("x-credential-identifier"), "bob-rsa");

  // HS/RS confusion through the wire: an HS256 token keyed with bob's public key.
  auto confused = http_request(
      proxy, "GET", "/agents/chat", {},
      {{"Authorization", "Bearer " + hs256_token("bob-rsa", public_pem(key), now_s() + 300)}});
  ASSERT_TRUE(confused);
  EXPECT_EQ(confused->status, 401);
  EXPECT_EQ(confused->body, R"({"message":"Invalid algorithm"})");
  EVP_PKEY_free(key);

  (*app)->stop();
  upstream.stop();
}

}  // namespace
}  // namespace suoke::testing
