#include "gateway/router/router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

// Counts allocations while `g_counting` is set, to prove match() stays off the heap. GCC
// cannot see that the replaced operator new and delete are a malloc/free pair.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept { return operator new(n, tag); }
// Every replaced new above allocates with malloc, so every delete frees (std::stable_sort's
// temporary buffer uses the nothrow form, which must be replaced too or sanitizers see a
// new/free mismatch).
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace suoke::gateway::router {
namespace {

Route make_route(std::string name, std::vector<std::string> paths, std::size_t service = 0) {
  Route r;
  r.id = name + "-id";
  r.name = std::move(name);
  r.paths = std::move(paths);
  r.service_index = service;
  return r;
}

Service make_service(std::string name, std::string path = "") {
  Service s;
  s.id = name + "-id";
  s.name = std::move(name);
  s.host = "upstream.local";
  s.path = std::move(path);
  return s;
}

// Owns routes and services so the Match pointers stay valid for the test.
struct Fixture {
  std::vector<Route> routes;
  std::vector<Service> services{make_service("svc")};
  std::optional<Router> router;

  void build() {
    auto built = Router::build(routes, services);
    ASSERT_TRUE(built.ok()) << built.error().message;
    router.emplace(std::move(built).value());
  }
  // Name of the matched route, "" when none.
  std::string match(std::string_view path, std::string_view method = "GET",
                    std::string_view host = "") {
    auto m = router->match(method, host, path);
    return m ? m->route->name : "";
  }
};

TEST(Router, EmptyRouterMatchesNothing) {
  Fixture f;
  f.build();
  EXPECT_EQ(f.match("/"), "");
}

TEST(Router, PrefixMatchIsPlainStringPrefix) {
  Fixture f;
  f.routes = {make_route("a", {"/api"})};
  f.build();
  EXPECT_EQ(f.match("/api"), "a");
  EXPECT_EQ(f.match("/api/x"), "a");
  // Kong's prefix match is on characters, not segments.
  EXPECT_EQ(f.match("/apix"), "a");
  EXPECT_EQ(f.match("/ap"), "");
  EXPECT_EQ(f.match("/other"), "");
  EXPECT_EQ(f.match("/API"), "");  // paths are case-sensitive
}

TEST(Router, LongestPrefixWinsRegardlessOfOrder) {
  // Kong docs: /service vs /service/resource.
  Fixture f;
  f.routes = {make_route("short", {"/service"}), make_route("long", {"/service/resource"}),
              make_route("root", {"/"})};
  f.build();
  EXPECT_EQ(f.match("/service/resource"), "long");
  EXPECT_EQ(f.match("/service/resource/1"), "long");
  EXPECT_EQ(f.match("/service/other"), "short");
  EXPECT_EQ(f.match("/service"), "short");
  EXPECT_EQ(f.match("/else"), "root");
}

TEST(Router, LongestPrefixAcrossBucketsAndShortPrefixes) {
  // "/v" is not a whole segment so it is tried for every request; it must still lose to a
  // longer prefix from the per-segment bucket and beat a shorter one.
  Fixture f;
  f.routes = {make_route("v", {"/v"}), make_route("v1", {"/v1/"}), make_route("v1x", {"/v1/x"}),
              make_route("slash", {"/"})};
  f.build();
  EXPECT_EQ(f.match("/v1/x/y"), "v1x");
  EXPECT_EQ(f.match("/v1/y"), "v1");
  EXPECT_EQ(f.match("/v1"), "v");
  EXPECT_EQ(f.match("/v2/a"), "v");
  EXPECT_EQ(f.match("/w"), "slash");
}

TEST(Router, RouteWithSeveralPathsUsesTheMatchingOne) {
  Fixture f;
  f.routes = {make_route("multi", {"/a", "/bb/cc"}), make_route("mid", {"/bb"})};
  f.build();
  auto m = f.router->match("GET", "", "/bb/cc/d");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route->name, "multi");
  EXPECT_EQ(m->matched_path, "/bb/cc");
  EXPECT_EQ(f.match("/bb/x"), "mid");
  EXPECT_EQ(f.match("/a/x"), "multi");
}

TEST(Router, RegexIsAnchoredAtPathStart) {
  Fixture f;
  f.routes = {make_route("re", {R"(~/users/\d+)"})};
  f.build();
  EXPECT_EQ(f.match("/users/42"), "re");
  EXPECT_EQ(f.match("/users/42/profile"), "re");
  EXPECT_EQ(f.match("/x/users/42"), "");
  EXPECT_EQ(f.match("/users/abc"), "");
  auto m = f.router->match("GET", "", "/users/42/profile");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->matched_path, "/users/42");
}

