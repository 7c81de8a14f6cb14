#include "gateway/declarative/declarative.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "gateway/control/test_util.h"

namespace suoke::gateway::testing {
namespace {

constexpr const char* kConfig = R"(_format_version: "3.0"
services:
- name: auth-service
  url: http://auth-service:8000/v1
  connect_timeout: 5000
  tags: [core]
  routes:
  - name: auth
    paths: [/api/v1/auth]
    methods: [GET, POST]
    plugins:
    - name: cors
      config:
        origins: ["*"]
  plugins:
  - name: rate-limiting
    config:
      minute: 100
      hour: 1000
      policy: redis
      redis_host: redis-cluster
      redis_port: 7001
- name: other
  host: other.local
  port: 8080
routes:
- name: loose
  hosts: ["*.example.com"]
  service: other
consumers:
- username: alice
  custom_id: "0042"
  jwt_secrets:
  - key: alice-key
    secret: s3cr3t
  plugins:
  - name: rate-limiting
    config:
      second: 5
plugins:
- name: file-log
  config:
    path: /tmp/access.log
- name: prometheus
  service: other
  consumer: alice
jwt_secrets:
- consumer: alice
  key: second-key
  secret: also-given
)";

declarative::LoadOptions opts() {
  declarative::LoadOptions o;
  o.source_name = "kong.yml";
  o.now_s = 1700000000;
  return o;
}

TEST(Declarative, LoadsNestedKongFormat) {
  auto loaded = declarative::load(kConfig, opts());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const auto& c = loaded.value();
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].at("host"), "auth-service");
  EXPECT_EQ(c.services[0].at("path"), "/v1");
  EXPECT_EQ(c.services[0].at("connect_timeout"), 5000);
  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].at("service").at("id"), c.services[0].at("id"));
  EXPECT_EQ(c.routes[1].at("service").at("id"), c.services[1].at("id"));
  ASSERT_EQ(c.consumers.size(), 1u);
  EXPECT_EQ(c.consumers[0].at("custom_id"), "0042");  // quoted scalar stays a string
  EXPECT_EQ(c.jwt_secrets.size(), 2u);
  EXPECT_EQ(c.plugins.size(), 5u);
  for (const auto& p : c.plugins) {
    if (p.at("name") == "rate-limiting" && !p.at("service").is_null()) {
      EXPECT_EQ(p.at("config").at("redis").at("host"), "redis-cluster");
    }
  }
}

TEST(Declarative, RoundTripIsLossless) {
  auto first = declarative::load(kConfig, opts());
  ASSERT_TRUE(first.ok()) << first.error().message;
  for (bool yaml : {true, false}) {
    std::string text =
        yaml ? declarative::export_yaml(first.value()) : declarative::export_json(first.value());
    auto second = declarative::load(text, opts());
    ASSERT_TRUE(second.ok()) << second.error().message << "\n" << text;
    EXPECT_EQ(declarative::export_json(second.value()), declarative::export_json(first.value()));
    auto sorted = [](std::vector<json::object> v) {
      std::sort(v.begin(), v.end(), [](const json::object& a, const json::object& b) {
        return a.at("id").as_string() < b.at("id").as_string();
      });
      return v;
    };
    for (auto kind : entities::kAllKinds) {
      EXPECT_EQ(sorted(second.value().of(kind)), sorted(first.value().of(kind)))
          << entities::kind_name(kind);
    }
  }
}

TEST(Declarative, ReportsEveryErrorWithPaths) {
  constexpr const char* kBad = R"(_format_version: "3.0"
services:
- name: a
  host: a.local
- name: b
  host: b.local
- name: c
  url: http://c.local
  retries: lots
  routes:
  - paths: [/ok, nope]
plugins:
- name: no-such-plugin
- name: rate-limiting
  config:
    minute: 1
    colour: red
consumers:
- tags: [x]
)";
  std::vector<std::string> lines;
  auto r = declarative::load(kBad, opts(), &lines);
  ASSERT_FALSE(r.ok());
  auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_TRUE(has("services[2].retries: expected an integer")) << r.error().message;
  EXPECT_TRUE(
      has("services[2].routes[0].paths[1]: should start with: / (fixed path) or ~/ (regex path)"))
      << r.error().message;
  EXPECT_TRUE(
      has("plugins[0].name: plugin 'no-such-plugin' not enabled; add it to the 'plugins' "
          "configuration property"))
      << r.error().message;
  EXPECT_TRUE(has("plugins[1].config.colour: unknown field")) << r.error().message;
  EXPECT_TRUE(
      has("consumers[0]: at least one of these fields must be non-empty: 'custom_id', 'username'"))
      << r.error().message;
  EXPECT_NE(r.error().message.find("kong.yml"), std::string::npos);
}

