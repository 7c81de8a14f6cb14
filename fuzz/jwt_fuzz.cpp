// Fuzzes the jwt plugin's access phase: arbitrary bytes as a token (in the Authorization
// header, the query, a cookie, or as header/payload JSON that is then validly signed so the
// claim checks are reached) against handlers with HS and RS/ES credentials. Must never crash,
// and a request is always either authenticated or answered with an exit.
//
// Input: byte 0 selects the placement (and the handler); the rest is the token material.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "gateway/plugins/jwt/base64url.h"
#include "gateway/plugins/jwt/handler.h"
#include "http/message.h"
#include "support/public_key_pem.h"

namespace {

namespace json = boost::json;
using namespace suoke::gateway;
using suoke::gateway::plugins::HeaderView;
using suoke::gateway::plugins::PluginHandler;
using suoke::gateway::plugins::PluginRuntime;
using suoke::gateway::plugins::RequestContext;
using suoke::testing::public_pem;

class Headers final : public HeaderView {
 public:
  suoke::http::HeaderList list;
  std::size_t size() const override { return list.size(); }
  std::string_view name(std::size_t i) const override { return list[i].first; }
  std::string_view value(std::size_t i) const override { return list[i].second; }
  std::string_view get(std::string_view n) const override {
    return suoke::http::find_header(list, n);
  }
};

struct World {
  suoke::FakeClock clock;
  PluginRuntime runtime{clock};
  Snapshot snapshot;
  Plugin strict_entity, lenient_entity;
  std::unique_ptr<PluginHandler> strict, lenient;
};

World* make_world() {
  auto* w = new World();
  w->snapshot.consumers = {{"c1", "alice", "A"}, {"c2", "bob", ""}, {"anon", "anonymous", ""}};
  EVP_PKEY* rsa = EVP_RSA_gen(2048);
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  w->snapshot.jwt_credentials = {
      {"k1", "c1", "hs256", "fuzz-secret", "HS256", ""},
      {"k2", "c2", "hs512", "fuzz-secret", "HS512", ""},
      {"k3", "c1", "rs256", "", "RS256", public_pem(rsa)},
      {"k4", "c2", "es256", "", "ES256", public_pem(ec)},
      {"k5", "gone", "orphan", "fuzz-secret", "HS256", ""},
  };
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(ec);
  w->strict_entity.id = "strict";
  w->strict_entity.name = "jwt";
  w->strict_entity.config = json::object{{"uri_param_names", json::array{"jwt", "token"}},
                                         {"cookie_names", json::array{"jwt"}},
                                         {"header_names", json::array{"authorization", "x-jwt"}},
                                         {"key_claim_name", "iss"},
                                         {"secret_is_base64", false},
                                         {"claims_to_verify", json::array{"exp", "nbf"}},
                                         {"run_on_preflight", true},
                                         {"maximum_expiration", 3600}};
  w->lenient_entity.id = "lenient";
  w->lenient_entity.name = "jwt";
  w->lenient_entity.config = json::object{{"uri_param_names", json::array{"jwt"}},
                                          {"cookie_names", json::array{}},
                                          {"header_names", json::array{"authorization"}},
                                          {"key_claim_name", "kid"},
                                          {"secret_is_base64", true},
                                          {"anonymous", "anonymous"},
                                          {"run_on_preflight", false},
                                          {"maximum_expiration", 0}};
  auto strict = plugins::jwt::make_handler(w->strict_entity, w->snapshot, w->runtime);
  auto lenient = plugins::jwt::make_handler(w->lenient_entity, w->snapshot, w->runtime);
  if (!strict.ok() || !lenient.ok()) std::abort();
  w->strict = std::move(strict).value();
  w->lenient = std::move(lenient).value();
  return w;
}

// header JSON '\n' payload JSON, base64url-encoded and signed with the HS256 credential's
// secret, so that inputs get past the signature to the claim and consumer checks.
std::string signed_token(std::string_view material) {
  std::size_t nl = material.find('\n');
  std::string_view header = material.substr(0, nl);
  std::string_view payload =
      nl == std::string_view::npos ? std::string_view{} : material.substr(nl + 1);
  std::string input =
      plugins::jwt::encode_base64url(header) + "." + plugins::jwt::encode_base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), "fuzz-secret", 11, reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return input + "." +
         plugins::jwt::encode_base64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static World* world = make_world();
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string material(reinterpret_cast<const char*>(data + 1), size - 1);
  const PluginHandler& handler = (mode & 0x80) ? *world->lenient : *world->strict;

  Headers headers;
  std::string query;
  switch (mode & 0x07) {
    case 0:
      headers.list.emplace_back("Authorization", "Bearer " + material);
      break;
    case 1:
      headers.list.emplace_back("Authorization", material);  // the raw header value
      break;
    case 2:
      query = material;  // a whole query string
      break;
    case 3:
      headers.list.emplace_back("Cookie", material);
      break;
    case 4:
      headers.list.emplace_back("Authorization", "Bearer " + signed_token(material));
      break;
    case 5:
      query = "jwt=" + signed_token(material);
      headers.list.emplace_back("x-jwt", "bearer " + material);
      break;
    default: {
      // Two placements at once: the multiple-token logic.
      std::size_t half = material.size() / 2;
      headers.list.emplace_back("Authorization", "Bearer " + material.substr(0, half));
      query = "token=" + material.substr(half);
      break;
    }
  }

  RequestContext ctx;
  ctx.snapshot = &world->snapshot;
  ctx.method = (mode & 0x40) ? "OPTIONS" : "GET";
  ctx.query = query;
  ctx.request_headers = &headers;
  handler.access(ctx);
  // An answer or an identity (or nothing, for a skipped preflight); never both.
  if (ctx.exit && ctx.consumer) std::abort();
  if (ctx.exit && ctx.exit->status != 401 && ctx.exit->status != 500) std::abort();
  return 0;
}
