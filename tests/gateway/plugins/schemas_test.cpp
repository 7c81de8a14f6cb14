#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "gateway/plugins/registry.h"

namespace suoke::gateway::plugins {
namespace {

namespace json = boost::json;

json::value check(const char* name, json::value config, schema::Errors& errors) {
  const PluginSchema* s = find_schema(name);
  EXPECT_NE(s, nullptr) << name;
  if (s->translate_shorthands && config.is_object()) s->translate_shorthands(config.as_object());
  json::value out = schema::validate(*s->config, &config, {{"config", -1}}, errors);
  if (errors.empty()) {
    json::object plugin{{"config", out}};
    schema::run_entity_checks(s->entity_checks, plugin, {}, errors);
  }
  return out;
}

TEST(PluginSchemas, RegistryHasTheBundledPlugins) {
  for (const char* n : {"jwt", "rate-limiting", "cors", "response-transformer", "file-log",
                        "prometheus", "opentelemetry"}) {
    EXPECT_NE(find_schema(n), nullptr) << n;
  }
  EXPECT_EQ(find_schema("key-auth"), nullptr);
  EXPECT_EQ(all_schemas().size(), 7u);
}

TEST(PluginSchemas, JwtDefaults) {
  schema::Errors e;
  auto out = check("jwt", json::object{}, e);
  ASSERT_TRUE(e.empty());
  EXPECT_EQ(out.at("uri_param_names"), (json::array{"jwt"}));
  EXPECT_EQ(out.at("key_claim_name"), "iss");
  EXPECT_EQ(out.at("secret_is_base64"), false);
  EXPECT_EQ(out.at("run_on_preflight"), true);
  EXPECT_EQ(out.at("maximum_expiration"), 0);
  EXPECT_EQ(out.at("header_names"), (json::array{"authorization"}));
  schema::Errors bad;
  check("jwt", json::object{{"claims_to_verify", json::array{"iat"}}}, bad);
  ASSERT_EQ(bad.list().size(), 1u);
  EXPECT_EQ(bad.list()[0].message, "expected one of: exp, nbf");
}

TEST(PluginSchemas, RateLimitingSeedConfigAndRedis) {
  schema::Errors e;
  auto out = check("rate-limiting",
                   json::object{{"minute", 100},
                                {"hour", 1000},
                                {"policy", "redis"},
                                {"redis_host", "redis-cluster"},
                                {"redis_port", 7001}},
                   e);
  ASSERT_TRUE(e.empty()) << schema::schema_violation_message(e);
  EXPECT_EQ(out.at("redis").at("host"), "redis-cluster");
  EXPECT_EQ(out.at("redis").at("port"), 7001);
  EXPECT_EQ(out.at("redis").at("timeout"), 2000);
  EXPECT_EQ(out.at("redis").at("database"), 0);
  EXPECT_EQ(out.at("limit_by"), "consumer");
  EXPECT_EQ(out.at("fault_tolerant"), true);
  EXPECT_EQ(out.at("error_code"), 429);

  schema::Errors nohost;
  check("rate-limiting", json::object{{"minute", 1}, {"policy", "redis"}}, nohost);
  ASSERT_EQ(nohost.list().size(), 1u);
  EXPECT_EQ(schema::dotted(nohost.list()[0].path), "config.redis.host");

  schema::Errors none;
  check("rate-limiting", json::object{{"policy", "local"}}, none);
  ASSERT_EQ(none.list().size(), 1u);

  schema::Errors policy;
  check("rate-limiting", json::object{{"minute", 1}, {"policy", "memcached"}}, policy);
  EXPECT_EQ(policy.list()[0].message, "expected one of: local, cluster, redis");

  schema::Errors gt;
  check("rate-limiting", json::object{{"minute", 0}}, gt);
  EXPECT_EQ(gt.list()[0].message, "value must be greater than 0");
}

TEST(PluginSchemas, CorsResponseTransformerFileLogPrometheusOtel) {
  schema::Errors e;
  auto cors = check(
      "cors", json::object{{"origins", json::array{"*"}}, {"max_age", 3600}, {"credentials", true}},
      e);
  ASSERT_TRUE(e.empty());
  EXPECT_EQ(cors.at("preflight_continue"), false);
  EXPECT_EQ(cors.at("methods").as_array().size(), 9u);

  auto rt =
      check("response-transformer",
            json::object{{"remove", json::object{{"json", json::array{"sensitive_data"}}}}}, e);
  ASSERT_TRUE(e.empty());
  EXPECT_EQ(rt.at("remove").at("headers"), json::array{});
  EXPECT_EQ(rt.at("add").at("json"), json::array{});
  schema::Errors colon;
  check("response-transformer",
        json::object{{"add", json::object{{"headers", json::array{"nocolon"}}}}}, colon);
  EXPECT_EQ(colon.list().size(), 1u);

  schema::Errors path;
  check("file-log", json::object{}, path);
  EXPECT_EQ(path.list()[0].message, "required field missing");
  auto fl = check("file-log", json::object{{"path", "/tmp/a.log"}}, e);
  ASSERT_TRUE(e.empty());
  EXPECT_EQ(fl.at("reopen"), false);

  auto prom = check("prometheus", json::object{}, e);
  ASSERT_TRUE(e.empty());
  EXPECT_EQ(prom.at("per_consumer"), false);

  schema::Errors otel_missing;
  check("opentelemetry", json::object{}, otel_missing);
  EXPECT_EQ(schema::dotted(otel_missing.list()[0].path), "config.endpoint");
  auto otel =
      check("opentelemetry", json::object{{"endpoint", "http://collector:4318/v1/traces"}}, e);
  ASSERT_TRUE(e.empty()) << schema::schema_violation_message(e);
  EXPECT_EQ(otel.at("queue").at("max_batch_size"), 1);
  EXPECT_EQ(otel.at("header_type"), "preserve");
  EXPECT_EQ(otel.at("connect_timeout"), 1000);
}

TEST(PluginSchemas, UnknownFieldsAndFormCoercion) {
  schema::Errors e;
  check("prometheus", json::object{{"nope", true}}, e);
  ASSERT_EQ(e.list().size(), 1u);
  EXPECT_EQ(e.list()[0].message, "unknown field");
  EXPECT_EQ(schema::schema_violation_message(e), "schema violation (config.nope: unknown field)");

  const PluginSchema* rl = find_schema("rate-limiting");
  schema::Options form;
  form.coerce_strings = true;
  schema::Errors fe;
  json::value in = json::object{{"minute", "10"}, {"fault_tolerant", "false"}};
  auto out = schema::validate(*rl->config, &in, {}, fe, form);
  ASSERT_TRUE(fe.empty());
  EXPECT_EQ(out.at("minute"), 10);
  EXPECT_EQ(out.at("fault_tolerant"), false);
}

}  // namespace
}  // namespace suoke::gateway::plugins
