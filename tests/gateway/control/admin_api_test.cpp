#include <gtest/gtest.h>

#include "gateway/control/test_util.h"

namespace suoke::gateway::testing {
namespace {

TEST(AdminApi, ServiceCrudByIdAndName) {
  AdminFixture f;
  auto created =
      f.post("/services", json::object{{"name", "svc"}, {"url", "https://example.com/base"}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto svc = created.obj();
  EXPECT_EQ(svc["protocol"], "https");
  EXPECT_EQ(svc["port"], 443);
  EXPECT_EQ(svc["path"], "/base");
  EXPECT_EQ(svc["created_at"], f.clock.now_seconds());
  EXPECT_EQ(svc["enabled"], true);
  std::string id(svc["id"].as_string());

  EXPECT_EQ(f.get("/services/" + id).status, 200);
  EXPECT_EQ(f.get("/services/svc").obj()["id"], svc["id"]);

  f.clock.advance_ms(5000);
  auto patched = f.patch("/services/svc", json::object{{"retries", 2}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.obj()["retries"], 2);
  EXPECT_EQ(patched.obj()["host"], "example.com");
  EXPECT_EQ(patched.obj()["updated_at"], f.clock.now_seconds());
  EXPECT_EQ(patched.obj()["created_at"], svc["created_at"]);

  auto put = f.put("/services/svc", json::object{{"host", "other.local"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.obj()["id"], svc["id"]);
  EXPECT_EQ(put.obj()["retries"], 5);  // PUT replaces: defaults again

  auto upsert_new = f.put("/services/fresh", json::object{{"host", "h.local"}});
  ASSERT_EQ(upsert_new.status, 200) << upsert_new.body;
  EXPECT_EQ(upsert_new.obj()["name"], "fresh");

  EXPECT_EQ(f.del("/services/svc").status, 204);
  EXPECT_EQ(f.del("/services/svc").status, 204);  // absent: still 204
  EXPECT_EQ(f.get("/services/svc").status, 404);
  EXPECT_EQ(f.get("/services/svc").body, R"({"message":"Not found"})");
  EXPECT_EQ(f.patch("/services/nope", json::object{{"retries", 1}}).status, 404);
}

TEST(AdminApi, ClientGivenIdIsKept) {
  AdminFixture f;
  std::string id = "5b1c4f4e-5a9f-4b8e-9a44-2f1a2b3c4d5e";
  auto r = f.post("/services", json::object{{"id", id}, {"host", "a.local"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.obj()["id"], json::value(id));
  auto again = f.post("/services", json::object{{"id", id}, {"host", "a.local"}});
  EXPECT_EQ(again.status, 400);
  EXPECT_EQ(again.obj()["code"], 3);
  auto bad = f.post("/services", json::object{{"id", "nope"}, {"host", "a.local"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.obj()["fields"].at("id"), "expected a valid UUID");
}

TEST(AdminApi, SchemaViolationShape) {
  AdminFixture f;
  auto r = f.post("/services", json::object{{"name", "x"}, {"retries", "many"}});
  EXPECT_EQ(r.status, 400);
  auto o = r.obj();
  EXPECT_EQ(o["code"], 2);
  EXPECT_EQ(o["name"], "schema violation");
  EXPECT_EQ(o["message"],
            "2 schema violations (host: required field missing; retries: expected an integer)");
  EXPECT_EQ(o["fields"].at("host"), "required field missing");
  EXPECT_EQ(o["fields"].at("retries"), "expected an integer");
  EXPECT_EQ(f.get("/services").obj()["data"].as_array().size(), 0u);

  auto unknown = f.post("/services", json::object{{"host", "a.b"}, {"colour", "red"}});
  EXPECT_EQ(unknown.obj()["message"], "schema violation (colour: unknown field)");
}

TEST(AdminApi, RouteValidation) {
  AdminFixture f;
  auto none = f.post("/routes", json::object{{"name", "r"}});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.obj()["fields"].at("@entity").at(0),
            "at least one of these fields must be non-empty: 'methods', 'hosts', 'headers', "
            "'paths', 'snis'");
  auto bad_path = f.post("/routes", json::object{{"paths", json::array{"/ok", "nope"}}});
  EXPECT_EQ(bad_path.status, 400);
  EXPECT_EQ(bad_path.obj()["message"],
            "schema violation (paths.2: should start with: / (fixed path) or ~/ (regex path))");
  EXPECT_TRUE(bad_path.obj()["fields"].at("paths").at(0).is_null());
  auto ok = f.post("/routes", json::object{{"paths", json::array{"/a"}}});
  ASSERT_EQ(ok.status, 201);
  auto r = ok.obj();
  EXPECT_EQ(r["protocols"], (json::array{"http", "https"}));
  EXPECT_EQ(r["regex_priority"], 0);
  EXPECT_EQ(r["strip_path"], true);
  EXPECT_EQ(r["preserve_host"], false);
  EXPECT_EQ(r["path_handling"], "v0");
  EXPECT_EQ(r["https_redirect_status_code"], 426);
  EXPECT_EQ(r["request_buffering"], true);
  EXPECT_EQ(r["response_buffering"], true);
  EXPECT_TRUE(r["service"].is_null());
}

TEST(AdminApi, ForeignKeys) {
  AdminFixture f;
  auto r = f.post("/routes", json::object{{"paths", json::array{"/a"}},
                                          {"service", json::object{{"name", "ghost"}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.obj()["code"], 13);
  EXPECT_EQ(r.obj()["name"], "foreign keys unresolved");
  EXPECT_EQ(r.obj()["message"],
            "foreign key unresolved (service.name: the foreign key cannot be resolved with "
            "'{name=\"ghost\"}' for an existing 'services' entity)");
  auto by_id = f.post(
      "/routes",
      json::object{{"paths", json::array{"/a"}},
                   {"service", json::object{{"id", "5b1c4f4e-5a9f-4b8e-9a44-2f1a2b3c4d5e"}}}});
  EXPECT_EQ(by_id.status, 400);
  EXPECT_EQ(by_id.obj()["code"], 4);

  ASSERT_EQ(f.post("/services", json::object{{"name", "s"}, {"host", "s.local"}}).status, 201);
  auto route = f.post("/services/s/routes", json::object{{"paths", json::array{"/s"}}});
  ASSERT_EQ(route.status, 201) << route.body;
  auto plugin = f.post("/services/s/plugins", json::object{{"name", "prometheus"}});
  ASSERT_EQ(plugin.status, 201) << plugin.body;

  auto del = f.del("/services/s");
  EXPECT_EQ(del.status, 400);
  EXPECT_EQ(del.obj()["code"], 4);
  EXPECT_EQ(del.obj()["message"], "an existing 'routes' entity references this 'services' entity");
  EXPECT_EQ(f.get("/services/s").status, 200);

  std::string rid(route.obj()["id"].as_string());
  EXPECT_EQ(f.del("/routes/" + rid).status, 204);
  EXPECT_EQ(f.del("/services/s").status, 204);
  // The service's plugin went with it (Kong: on_delete cascade).
  EXPECT_EQ(f.get("/plugins").obj()["data"].as_array().size(), 0u);
}

TEST(AdminApi, UniqueViolation) {
  AdminFixture f;
  ASSERT_EQ(f.post("/services", json::object{{"name", "x"}, {"host", "a.b"}}).status, 201);
  auto dup = f.post("/services", json::object{{"name", "x"}, {"host", "a.b"}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(
      dup.body,
      R"({"code":5,"name":"unique constraint violation","message":"UNIQUE violation detected on '{name=\"x\"}'","fields":{"name":"x"}})");
  ASSERT_EQ(f.post("/plugins", json::object{{"name", "cors"}}).status, 201);
  auto dup_plugin = f.post("/plugins", json::object{{"name", "cors"}});
  EXPECT_EQ(dup_plugin.status, 409);
  EXPECT_EQ(dup_plugin.obj()["message"],
            "UNIQUE violation detected on '{consumer=null,name=\"cors\",route=null,service=null}'");
}

TEST(AdminApi, MalformedBodiesAndMethods) {
  AdminFixture f;
  auto bad = f.call("POST", "/services", "{\"name\":");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body, R"({"message":"Cannot parse JSON body"})");
  EXPECT_EQ(f.call("POST", "/services", "[1,2]").status, 400);
  EXPECT_EQ(f.call("DELETE", "/services").status, 405);
  EXPECT_EQ(f.call("DELETE", "/services").body, R"({"message":"Method not allowed"})");
  EXPECT_EQ(f.get("/nothing/here").status, 404);
  EXPECT_EQ(f.get("/services").obj()["data"].as_array().size(), 0u);
}

TEST(AdminApi, Pagination) {
  AdminFixture f;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(
        f.post("/services", json::object{{"name", "s" + std::to_string(i)}, {"host", "h.local"}})
            .status,
        201);
  }
  auto page1 = f.get("/services?size=2").obj();
  ASSERT_EQ(page1["data"].as_array().size(), 2u);
  ASSERT_TRUE(page1["next"].is_string());
  std::string next(page1["next"].as_string());
  EXPECT_EQ(next.rfind("/services?offset=", 0), 0u);
  auto page2 = f.get(next).obj();
  ASSERT_EQ(page2["data"].as_array().size(), 2u);
  auto page3 = f.get(std::string(page2["next"].as_string())).obj();
  ASSERT_EQ(page3["data"].as_array().size(), 1u);
  EXPECT_TRUE(page3["next"].is_null());
  EXPECT_EQ(page3["data"].at(0).at("name"), "s4");
  EXPECT_TRUE(f.get("/services").obj()["next"].is_null());

  auto too_big = f.get("/services?size=1001");
  EXPECT_EQ(too_big.status, 400);
  EXPECT_EQ(too_big.obj()["message"], "size must be an integer between 1 and 1000");
  EXPECT_EQ(f.get("/services?size=0").status, 400);
  EXPECT_EQ(f.get("/services?offset=%%%").status, 400);
}

TEST(AdminApi, FormBodies) {
  AdminFixture f;
  auto svc =
      f.form("POST", "/services", "name=formsvc&url=http%3A%2F%2Fup.local%3A9000%2Fp&retries=3");
  ASSERT_EQ(svc.status, 201) << svc.body;
  EXPECT_EQ(svc.obj()["retries"], 3);
  EXPECT_EQ(svc.obj()["port"], 9000);
  auto route = f.form(
      "POST", "/routes",
      "service.name=formsvc&paths=/a&paths=/b&methods[]=GET&methods[]=POST&strip_path=false");
  ASSERT_EQ(route.status, 201) << route.body;
  EXPECT_EQ(route.obj()["paths"], (json::array{"/a", "/b"}));
  EXPECT_EQ(route.obj()["methods"], (json::array{"GET", "POST"}));
  EXPECT_EQ(route.obj()["strip_path"], false);
  auto single = f.form("POST", "/routes", "hosts=example.com");
  ASSERT_EQ(single.status, 201) << single.body;
  EXPECT_EQ(single.obj()["hosts"], (json::array{"example.com"}));
  auto plugin =
      f.form("POST", "/services/formsvc/plugins",
             "name=rate-limiting&config.minute=100&config[hour]=1000&config.policy=local");
  ASSERT_EQ(plugin.status, 201) << plugin.body;
  EXPECT_EQ(plugin.obj()["config"].at("minute"), 100);
  EXPECT_EQ(plugin.obj()["config"].at("hour"), 1000);
  auto bad = f.form("POST", "/plugins", "name=rate-limiting&config.minute=lots");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.obj()["fields"].at("config").at("minute"), "expected a number");

  auto multipart =
      f.call("POST", "/consumers",
             "--XyZ\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\r\n--XyZ--\r\n",
             "multipart/form-data; boundary=XyZ");
  ASSERT_EQ(multipart.status, 201) << multipart.body;
  EXPECT_EQ(multipart.obj()["username"], "bob");
}

TEST(AdminApi, PluginsValidation) {
  AdminFixture f;
  auto unknown = f.post("/plugins", json::object{{"name", "x-custom"}});
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.obj()["message"],
            "schema violation (name: plugin 'x-custom' not enabled; add it to the 'plugins' "
            "configuration property)");
  auto unknown_field =
      f.post("/plugins", json::object{{"name", "cors"}, {"config", json::object{{"bogus", 1}}}});
  EXPECT_EQ(unknown_field.obj()["fields"].at("config").at("bogus"), "unknown field");
  auto no_limit = f.post("/plugins", json::object{{"name", "rate-limiting"}});
  EXPECT_EQ(no_limit.status, 400);
  EXPECT_EQ(no_limit.obj()["fields"].at("@entity").at(0),
            "at least one of these fields must be non-empty: 'config.second', 'config.minute', "
            "'config.hour', 'config.day', 'config.month', 'config.year'");
  auto file_log = f.post("/plugins", json::object{{"name", "file-log"}});
  EXPECT_EQ(file_log.obj()["fields"].at("config").at("path"), "required field missing");
  auto otel = f.post("/plugins", json::object{{"name", "opentelemetry"}});
  EXPECT_EQ(otel.obj()["fields"].at("config").at("endpoint"), "required field missing");

  auto plugin = f.post(
      "/plugins", json::object{{"name", "rate-limiting"}, {"config", json::object{{"minute", 5}}}});
  ASSERT_EQ(plugin.status, 201) << plugin.body;
  std::string id(plugin.obj()["id"].as_string());
  auto patched = f.patch("/plugins/" + id, json::object{{"config", json::object{{"hour", 50}}}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.obj()["config"].at("minute"), 5);  // config records merge on PATCH
  EXPECT_EQ(patched.obj()["config"].at("hour"), 50);
  auto order = f.patch("/plugins/" + id, json::object{{"config", json::object{{"hour", 1}}}});
  EXPECT_EQ(order.status, 400);
  EXPECT_EQ(order.obj()["fields"].at("config"),
            "The limit for hour(1.0) cannot be lower than the limit for minute(5.0)");
}

TEST(AdminApi, ConsumersAndJwt) {
  AdminFixture f;
  auto none = f.post("/consumers", json::object{});
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.obj()["fields"].at("@entity").at(0),
            "at least one of these fields must be non-empty: 'custom_id', 'username'");
  ASSERT_EQ(f.post("/consumers", json::object{{"username", "alice"}}).status, 201);
  auto cred = f.post("/consumers/alice/jwt", json::object{});
  ASSERT_EQ(cred.status, 201) << cred.body;
  auto c = cred.obj();
  EXPECT_EQ(c["algorithm"], "HS256");
  EXPECT_EQ(c["key"].as_string().size(), 32u);
  EXPECT_EQ(c["secret"].as_string().size(), 32u);
  std::string key(c["key"].as_string());
  EXPECT_EQ(f.get("/consumers/alice/jwt/" + key).status, 200);
  EXPECT_EQ(f.get("/jwts/" + key).status, 200);
  EXPECT_EQ(f.get("/jwts").obj()["data"].as_array().size(), 1u);
  EXPECT_EQ(f.get("/consumers/alice/jwt").obj()["data"].as_array().size(), 1u);

  auto rs = f.post("/consumers/alice/jwt", json::object{{"algorithm", "RS256"}});
  EXPECT_EQ(rs.status, 400);
  EXPECT_EQ(rs.obj()["fields"].at("rsa_public_key"), "required field missing");
  auto bad_key = f.post("/consumers/alice/jwt",
                        json::object{{"algorithm", "RS256"}, {"rsa_public_key", "nope"}});
  EXPECT_EQ(bad_key.obj()["fields"].at("rsa_public_key"), "invalid key");
  auto bad_alg = f.post("/consumers/alice/jwt", json::object{{"algorithm", "none"}});
  EXPECT_EQ(bad_alg.status, 400);

  ASSERT_EQ(f.post("/consumers/alice/plugins",
                   json::object{{"name", "rate-limiting"}, {"config", json::object{{"second", 1}}}})
                .status,
            201);
  auto cors_on_consumer = f.post("/consumers/alice/plugins", json::object{{"name", "cors"}});
  EXPECT_EQ(cors_on_consumer.status, 400);

  EXPECT_EQ(f.del("/consumers/alice").status, 204);
  EXPECT_EQ(f.get("/jwts").obj()["data"].as_array().size(), 0u);
  EXPECT_EQ(f.get("/plugins").obj()["data"].as_array().size(), 0u);
  EXPECT_EQ(f.get("/consumers/alice/jwt").status, 404);
}

TEST(AdminApi, RootStatusAndConfig) {
  AdminFixture f;
  auto root = f.get("/").obj();
  EXPECT_EQ(root["tagline"], "Welcome to kong");
  EXPECT_TRUE(root["version"].is_string());
  EXPECT_TRUE(root["node_id"].is_string());
  EXPECT_TRUE(root["configuration"].is_object());
  EXPECT_TRUE(root["plugins"].at("available_on_server").as_object().contains("rate-limiting"));
  EXPECT_TRUE(root["plugins"].at("enabled_in_cluster").is_array());

  auto status = f.get("/status").obj();
  EXPECT_EQ(status["server"].at("connections_accepted"), 7);
  EXPECT_EQ(status["server"].at("connections_writing"), 0);
  EXPECT_EQ(status["configuration_hash"], "00000000000000000000000000000000");

  ASSERT_EQ(f.post("/services", json::object{{"name", "a"}, {"host", "a.local"}}).status, 201);
  std::string hash(f.get("/status").obj()["configuration_hash"].as_string());
  EXPECT_NE(hash, "00000000000000000000000000000000");
  EXPECT_EQ(hash, f.store->snapshot()->configuration_hash);

  auto exported = f.get("/config").obj();
  ASSERT_TRUE(exported["config"].is_string());
  std::string yaml(exported["config"].as_string());
  EXPECT_NE(yaml.find("_format_version"), std::string::npos);

  auto loaded = f.call("POST", "/config",
                       "_format_version: \"3.0\"\nservices:\n- name: b\n  url: http://b.local\n  "
                       "routes:\n  - paths: [/b]\n",
                       "text/yaml");
  ASSERT_EQ(loaded.status, 201) << loaded.body;
  EXPECT_EQ(f.get("/services/a").status, 404);
  EXPECT_EQ(f.get("/services/b").status, 200);
  auto bad = f.post("/config",
                    json::object{{"config", "_format_version: \"3.0\"\nservices:\n- host: 1\n"}});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.obj()["code"], 14);
  EXPECT_EQ(f.get("/services/b").status, 200);  // rejected config applied nothing
}

TEST(AdminApi, SnapshotsPublishedOnChange) {
  AdminFixture f;
  std::vector<uint64_t> versions;
  f.store->on_change([&](std::shared_ptr<const Snapshot> s) { versions.push_back(s->version); });
  ASSERT_EQ(f.post("/services", json::object{{"name", "a"}, {"host", "a.local"}}).status, 201);
  ASSERT_EQ(f.post("/services/a/routes", json::object{{"paths", json::array{"/a"}}}).status, 201);
  EXPECT_EQ(f.post("/services", json::object{{"name", "a"}, {"host", "a.local"}}).status, 409);
  EXPECT_EQ(f.del("/services/zzz").status, 204);
  EXPECT_EQ(versions, (std::vector<uint64_t>{1, 2}));
  auto snap = f.store->snapshot();
  ASSERT_EQ(snap->routes.size(), 1u);
  EXPECT_EQ(snap->routes[0].service_index, 0u);
  EXPECT_EQ(snap->services[0].host, "a.local");
}

}  // namespace
}  // namespace suoke::gateway::testing
