// Replays, through AdminApi::handle, the exact calls the seed's
// scripts/configure_kong_services.py makes (JSON bodies, services by url, routes and plugins
// referring to services by name), then checks the resulting entities.
#include <gtest/gtest.h>

#include "gateway/control/test_util.h"

namespace suoke::gateway::testing {
namespace {

void create_service(AdminFixture& f, const std::string& name, const std::string& url,
                    bool timeouts) {
  json::object body{{"name", name}, {"url", url}};
  if (timeouts) {
    body["connect_timeout"] = 60000;
    body["write_timeout"] = 60000;
    body["read_timeout"] = 60000;
  }
  auto r = f.post("/services", body);
  ASSERT_EQ(r.status, 201) << r.body;
}

void create_route(AdminFixture& f, const std::string& service, const std::string& path,
                  json::array methods) {
  auto r = f.post("/routes", json::object{{"service", json::object{{"name", service}}},
                                          {"paths", json::array{json::value(path)}},
                                          {"methods", methods}});
  ASSERT_EQ(r.status, 201) << r.body;
}

void add_plugin(AdminFixture& f, const std::string& service, const std::string& plugin,
                json::object config = {}) {
  json::object body{{"name", plugin}, {"service", json::object{{"name", service}}}};
  if (!config.empty()) body["config"] = config;
  auto r = f.post("/plugins", body);
  ASSERT_EQ(r.status, 201) << r.body;
}

json::object redis_limits(int minute, int hour) {
  return json::object{{"minute", minute},
                      {"hour", hour},
                      {"policy", "redis"},
                      {"redis_host", "redis-cluster"},
                      {"redis_port", 7001}};
}

TEST(SeedScript, ConfiguresEverythingLikeKong) {
  AdminFixture f;
  create_service(f, "auth-service", "http://auth-service:8000", true);
  create_route(f, "auth-service", "/api/v1/auth", {"GET", "POST", "PUT", "DELETE"});
  add_plugin(f, "auth-service", "rate-limiting", redis_limits(100, 1000));

  create_service(f, "xiaoai-service", "http://xiaoai-service:8000", true);
  create_route(f, "xiaoai-service", "/api/v1/xiaoai", {"GET", "POST"});
  add_plugin(f, "xiaoai-service", "jwt",
             json::object{{"secret_is_base64", false},
                          {"key_claim_name", "iss"},
                          {"claims_to_verify", json::array{"exp"}}});
  add_plugin(f, "xiaoai-service", "rate-limiting", redis_limits(50, 500));

  for (std::string agent : {"xiaoke", "laoke", "soer"}) {
    create_service(f, agent + "-service", "http://" + agent + "-service:8000", true);
    create_route(f, agent + "-service", "/api/v1/" + agent, {"GET", "POST"});
    add_plugin(f, agent + "-service", "jwt");
    add_plugin(f, agent + "-service", "rate-limiting", redis_limits(50, 500));
  }

  create_service(f, "user-service", "http://user-service:8000", false);
  create_route(f, "user-service", "/api/v1/users", {"GET", "POST", "PUT", "DELETE"});
  add_plugin(f, "user-service", "jwt");

  create_service(f, "health-data-service", "http://health-data-service:8000", false);
  create_route(f, "health-data-service", "/api/v1/health", {"GET", "POST", "PUT"});
  add_plugin(f, "health-data-service", "jwt");
  add_plugin(
      f, "health-data-service", "response-transformer",
      json::object{
          {"remove", json::object{{"json", json::array{"sensitive_data", "personal_info"}}}}});

  auto cors = f.post(
      "/plugins",
      json::object{
          {"name", "cors"},
          {"config",
           json::object{
               {"origins", json::array{"*"}},
               {"methods", json::array{"GET", "POST", "PUT", "DELETE", "OPTIONS"}},
               {"headers", json::array{"Accept", "Accept-Version", "Content-Length", "Content-MD5",
                                       "Content-Type", "Date", "X-Auth-Token"}},
               {"exposed_headers", json::array{"X-Auth-Token"}},
               {"credentials", true},
               {"max_age", 3600}}}});
  ASSERT_EQ(cors.status, 201) << cors.body;
  auto log = f.post(
      "/plugins",
      json::object{{"name", "file-log"}, {"config", json::object{{"path", "/tmp/access.log"}}}});
  ASSERT_EQ(log.status, 201) << log.body;

  // What the proof-of-compatibility test checks through the Admin API.
  auto services = f.get("/services").obj();
  ASSERT_EQ(services["data"].as_array().size(), 7u);
  auto auth = f.get("/services/auth-service").obj();
  EXPECT_EQ(auth["protocol"], "http");
  EXPECT_EQ(auth["host"], "auth-service");
  EXPECT_EQ(auth["port"], 8000);
  EXPECT_TRUE(auth["path"].is_null());
  EXPECT_EQ(auth["retries"], 5);
  EXPECT_EQ(auth["connect_timeout"], 60000);

  auto routes = f.get("/services/auth-service/routes").obj();
  ASSERT_EQ(routes["data"].as_array().size(), 1u);
  auto route = routes["data"].as_array()[0].as_object();
  EXPECT_EQ(route["paths"], (json::array{"/api/v1/auth"}));
  EXPECT_EQ(route["methods"], (json::array{"GET", "POST", "PUT", "DELETE"}));
  EXPECT_EQ(route["strip_path"], true);
  EXPECT_EQ(route["service"].at("id"), auth["id"]);

  auto plugins = f.get("/services/auth-service/plugins").obj();
  ASSERT_EQ(plugins["data"].as_array().size(), 1u);
  auto rl = plugins["data"].as_array()[0].as_object();
  EXPECT_EQ(rl["name"], "rate-limiting");
  EXPECT_EQ(rl["config"].at("minute"), 100);
  EXPECT_EQ(rl["config"].at("policy"), "redis");
  EXPECT_EQ(rl["config"].at("redis").at("host"), "redis-cluster");
  EXPECT_EQ(rl["config"].at("redis").at("port"), 7001);
  EXPECT_EQ(rl["config"].at("redis_host"), "redis-cluster");  // deprecated field echoed

  auto all_plugins = f.get("/plugins").obj();
  EXPECT_EQ(all_plugins["data"].as_array().size(), 14u);

  auto snap = f.store->snapshot();
  EXPECT_EQ(snap->services.size(), 7u);
  EXPECT_EQ(snap->routes.size(), 7u);
  EXPECT_EQ(snap->plugins.size(), 14u);
  EXPECT_NE(snap->router, nullptr);
  EXPECT_EQ(snap->configuration_hash.size(), 32u);
  EXPECT_NE(snap->configuration_hash, "00000000000000000000000000000000");
  for (const auto& r : snap->routes) EXPECT_LT(r.service_index, snap->services.size());
}

}  // namespace
}  // namespace suoke::gateway::testing