TEST(Router, RegexEndAnchorAndNamedCaptures) {
  Fixture f;
  f.routes = {make_route("exact", {R"(~/exact$)"}),
              make_route("named", {R"(~/items/(?<id>\d+)$)"})};
  f.build();
  EXPECT_EQ(f.match("/exact"), "exact");
  EXPECT_EQ(f.match("/exact/more"), "");
  EXPECT_EQ(f.match("/items/7"), "named");
  EXPECT_EQ(f.match("/items/7/x"), "");
}

TEST(Router, KongDocsRegexPriorityExample) {
  // Kong docs "Evaluation order": /version/\d+/status/\d+ (priority 6), /status/\d+ (0),
  // then the prefixes longest first.
  Fixture f;
  f.routes = {make_route("status", {R"(~/status/\d+)"}),
              make_route("version_status", {R"(~/version/\d+/status/\d+)"}),
              make_route("version", {"/version"}), make_route("version_any", {"/version/any/"})};
  f.routes[1].regex_priority = 6;
  f.build();
  EXPECT_EQ(f.match("/version/1/status/2"), "version_status");
  EXPECT_EQ(f.match("/status/2"), "status");
  EXPECT_EQ(f.match("/version/any/x"), "version_any");
  EXPECT_EQ(f.match("/version/other"), "version");
}

TEST(Router, HigherRegexPriorityWinsThenOlderRoute) {
  Fixture f;
  f.routes = {make_route("low", {R"(~/a.*)"}), make_route("high", {R"(~/a/b)"}),
              make_route("old", {R"(~/c)"}), make_route("new", {R"(~/c)"})};
  f.routes[0].regex_priority = 1;
  f.routes[1].regex_priority = 5;
  f.routes[2].created_at = 100;
  f.routes[3].created_at = 200;
  f.build();
  EXPECT_EQ(f.match("/a/b"), "high");
  EXPECT_EQ(f.match("/a/x"), "low");
  EXPECT_EQ(f.match("/c"), "old");

  // Creation order decides even when the newer route comes first in the input.
  Fixture g;
  g.routes = {make_route("new", {R"(~/c)"}), make_route("old", {R"(~/c)"})};
  g.routes[0].created_at = 200;
  g.routes[1].created_at = 100;
  g.build();
  EXPECT_EQ(g.match("/c"), "old");
}

TEST(Router, NegativeRegexPriorityOrdersBelowZero) {
  Fixture f;
  f.routes = {make_route("neg", {R"(~/n)"}), make_route("zero", {R"(~/n.*)"})};
  f.routes[0].regex_priority = -1;
  f.build();
  EXPECT_EQ(f.match("/n"), "zero");
}

TEST(Router, RegexBeatsPrefixWithTheSameOtherAttributes) {
  // traditional_compatible: REGEX_URL_BIT sits above regex priority and prefix length.
  Fixture f;
  f.routes = {make_route("prefix", {"/api/v1/users/long/prefix"}), make_route("re", {R"(~/api)"})};
  f.build();
  EXPECT_EQ(f.match("/api/v1/users/long/prefix"), "re");
}

TEST(Router, MethodsAreCaseSensitiveAndFilter) {
  Fixture f;
  f.routes = {make_route("post", {"/login"}), make_route("any", {"/"})};
  f.routes[0].methods = {"POST", "PUT"};
  f.build();
  EXPECT_EQ(f.match("/login", "POST"), "post");
  EXPECT_EQ(f.match("/login", "PUT"), "post");
  EXPECT_EQ(f.match("/login", "GET"), "any");
  EXPECT_EQ(f.match("/login", "post"), "any");
}

TEST(Router, MoreMatchingAttributesWin) {
  // Kong weighs methods, hosts and paths equally: method+path beats a longer plain path.
  Fixture f;
  f.routes = {make_route("long_path", {"/api/v1/very/long"}), make_route("method_path", {"/api"}),
              make_route("host_path", {"/api"})};
  f.routes[1].methods = {"GET"};
  f.routes[2].hosts = {"example.com"};
  f.build();
  EXPECT_EQ(f.match("/api/v1/very/long", "POST"), "long_path");
  EXPECT_EQ(f.match("/api/v1/very/long", "GET"), "method_path");
  // Same weight: a plain (non-wildcard) host ranks above the method route.
  EXPECT_EQ(f.match("/api/v1/very/long", "GET", "example.com"), "host_path");
}

