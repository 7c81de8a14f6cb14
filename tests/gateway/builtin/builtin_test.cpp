#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <set>

#include "gateway/builtin/builtin_services.h"

namespace suoke::gateway::builtin {
namespace {

namespace json = boost::json;

http::Request request(std::string method, std::string target, std::string body = "") {
  http::Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  r.headers = {{"Host", "127.0.0.1:18101"},       {"X-Forwarded-For", "10.0.0.1"},
               {"X-Forwarded-Proto", "http"},     {"X-Forwarded-Host", "gateway.local"},
               {"X-Forwarded-Port", "8000"},      {"X-Forwarded-Path", "/api/v1/auth/login"},
               {"X-Real-IP", "10.0.0.1"},         {"X-Request-Id", "req-123"},
               {"Authorization", "Bearer secret"}};
  return r;
}

json::object body_of(const http::Response& r) {
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(http::find_header(r.headers, "Content-Type").find("application/json"),
            std::string_view::npos);
  return json::parse(r.body).as_object();
}

// Collects every key of a JSON value, at any depth.
void keys_of(const json::value& v, std::multiset<std::string>& keys) {
  if (v.is_object()) {
    for (const auto& [k, child] : v.as_object()) {
      keys.insert(std::string(k));
      keys_of(child, keys);
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) keys_of(child, keys);
  }
}

TEST(BuiltinServices, RegistryListsTheSevenSeedServicesInOrder) {
  std::vector<std::string> names;
  for (const auto& s : builtin_services()) {
    names.push_back(s.name);
    EXPECT_NE(s.description.find("built-in placeholder upstream for " + s.name), std::string::npos);
    ASSERT_TRUE(s.handler);
    auto body = body_of(s.handler(request("GET", "/anything?x=1")));
    EXPECT_EQ(body["service"].as_string(), s.name);
    EXPECT_EQ(body["description"].as_string(), "built-in placeholder upstream for " + s.name);
    EXPECT_TRUE(body["placeholder"].as_bool());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"auth-service", "xiaoai-service", "xiaoke-service",
                                             "laoke-service", "soer-service", "user-service",
                                             "health-data-service"}));
}

TEST(BuiltinServices, EchoesMethodPathAndProxyHeaders) {
  auto response = handle_user(request("PUT", "/users/7?verbose=1", R"({"a":1})"));
  EXPECT_EQ(http::find_header(response.headers, "X-Suoke-Builtin-Upstream"), "user-service");
  auto body = body_of(response);
  auto& echo = body["request"].as_object();
  EXPECT_EQ(echo["method"].as_string(), "PUT");
  EXPECT_EQ(echo["path"].as_string(), "/users/7");
  EXPECT_EQ(echo["query"].as_string(), "verbose=1");
  EXPECT_EQ(echo["body_bytes"].as_int64(), 7);
  auto& headers = echo["headers"].as_object();
  EXPECT_EQ(headers["x-forwarded-for"].as_string(), "10.0.0.1");
  EXPECT_EQ(headers["x-forwarded-proto"].as_string(), "http");
  EXPECT_EQ(headers["x-forwarded-host"].as_string(), "gateway.local");
  EXPECT_EQ(headers["x-forwarded-port"].as_string(), "8000");
  EXPECT_EQ(headers["x-forwarded-path"].as_string(), "/api/v1/auth/login");
  EXPECT_EQ(headers["x-real-ip"].as_string(), "10.0.0.1");
  EXPECT_EQ(headers["x-request-id"].as_string(), "req-123");
  EXPECT_EQ(headers["host"].as_string(), "127.0.0.1:18101");
  // Credentials are not reflected back.
  EXPECT_FALSE(headers.contains("authorization"));
  EXPECT_EQ(body["received"].as_object()["a"].as_int64(), 1);
}

TEST(BuiltinServices, AuthLoginMintsNothing) {
  auto body =
      body_of(handle_auth(request("POST", "/login", R"({"username":"alice","password":"pw"})")));
  EXPECT_EQ(body["action"].as_string(), "login");
  EXPECT_EQ(body["username"].as_string(), "alice");
  EXPECT_FALSE(body["authenticated"].as_bool());
  EXPECT_TRUE(body["token"].is_null());
  EXPECT_EQ(body.find("password"), body.end());
  auto info = body_of(handle_auth(request("GET", "/")));
  EXPECT_EQ(info["action"].as_string(), "info");
}

