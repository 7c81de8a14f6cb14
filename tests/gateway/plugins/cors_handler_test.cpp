// The CORS matrix: origins (none, "*", literal, list, regex by host and by origin),
// credentials, preflight answered or continued, exposed headers, max_age, Vary.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "gateway/plugins/chain.h"
#include "gateway/plugins/cors/handler.h"

namespace suoke::gateway::plugins::cors {
namespace {

namespace json = boost::json;

class Headers : public HeaderView {
 public:
  std::size_t size() const override { return h.size(); }
  std::string_view name(std::size_t i) const override { return h[i].first; }
  std::string_view value(std::size_t i) const override { return h[i].second; }
  std::string_view get(std::string_view n) const override { return http::find_header(h, n); }
  http::HeaderList h;
};

// The config as the control plane stores it: Kong's defaults filled in.
json::object config(json::object overrides) {
  json::object c{{"origins", nullptr},
                 {"headers", nullptr},
                 {"exposed_headers", nullptr},
                 {"methods", json::array{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS",
                                         "TRACE", "CONNECT"}},
                 {"max_age", nullptr},
                 {"credentials", false},
                 {"private_network", false},
                 {"preflight_continue", false}};
  for (auto& kv : overrides) c[kv.key()] = kv.value();
  return c;
}

struct Cors {
  explicit Cors(json::object overrides) {
    entity.name = "cors";
    entity.config = config(std::move(overrides));
    PluginFactory factory = find_factory("cors");
    EXPECT_NE(factory, nullptr);
    Snapshot snapshot;
    PluginRuntime runtime;
    auto made = factory(entity, snapshot, runtime);
    EXPECT_TRUE(made.ok()) << (made.ok() ? "" : made.error().message);
    handler = std::move(made).value();
  }

  // A normal (non-preflight) request; returns the response head after header_filter.
  ResponseHead request(std::string method, std::string origin, http::HeaderList upstream = {}) {
    RequestContext ctx;
    Headers req;
    if (!origin.empty()) req.h.emplace_back("Origin", origin);
    ctx.method = method;
    ctx.request_headers = &req;
    handler->access(ctx);
    EXPECT_FALSE(ctx.exit.has_value());
    ResponseHead head;
    head.status = 200;
    head.headers = std::move(upstream);
    handler->header_filter(ctx, head);
    return head;
  }

  // A preflight; returns the exit response (status 0 when the gateway did not answer) with
  // header_filter applied as the proxy does on exits.
  http::Response preflight(std::string origin, http::HeaderList extra = {}) {
    RequestContext ctx;
    Headers req;
    req.h = {{"Origin", origin}, {"Access-Control-Request-Method", "POST"}};
    for (auto& h : extra) req.h.push_back(h);
    ctx.method = "OPTIONS";
    ctx.request_headers = &req;
    handler->access(ctx);
    http::Response res;
    res.status = 0;
    if (ctx.exit) res = *ctx.exit;
    ResponseHead head;
    head.status = res.status;
    head.headers = res.headers;
    handler->header_filter(ctx, head);
    EXPECT_EQ(head.headers, res.headers) << "header_filter must leave a preflight alone";
    return res;
  }