TEST(Router, PlainHostBeatsWildcardHost) {
  Fixture f;
  f.routes = {make_route("wild", {"/x"}), make_route("plain", {"/x"})};
  f.routes[0].hosts = {"*.example.com"};
  f.routes[1].hosts = {"api.example.com"};
  f.build();
  EXPECT_EQ(f.match("/x", "GET", "api.example.com"), "plain");
  EXPECT_EQ(f.match("/x", "GET", "web.example.com"), "wild");
}

TEST(Router, HostOnlyRouteMatchesAnyPath) {
  Fixture f;
  f.routes = {make_route("host", {}), make_route("path", {"/p"})};
  f.routes[0].hosts = {"example.com"};
  f.build();
  // Both weigh 1; the plain host bit ranks the host route first.
  EXPECT_EQ(f.match("/p", "GET", "example.com"), "host");
  EXPECT_EQ(f.match("/p", "GET", "other.com"), "path");
  auto m = f.router->match("GET", "example.com", "/anything");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->matched_path.data(), nullptr);  // no path was matched
}

TEST(Router, HostWildcards) {
  Fixture f;
  f.routes = {make_route("suffix", {}), make_route("prefix", {})};
  f.routes[0].hosts = {"*.example.com"};
  f.routes[1].hosts = {"example.*"};
  f.build();
  EXPECT_EQ(f.match("/", "GET", "a.example.com"), "suffix");
  EXPECT_EQ(f.match("/", "GET", "a.b.example.com"), "suffix");
  EXPECT_EQ(f.match("/", "GET", "example.org"), "prefix");
  EXPECT_EQ(f.match("/", "GET", "example.com"), "prefix");
  EXPECT_EQ(f.match("/", "GET", "other.com"), "");
  EXPECT_EQ(f.match("/", "GET", ""), "");
}

TEST(Router, HostIsCaseInsensitiveAndPortIgnored) {
  Fixture f;
  f.routes = {make_route("h", {"/"})};
  f.routes[0].hosts = {"Example.COM"};
  f.build();
  EXPECT_EQ(f.match("/", "GET", "example.com"), "h");
  EXPECT_EQ(f.match("/", "GET", "EXAMPLE.com:8000"), "h");
  EXPECT_EQ(f.match("/", "GET", "example.com:80"), "h");
  EXPECT_EQ(f.match("/", "GET", "example.comx"), "");
}

TEST(Router, RouteHostWithPortRequiresThatPort) {
  Fixture f;
  f.routes = {make_route("p", {"/"})};
  f.routes[0].hosts = {"example.com:8000"};
  f.build();
  EXPECT_EQ(f.match("/", "GET", "example.com:8000"), "p");
  EXPECT_EQ(f.match("/", "GET", "example.com:9000"), "");
}

TEST(Router, Ipv6HostHeader) {
  Fixture f;
  f.routes = {make_route("v6", {"/"})};
  f.routes[0].hosts = {"[::1]"};
  f.build();
  EXPECT_EQ(f.match("/", "GET", "[::1]:8000"), "v6");
  EXPECT_EQ(f.match("/", "GET", "[::1]"), "v6");
}

TEST(Router, ProtocolsWithoutHttpAreNotMatched) {
  Fixture f;
  f.routes = {make_route("https_only", {"/secure"}), make_route("grpc", {"/g"}),
              make_route("both", {"/"})};
  f.routes[0].protocols = {"https"};
  f.routes[1].protocols = {"grpc", "grpcs"};
  f.build();
  EXPECT_EQ(f.match("/secure"), "both");
  EXPECT_EQ(f.match("/g"), "both");
}

TEST(Router, DisabledServiceRoutesAreSkippedAndServicelessRoutesMatch) {
  Fixture f;
  f.services.push_back(make_service("off"));
  f.services[1].enabled = false;
  f.routes = {make_route("off", {"/x"}, 1), make_route("none", {"/"}, kNoIndex)};
  f.build();
  auto m = f.router->match("GET", "", "/x");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->route->name, "none");
  EXPECT_EQ(m->service, nullptr);
}

TEST(Router, ServiceIsReported) {
  Fixture f;
  f.services.push_back(make_service("second"));
  f.routes = {make_route("r", {"/"}, 1)};
  f.build();
  auto m = f.router->match("GET", "", "/");
  ASSERT_TRUE(m);
  ASSERT_NE(m->service, nullptr);
  EXPECT_EQ(m->service->name, "second");
}

TEST(Router, InvalidRegexNamesTheRoute) {
  std::vector<Route> routes{make_route("broken-route", {"~/a(b"})};
  std::vector<Service> services{make_service("svc")};
  auto built = Router::build(routes, services);
  ASSERT_FALSE(built.ok());
  EXPECT_NE(built.error().message.find("broken-route"), std::string::npos) << built.error().message;
  EXPECT_NE(built.error().message.find("~/a(b"), std::string::npos);
}