TEST(BuiltinServices, AgentsDescribeThemselvesAndEchoChat) {
  for (std::string agent : {"xiaoai", "xiaoke", "laoke", "soer"}) {
    auto info = body_of(handle_agent(agent, request("GET", "/")));
    EXPECT_EQ(info["agent"].as_string(), agent);
    EXPECT_EQ(info["service"].as_string(), agent + "-service");
    EXPECT_FALSE(info["display_name"].as_string().empty());
    auto chat = body_of(
        handle_agent(agent, request("POST", "/chat", R"({"message":"你好","session_id":"s1"})")));
    auto& c = chat["chat"].as_object();
    EXPECT_EQ(c["agent"].as_string(), agent);
    EXPECT_EQ(c["received"].as_string(), "你好");
    EXPECT_EQ(c["session_id"].as_string(), "s1");
    EXPECT_NE(std::string(c["reply"].as_string()).find(agent), std::string::npos);
  }
}

TEST(BuiltinServices, AgentChatToleratesNonJsonBody) {
  auto chat = body_of(handle_agent("xiaoai", request("POST", "/chat", "plain text")));
  EXPECT_EQ(chat["chat"].as_object()["received"].as_string(), "plain text");
}

TEST(BuiltinServices, HealthDataCarriesSensitiveFieldsAtSeveralDepths) {
  auto body = body_of(handle_health_data(request("GET", "/records")));
  EXPECT_TRUE(body.contains("sensitive_data"));
  EXPECT_TRUE(body.contains("personal_info"));
  auto& records = body["records"].as_array();
  ASSERT_EQ(records.size(), 2u);
  for (const auto& r : records) {
    const auto& rec = r.as_object();
    EXPECT_TRUE(rec.contains("sensitive_data"));
    EXPECT_TRUE(rec.contains("personal_info"));
    EXPECT_TRUE(rec.contains("value"));  // normal fields stay alongside
    EXPECT_TRUE(rec.at("detail").as_object().contains("sensitive_data"));
  }
  std::multiset<std::string> keys;
  keys_of(body, keys);
  EXPECT_GE(keys.count("sensitive_data"), 6u);
  EXPECT_GE(keys.count("personal_info"), 6u);
  auto posted =
      body_of(handle_health_data(request("POST", "/records", R"({"type":"weight","value":60})")));
  EXPECT_TRUE(posted["record"].as_object().contains("personal_info"));
}

// ---- seed_declarative_config ----

const std::map<std::string, uint16_t> kPorts = {
    {"auth-service", 18101},       {"xiaoai-service", 18102}, {"xiaoke-service", 18103},
    {"laoke-service", 18104},      {"soer-service", 18105},   {"user-service", 18106},
    {"health-data-service", 18107}};

YAML::Node parsed_seed() { return YAML::Load(seed_declarative_config(kPorts)); }

YAML::Node service_named(const YAML::Node& root, const std::string& name) {
  for (const auto& s : root["services"]) {
    if (s["name"].as<std::string>() == name) return s;
  }
  ADD_FAILURE() << "no service " << name;
  return {};
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& n : seq) out.push_back(n.as<std::string>());
  return out;
}

TEST(SeedConfig, ParsesAndListsTheSevenServicesInTheScriptsOrder) {
  YAML::Node root = parsed_seed();
  EXPECT_EQ(root["_format_version"].as<std::string>(), "3.0");
  std::vector<std::string> names;
  for (const auto& s : root["services"]) names.push_back(s["name"].as<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"auth-service", "xiaoai-service", "xiaoke-service",
                                             "laoke-service", "soer-service", "user-service",
                                             "health-data-service"}));
  // Every registry entry has a service in the config, so `suoke up` can give each a port.
  for (const auto& b : builtin_services()) {
    EXPECT_EQ(service_named(root, b.name)["url"].as<std::string>(),
              "http://127.0.0.1:" + std::to_string(kPorts.at(b.name)));
  }
}

TEST(SeedConfig, RoutesAndTimeoutsMatchTheScript) {
  YAML::Node root = parsed_seed();
  struct Expect {
    std::string service, path;
    std::vector<std::string> methods;
    bool timeouts;
  };
  const std::vector<Expect> expected = {
      {"auth-service", "/api/v1/auth", {"GET", "POST", "PUT", "DELETE"}, true},
      {"xiaoai-service", "/api/v1/xiaoai", {"GET", "POST"}, true},
      {"xiaoke-service", "/api/v1/xiaoke", {"GET", "POST"}, true},
      {"laoke-service", "/api/v1/laoke", {"GET", "POST"}, true},
      {"soer-service", "/api/v1/soer", {"GET", "POST"}, true},
      {"user-service", "/api/v1/users", {"GET", "POST", "PUT", "DELETE"}, false},
      {"health-data-service", "/api/v1/health", {"GET", "POST", "PUT"}, false},
  };
  for (const auto& e : expected) {
    YAML::Node s = service_named(root, e.service);
    ASSERT_EQ(s["routes"].size(), 1u) << e.service;
    EXPECT_EQ(strings(s["routes"][0]["paths"]), std::vector<std::string>{e.path});
    EXPECT_EQ(strings(s["routes"][0]["methods"]), e.methods);
    if (e.timeouts) {
      for (const char* t : {"connect_timeout", "write_timeout", "read_timeout"}) {
        EXPECT_EQ(s[t].as<int>(), 60000) << e.service << " " << t;
      }
    } else {
      EXPECT_FALSE(s["connect_timeout"]) << e.service;
    }
  }
}