  gateway::Plugin entity;
  std::unique_ptr<PluginHandler> handler;
};

std::string_view get(const http::HeaderList& h, std::string_view name) {
  return http::find_header(h, name);
}
int count(const http::HeaderList& h, std::string_view name) {
  int n = 0;
  for (const auto& kv : h) n += http::iequals(kv.first, name);
  return n;
}

TEST(CorsNormalize, LikeLuaSocket) {
  EXPECT_EQ(normalize_origin("https://a.com").domain, "https://a.com");
  EXPECT_EQ(normalize_origin("https://a.com:443").domain, "https://a.com");
  EXPECT_EQ(normalize_origin("http://a.com:80").domain, "http://a.com");
  EXPECT_EQ(normalize_origin("http://a.com:443").domain, "http://a.com:443");
  EXPECT_EQ(normalize_origin("http://a.com:8080/path?q#f").domain, "http://a.com:8080");
  EXPECT_EQ(normalize_origin("http://a.com:8080").host, "a.com");
  EXPECT_EQ(normalize_origin("http://user@a.com").domain, "http://a.com");
  EXPECT_EQ(normalize_origin("http://[::1]:8000").host, "::1");
  EXPECT_EQ(normalize_origin("a.com").domain, "a.com");  // no scheme: no host, kept as is
  EXPECT_EQ(normalize_origin("null").domain, "null");
}

TEST(CorsMatrix, NoOriginsAllowsAllWithoutVary) {
  Cors cors({});
  auto head = cors.request("GET", "https://anything.org");
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "*");
  EXPECT_EQ(count(head.headers, "vary"), 0);
  EXPECT_EQ(get(head.headers, "access-control-allow-credentials"), "");
}

TEST(CorsMatrix, NoOriginHeaderNoCorsHeaders) {
  Cors cors({{"origins", json::array{"https://a.com"}}});
  auto head = cors.request("GET", "");
  EXPECT_TRUE(head.headers.empty());
}

TEST(CorsMatrix, StarAllowsAll) {
  Cors cors({{"origins", json::array{"*"}}});
  auto head =
      cors.request("POST", "https://x.org", {{"Access-Control-Allow-Origin", "https://up"}});
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "*");
  EXPECT_EQ(count(head.headers, "access-control-allow-origin"), 1);
}

TEST(CorsMatrix, SingleLiteralOriginIsSentAsIs) {
  Cors cors({{"origins", json::array{"https://app.example.com"}}});
  for (const char* origin : {"https://app.example.com", "https://evil.org"}) {
    auto head = cors.request("GET", origin);
    // Kong sends the configured origin whatever the request's; the browser compares.
    EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "https://app.example.com");
    EXPECT_EQ(get(head.headers, "vary"), "Origin");
  }
}

TEST(CorsMatrix, ListAllowedAndDenied) {
  Cors cors({{"origins", json::array{"https://a.com", "http://b.com:8080"}}});
  auto allowed = cors.request("GET", "https://a.com:443");
  EXPECT_EQ(get(allowed.headers, "access-control-allow-origin"), "https://a.com");
  EXPECT_EQ(get(allowed.headers, "vary"), "Origin");
  EXPECT_EQ(get(cors.request("GET", "http://b.com:8080").headers, "access-control-allow-origin"),
            "http://b.com:8080");

  auto denied = cors.request("GET", "https://c.com", {{"Access-Control-Allow-Origin", "*"}});
  EXPECT_EQ(count(denied.headers, "access-control-allow-origin"), 0)
      << "the upstream's header is removed";
  EXPECT_EQ(get(denied.headers, "vary"), "Origin");
  EXPECT_EQ(get(cors.request("GET", "http://b.com").headers, "access-control-allow-origin"), "");
}

TEST(CorsMatrix, RegexByHost) {
  Cors cors({{"origins", json::array{R"((.*\.)?example\.com)"}}});
  EXPECT_EQ(
      get(cors.request("GET", "https://api.example.com").headers, "access-control-allow-origin"),
      "https://api.example.com");
  EXPECT_EQ(
      get(cors.request("GET", "http://example.com:8080").headers, "access-control-allow-origin"),
      "http://example.com:8080");
  for (const char* denied :
       {"https://example.com.evil.org", "https://notexample.com", "https://evil.org"}) {
    auto head = cors.request("GET", denied);
    EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "") << denied;
    EXPECT_EQ(get(head.headers, "vary"), "Origin") << denied;
  }
}

TEST(CorsMatrix, RegexByOriginAndUserAnchors) {
  Cors cors({{"origins", json::array{R"(https://.*\.example\.com)", R"(^http://local\.test:\d+$)",
                                     "https://exact.org"}}});
  EXPECT_EQ(
      get(cors.request("GET", "https://a.example.com").headers, "access-control-allow-origin"),
      "https://a.example.com");
  EXPECT_EQ(get(cors.request("GET", "http://a.example.com").headers, "access-control-allow-origin"),
            "");
  EXPECT_EQ(
      get(cors.request("GET", "http://local.test:3000").headers, "access-control-allow-origin"),
      "http://local.test:3000");
  EXPECT_EQ(get(cors.request("GET", "http://local.test").headers, "access-control-allow-origin"),
            "");
  EXPECT_EQ(get(cors.request("GET", "https://exact.org").headers, "access-control-allow-origin"),
            "https://exact.org");
}