TEST(Declarative, SyntaxErrorsNameLineAndColumn) {
  auto r = declarative::load("_format_version: \"3.0\"\nservices: [\n  - a: b\n", opts());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("line "), std::string::npos) << r.error().message;
  auto missing = declarative::load("services: []\n", opts());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("_format_version: required field missing"),
            std::string::npos);
  EXPECT_TRUE(declarative::load("{\"_format_version\": \"2.1\"}", opts()).ok());
}

TEST(Declarative, StoreLoadIsAllOrNothing) {
  AdminFixture f;
  ASSERT_EQ(f.post("/services", json::object{{"name", "keep"}, {"host", "k.local"}}).status, 201);
  auto bad =
      f.store->load_declarative("_format_version: \"3.0\"\nservices:\n- name: x\n", "bad.yml");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(f.get("/services/keep").status, 200);
  auto good = f.store->load_declarative(kConfig, "kong.yml");
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(f.get("/services/keep").status, 404);
  EXPECT_EQ(f.get("/services/auth-service").status, 200);
  // Same file again: deterministic ids, same hash (generated jwt secrets are random, so the
  // file gives them).
  std::string hash = f.store->snapshot()->configuration_hash;
  ASSERT_TRUE(f.store->load_declarative(kConfig, "kong.yml").ok());
  EXPECT_EQ(f.store->snapshot()->configuration_hash, hash);
  std::string yaml = f.store->export_declarative(true);
  ASSERT_TRUE(f.store->load_declarative(yaml, "export.yml").ok());
  EXPECT_EQ(f.store->snapshot()->configuration_hash, hash);
}

class Durability : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("suoke-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(Durability, WritesSurviveReopen) {
  AdminFixture f(dir_.string());
  ASSERT_EQ(f.post("/services", json::object{{"name", "a"}, {"url", "http://a.local:81/x"}}).status,
            201);
  ASSERT_EQ(f.post("/services/a/routes", json::object{{"name", "ra"}, {"paths", json::array{"/a"}}})
                .status,
            201);
  ASSERT_EQ(f.post("/consumers", json::object{{"username", "u"}}).status, 201);
  ASSERT_EQ(f.post("/consumers/u/jwt", json::object{{"key", "k1"}}).status, 201);
  ASSERT_EQ(f.post("/plugins",
                   json::object{{"name", "rate-limiting"}, {"config", json::object{{"minute", 3}}}})
                .status,
            201);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "kong.json"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "kong.json.tmp"));
  std::string before = f.get("/services/a").body;
  std::string hash = f.store->snapshot()->configuration_hash;
  auto config_before = f.store->config();

  f.reopen(dir_.string());
  EXPECT_EQ(f.get("/services/a").body, before);
  EXPECT_EQ(f.store->snapshot()->configuration_hash, hash);
  EXPECT_EQ(f.get("/consumers/u/jwt/k1").status, 200);
  EXPECT_EQ(f.get("/routes/ra").status, 200);
  EXPECT_EQ(f.store->export_declarative(false), declarative::export_json(config_before));
}

TEST_F(Durability, FailedWriteChangesNothing) {
  AdminFixture f(dir_.string());
  ASSERT_EQ(f.post("/services", json::object{{"name", "a"}, {"host", "a.local"}}).status, 201);
  auto version = f.store->snapshot()->version;
  // Make the directory unusable: replace it with a regular file.
  std::filesystem::rename(dir_, dir_.string() + ".moved");
  { std::ofstream(dir_.string()) << "not a directory"; }
  auto r = f.post("/services", json::object{{"name", "b"}, {"host", "b.local"}});
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(f.get("/services/b").status, 404);
  EXPECT_EQ(f.store->snapshot()->version, version);
  std::filesystem::remove(dir_);
  std::filesystem::rename(dir_.string() + ".moved", dir_);
  f.reopen(dir_.string());
  EXPECT_EQ(f.get("/services/a").status, 200);
  EXPECT_EQ(f.get("/services/b").status, 404);
}

TEST_F(Durability, CorruptFileIsAnError) {
  std::filesystem::create_directories(dir_);
  {
    std::ofstream(dir_ / "kong.json")
        << "{\"_format_version\":\"3.0\",\"services\":[{\"port\":\"x\"}]}";
  }
  store::StoreOptions options;
  options.data_dir = dir_.string();
  auto opened = store::ConfigStore::open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("services[0]"), std::string::npos)
      << opened.error().message;
}

TEST(Concurrency, ParallelWritersAllLand) {
  AdminFixture f;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&f, t] {
      for (int i = 0; i < 25; ++i) {
        auto r = f.post("/services",
                        json::object{{"name", "s" + std::to_string(t) + "-" + std::to_string(i)},
                                     {"host", "h.local"}});
        EXPECT_EQ(r.status, 201);
        f.get("/services?size=5");
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(f.store->snapshot()->services.size(), 100u);
  EXPECT_EQ(f.store->snapshot()->version, 100u);
}

}  // namespace
}  // namespace suoke::gateway::testing