TEST(Router, MissingServiceIndexIsAnError) {
  std::vector<Route> routes{make_route("r", {"/"}, 7)};
  std::vector<Service> services{make_service("svc")};
  EXPECT_FALSE(Router::build(routes, services).ok());
}

TEST(Router, SeedTopology) {
  Fixture f;
  f.routes = {make_route("auth-login", {"/api/v1/auth/login"}),
              make_route("auth", {"/api/v1/auth"}), make_route("xiaoai", {"/api/v1/agents/xiaoai"}),
              make_route("health", {"/api/v1/health-data"})};
  f.routes[0].methods = {"POST"};
  f.build();
  EXPECT_EQ(f.match("/api/v1/auth/login", "POST"), "auth-login");
  EXPECT_EQ(f.match("/api/v1/auth/login", "GET"), "auth");
  EXPECT_EQ(f.match("/api/v1/agents/xiaoai/chat", "POST"), "xiaoai");
  EXPECT_EQ(f.match("/api/v1/health-data/records"), "health");
  EXPECT_EQ(f.match("/api/v2/x"), "");
}

TEST(Router, ManyRoutesStayCorrect) {
  Fixture f;
  for (int i = 0; i < 500; ++i) {
    f.routes.push_back(make_route("r" + std::to_string(i), {"/svc" + std::to_string(i) + "/api"}));
  }
  f.routes.push_back(make_route("re", {R"(~/svc7/api/\d+)"}));
  f.build();
  EXPECT_EQ(f.match("/svc0/api/x"), "r0");
  EXPECT_EQ(f.match("/svc499/api"), "r499");
  EXPECT_EQ(f.match("/svc7/api/12"), "re");
  EXPECT_EQ(f.match("/svc7/api/x"), "r7");
  EXPECT_EQ(f.match("/svc500/api"), "");
}

TEST(Router, MatchDoesNotAllocate) {
  Fixture f;
  f.routes = {make_route("prefix", {"/api/v1/users"}), make_route("re", {R"(~/api/v2/(\d+)/x)"}),
              make_route("host", {"/h"})};
  f.routes[2].hosts = {"*.example.com"};
  f.routes[2].methods = {"GET"};
  f.build();
  const Router& r = *f.router;
  // Warm up: Boost.Regex caches its state blocks and the per-thread match vector on first use.
  for (int i = 0; i < 3; ++i) {
    (void)r.match("GET", "a.example.com:80", "/api/v2/12/x");
    (void)r.match("GET", "", "/nothing");
  }
  g_allocations = 0;
  g_counting = true;
  int hits = 0;
  for (int i = 0; i < 100; ++i) {
    hits += r.match("GET", "", "/api/v1/users/1").has_value();
    hits += r.match("GET", "", "/api/v2/12/x").has_value();
    hits += r.match("GET", "a.example.com:80", "/h").has_value();
    hits += r.match("GET", "", "/none").has_value();
  }
  g_counting = false;
  EXPECT_EQ(hits, 300);
  EXPECT_EQ(g_allocations.load(), 0);
}

// ---- upstream_path: Kong's path_handling table (docs "Proxy reference" / Admin API) ----

struct PathCase {
  std::string service_path;
  std::string route_path;
  bool strip;
  std::string handling;
  std::string request;
  std::string expected;
};

std::string upstream_for(const PathCase& c) {
  std::vector<Service> services{make_service("s", c.service_path)};
  std::vector<Route> routes{make_route("r", {c.route_path})};
  routes[0].strip_path = c.strip;
  routes[0].path_handling = c.handling;
  auto built = Router::build(routes, services);
  EXPECT_TRUE(built.ok());
  auto m = built->match("GET", "", c.request);
  EXPECT_TRUE(m.has_value()) << c.request;
  if (!m) return "<no match>";
  return Router::upstream_path(*m, c.request);
}