TEST(CorsMatrix, StarInAListAllowsAll) {
  Cors cors({{"origins", json::array{"https://a.com", "*"}}});
  auto head = cors.request("GET", "https://z.org");
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "*");
}

TEST(CorsMatrix, CredentialsWithAListOrStar) {
  Cors list({{"origins", json::array{"https://a.com", "https://b.com"}}, {"credentials", true}});
  auto head = list.request("GET", "https://b.com");
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "https://b.com");
  EXPECT_EQ(get(head.headers, "access-control-allow-credentials"), "true");

  // "*" cannot carry credentials: Kong echoes the origin, which then varies.
  Cors star({{"origins", json::array{"*"}}, {"credentials", true}});
  head = star.request("GET", "https://z.org");
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "https://z.org");
  EXPECT_EQ(get(head.headers, "access-control-allow-credentials"), "true");
  EXPECT_EQ(get(head.headers, "vary"), "Origin");
}

TEST(CorsMatrix, ExposedHeaders) {
  Cors cors({{"exposed_headers", json::array{"X-Request-Id", "X-RateLimit-Remaining-Minute"}}});
  auto head = cors.request("GET", "https://a.com", {{"Access-Control-Expose-Headers", "X-Up"}});
  EXPECT_EQ(get(head.headers, "access-control-expose-headers"),
            "X-Request-Id,X-RateLimit-Remaining-Minute");
  EXPECT_EQ(count(head.headers, "access-control-expose-headers"), 1);
  Cors none({});
  EXPECT_EQ(get(none.request("GET", "https://a.com").headers, "access-control-expose-headers"), "");
}

TEST(CorsMatrix, VaryIsAddedOnceNextToTheUpstreams) {
  Cors cors({{"origins", json::array{"https://a.com", "https://b.com"}}});
  auto head = cors.request("GET", "https://a.com", {{"Vary", "Accept-Encoding"}});
  EXPECT_EQ(count(head.headers, "vary"), 2);
  head = cors.request("GET", "https://a.com", {{"Vary", "Accept-Encoding, origin"}});
  EXPECT_EQ(count(head.headers, "vary"), 1);
}

TEST(CorsPreflight, AnsweredByTheGateway) {
  Cors cors({{"origins", json::array{"https://a.com", "https://b.com"}},
             {"methods", json::array{"GET", "POST"}},
             {"headers", json::array{"Authorization", "Content-Type"}},
             {"max_age", 3600}});
  auto res = cors.preflight("https://a.com");
  EXPECT_EQ(res.status, 200);
  EXPECT_TRUE(res.body.empty());
  EXPECT_EQ(get(res.headers, "access-control-allow-origin"), "https://a.com");
  EXPECT_EQ(get(res.headers, "access-control-allow-methods"), "GET,POST");
  EXPECT_EQ(get(res.headers, "access-control-allow-headers"), "Authorization,Content-Type");
  EXPECT_EQ(get(res.headers, "access-control-max-age"), "3600");
  EXPECT_EQ(get(res.headers, "vary"), "Origin");
  EXPECT_EQ(get(res.headers, "access-control-allow-credentials"), "");

  auto denied = cors.preflight("https://evil.org");
  EXPECT_EQ(denied.status, 200);  // Kong answers; the missing ACAO makes the browser refuse
  EXPECT_EQ(get(denied.headers, "access-control-allow-origin"), "");
}

TEST(CorsPreflight, EchoesRequestedHeadersAndDefaultsMethods) {
  Cors cors({});
  auto res = cors.preflight("https://a.com",
                            {{"Access-Control-Request-Headers", "X-Custom, Authorization"}});
  EXPECT_EQ(get(res.headers, "access-control-allow-headers"), "X-Custom, Authorization");
  EXPECT_EQ(get(res.headers, "access-control-allow-methods"),
            "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT");
  EXPECT_EQ(get(res.headers, "access-control-allow-origin"), "*");
  EXPECT_EQ(get(res.headers, "access-control-max-age"), "");
  auto no_acrh = cors.preflight("https://a.com");
  EXPECT_EQ(get(no_acrh.headers, "access-control-allow-headers"), "");
}