TEST(SeedConfig, ServicePluginsMatchTheScript) {
  YAML::Node root = parsed_seed();
  auto plugin_names = [&](const std::string& service) {
    std::vector<std::string> out;
    for (const auto& p : service_named(root, service)["plugins"])
      out.push_back(p["name"].as<std::string>());
    return out;
  };
  EXPECT_EQ(plugin_names("auth-service"), std::vector<std::string>{"rate-limiting"});
  EXPECT_EQ(plugin_names("xiaoai-service"), (std::vector<std::string>{"jwt", "rate-limiting"}));
  for (const char* agent : {"xiaoke-service", "laoke-service", "soer-service"}) {
    EXPECT_EQ(plugin_names(agent), (std::vector<std::string>{"jwt", "rate-limiting"}));
    EXPECT_FALSE(service_named(root, agent)["plugins"][0]["config"]);  // jwt with no config
  }
  EXPECT_EQ(plugin_names("user-service"), std::vector<std::string>{"jwt"});
  EXPECT_EQ(plugin_names("health-data-service"),
            (std::vector<std::string>{"jwt", "response-transformer"}));

  YAML::Node auth_rl = service_named(root, "auth-service")["plugins"][0]["config"];
  EXPECT_EQ(auth_rl["minute"].as<int>(), 100);
  EXPECT_EQ(auth_rl["hour"].as<int>(), 1000);
  EXPECT_EQ(auth_rl["policy"].as<std::string>(), "redis");
  EXPECT_EQ(auth_rl["redis_host"].as<std::string>(), "redis-cluster");
  EXPECT_EQ(auth_rl["redis_port"].as<int>(), 7001);

  YAML::Node xiaoai = service_named(root, "xiaoai-service")["plugins"];
  EXPECT_FALSE(xiaoai[0]["config"]["secret_is_base64"].as<bool>());
  EXPECT_EQ(xiaoai[0]["config"]["key_claim_name"].as<std::string>(), "iss");
  EXPECT_EQ(strings(xiaoai[0]["config"]["claims_to_verify"]), std::vector<std::string>{"exp"});
  EXPECT_EQ(xiaoai[1]["config"]["minute"].as<int>(), 50);
  EXPECT_EQ(xiaoai[1]["config"]["hour"].as<int>(), 500);
  EXPECT_EQ(service_named(root, "soer-service")["plugins"][1]["config"]["minute"].as<int>(), 50);

  YAML::Node rt = service_named(root, "health-data-service")["plugins"][1]["config"];
  // The script's two names, plus the any-depth paths `suoke up` adds for nested records.
  EXPECT_EQ(strings(rt["remove"]["json"]),
            (std::vector<std::string>{"sensitive_data", "personal_info", "**.sensitive_data",
                                      "**.personal_info"}));
}

TEST(SeedConfig, GlobalPluginsMatchTheScript) {
  YAML::Node plugins = parsed_seed()["plugins"];
  ASSERT_EQ(plugins.size(), 2u);
  EXPECT_EQ(plugins[0]["name"].as<std::string>(), "cors");
  YAML::Node cors = plugins[0]["config"];
  EXPECT_EQ(strings(cors["origins"]), std::vector<std::string>{"*"});
  EXPECT_EQ(strings(cors["methods"]),
            (std::vector<std::string>{"GET", "POST", "PUT", "DELETE", "OPTIONS"}));
  EXPECT_EQ(strings(cors["headers"]),
            (std::vector<std::string>{"Accept", "Accept-Version", "Content-Length", "Content-MD5",
                                      "Content-Type", "Date", "X-Auth-Token"}));
  EXPECT_EQ(strings(cors["exposed_headers"]), std::vector<std::string>{"X-Auth-Token"});
  EXPECT_TRUE(cors["credentials"].as<bool>());
  EXPECT_EQ(cors["max_age"].as<int>(), 3600);
  EXPECT_EQ(plugins[1]["name"].as<std::string>(), "file-log");
  EXPECT_EQ(plugins[1]["config"]["path"].as<std::string>(), "/tmp/access.log");
  EXPECT_FALSE(plugins[0]["service"]);
}

TEST(SeedConfig, MissingPortKeepsTheSeedUrl) {
  YAML::Node root = YAML::Load(seed_declarative_config({{"auth-service", 9000}}));
  EXPECT_EQ(service_named(root, "auth-service")["url"].as<std::string>(), "http://127.0.0.1:9000");
  EXPECT_EQ(service_named(root, "user-service")["url"].as<std::string>(),
            "http://user-service:8000");
}

}  // namespace
}  // namespace suoke::gateway::builtin