TEST(UpstreamPath, KongDocsTable) {
  const std::vector<PathCase> cases = {
      // service.path, route.path, strip_path, path_handling, request path, upstream path
      {"/s", "/fv0", false, "v0", "/fv0req", "/s/fv0req"},
      {"/s", "/fv0", false, "v0", "/fv0", "/s/fv0"},
      {"/s", "/fv1", false, "v1", "/fv1req", "/sfv1req"},
      {"/s", "/fv1", false, "v1", "/fv1", "/sfv1"},
      {"/s", "/tv0", true, "v0", "/tv0req", "/s/req"},
      {"/s", "/tv0", true, "v0", "/tv0", "/s"},
      {"/s", "/tv1", true, "v1", "/tv1req", "/sreq"},
      {"/s", "/tv1", true, "v1", "/tv1", "/s"},
      {"/s", "/fv0/", false, "v0", "/fv0/req", "/s/fv0/req"},
      {"/s", "/fv0/", false, "v0", "/fv0/", "/s/fv0/"},
      {"/s", "/fv1/", false, "v1", "/fv1/req", "/sfv1/req"},
      {"/s", "/fv1/", false, "v1", "/fv1/", "/sfv1/"},
      {"/s", "/tv0/", true, "v0", "/tv0/req", "/s/req"},
      {"/s", "/tv0/", true, "v0", "/tv0/", "/s/"},
      {"/s", "/tv1/", true, "v1", "/tv1/req", "/sreq"},
      {"/s", "/tv1/", true, "v1", "/tv1/", "/s"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(upstream_for(c), c.expected)
        << c.service_path << " " << c.route_path << " strip=" << c.strip << " " << c.handling << " "
        << c.request;
  }
}

TEST(UpstreamPath, ServicePathWithTrailingSlashV0) {
  const std::vector<PathCase> cases = {
      {"/s/", "/p", true, "v0", "/p", "/s"},
      {"/s/", "/p", true, "v0", "/p/", "/s/"},
      {"/s/", "/p", true, "v0", "/p/x", "/s/x"},  // no double slash
      {"/s/", "/p", true, "v0", "/px", "/s/x"},
      {"/s/", "/p", false, "v0", "/p/x", "/s/p/x"},
      {"/s/", "/p/", true, "v1", "/p/x", "/s/x"},
      {"/s/", "/p", true, "v1", "/p/x", "/s/x"},  // v1 also drops the double slash
      {"/s/", "/p", false, "v1", "/p/x", "/s/p/x"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(upstream_for(c), c.expected)
        << c.service_path << " " << c.route_path << " strip=" << c.strip << " " << c.handling << " "
        << c.request;
  }
}

TEST(UpstreamPath, NoServicePathMeansRoot) {
  const std::vector<PathCase> cases = {
      {"", "/api", true, "v0", "/api", "/"},
      {"", "/api", true, "v0", "/api/", "/"},
      {"", "/api", true, "v0", "/api/users", "/users"},
      {"", "/api", false, "v0", "/api/users", "/api/users"},
      {"", "/", true, "v0", "/", "/"},
      {"", "/", true, "v0", "/users", "/users"},
      {"", "/", false, "v0", "/", "/"},
      {"/", "/api", true, "v0", "/api/users", "/users"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(upstream_for(c), c.expected) << "'" << c.service_path << "' " << c.route_path
                                           << " strip=" << c.strip << " " << c.request;
  }
}

TEST(UpstreamPath, RegexStripsTheMatchedPart) {
  std::vector<Service> services{make_service("s", "/base")};
  std::vector<Route> routes{make_route("r", {R"(~/v\d+)"})};
  auto built = Router::build(routes, services);
  ASSERT_TRUE(built.ok());
  auto m = built->match("GET", "", "/v12/users");
  ASSERT_TRUE(m);
  EXPECT_EQ(Router::upstream_path(*m, "/v12/users"), "/base/users");
}

TEST(UpstreamPath, SanitizesDotSegmentsLeftByStripping) {
  const std::vector<PathCase> cases = {
      {"/s", "/p", true, "v0", "/p..", "/s"},
      {"/s", "/p", true, "v0", "/p../x", "/s/x"},
      {"/s", "/p", true, "v0", "/p./x", "/s/x"},
  };
  for (const auto& c : cases) EXPECT_EQ(upstream_for(c), c.expected) << c.request;
}

TEST(UpstreamPath, RouteWithoutPathsKeepsTheRequestPath) {
  std::vector<Service> services{make_service("s", "/base")};
  std::vector<Route> routes{make_route("r", {})};
  routes[0].hosts = {"h.com"};
  auto built = Router::build(routes, services);
  ASSERT_TRUE(built.ok());
  auto m = built->match("GET", "h.com", "/x/y");
  ASSERT_TRUE(m);
  EXPECT_EQ(Router::upstream_path(*m, "/x/y"), "/base/x/y");
  m = built->match("GET", "h.com", "/");
  ASSERT_TRUE(m);
  EXPECT_EQ(Router::upstream_path(*m, "/"), "/base");
}

}  // namespace
}  // namespace suoke::gateway::router