TEST(CorsPreflight, WithAndWithoutCredentials) {
  Cors star({{"credentials", true}});
  auto res = star.preflight("https://a.com");
  EXPECT_EQ(get(res.headers, "access-control-allow-origin"), "https://a.com");
  EXPECT_EQ(get(res.headers, "access-control-allow-credentials"), "true");
  EXPECT_EQ(get(res.headers, "vary"), "Origin");

  Cors list({{"origins", json::array{"https://a.com", "https://c.com"}}, {"credentials", true}});
  res = list.preflight("https://c.com");
  EXPECT_EQ(get(res.headers, "access-control-allow-origin"), "https://c.com");
  EXPECT_EQ(get(res.headers, "access-control-allow-credentials"), "true");

  Cors without({{"origins", json::array{"*"}}});
  res = without.preflight("https://a.com");
  EXPECT_EQ(get(res.headers, "access-control-allow-origin"), "*");
  EXPECT_EQ(get(res.headers, "access-control-allow-credentials"), "");
  EXPECT_EQ(get(res.headers, "vary"), "");
}

TEST(CorsPreflight, ContinueHandsItToTheUpstreamUntouched) {
  Cors cors({{"origins", json::array{"https://a.com"}}, {"preflight_continue", true}});
  auto res = cors.preflight("https://a.com");
  EXPECT_EQ(res.status, 0) << "no exit: the request is proxied";
  EXPECT_TRUE(res.headers.empty()) << "and the upstream's answer gets no CORS header from us";
}

TEST(CorsPreflight, OptionsWithoutRequestMethodIsNotAPreflight) {
  Cors cors({{"origins", json::array{"https://a.com", "https://b.com"}}});
  auto head = cors.request("OPTIONS", "https://a.com");
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "https://a.com");
  EXPECT_EQ(get(head.headers, "access-control-allow-methods"), "");
}

TEST(CorsPreflight, PrivateNetwork) {
  Cors cors({{"private_network", true}});
  EXPECT_EQ(
      get(cors.preflight("https://a.com", {{"Access-Control-Request-Private-Network", "true"}})
              .headers,
          "access-control-allow-private-network"),
      "true");
  EXPECT_EQ(get(cors.preflight("https://a.com").headers, "access-control-allow-private-network"),
            "");
  Cors off({});
  EXPECT_EQ(get(off.preflight("https://a.com", {{"Access-Control-Request-Private-Network", "true"}})
                    .headers,
                "access-control-allow-private-network"),
            "");
}

TEST(CorsExit, HeadersOnAnExitResponse) {
  // The proxy runs header_filter on exits (e.g. jwt's 401), so the browser can read them.
  Cors cors({{"origins", json::array{"https://a.com", "https://b.com"}}, {"credentials", true}});
  RequestContext ctx;
  Headers req;
  req.h = {{"Origin", "https://a.com"}};
  ctx.method = "GET";
  ctx.request_headers = &req;
  cors.handler->access(ctx);
  ResponseHead head;
  head.status = 401;
  head.headers = {{"WWW-Authenticate", "Bearer"}, {"Content-Type", "application/json"}};
  cors.handler->header_filter(ctx, head);
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "https://a.com");
  EXPECT_EQ(get(head.headers, "access-control-allow-credentials"), "true");
}

TEST(CorsFactory, MaxAgeAsNumber) {
  Cors cors({{"max_age", 86400.0}});
  EXPECT_EQ(get(cors.preflight("https://a.com").headers, "access-control-max-age"), "86400");
  Cors frac({{"max_age", 1.5}});
  EXPECT_EQ(get(frac.preflight("https://a.com").headers, "access-control-max-age"), "1.5");
}

TEST(CorsFactory, PathologicalRegexDoesNotThrowOnTheRequestPath) {
  Cors cors({{"origins", json::array{"(a+)+$x", "https://ok.org"}}});
  std::string origin = "https://" + std::string(30, 'a') + "b";
  auto head = cors.request("GET", origin);
  EXPECT_EQ(get(head.headers, "access-control-allow-origin"), "");
  EXPECT_EQ(get(cors.request("GET", "https://ok.org").headers, "access-control-allow-origin"),
            "https://ok.org");
}

}  // namespace
}  // namespace suoke::gateway::plugins::cors
