// kong/plugins/rate-limiting/schema.lua (3.6: the redis settings moved into config.redis, the
// old redis_* fields are accepted as shorthands).
#include "gateway/plugins/rate_limiting/schema.h"

#include <cstdio>

namespace suoke::gateway::plugins::rate_limiting {
namespace {

constexpr const char* kPeriods[] = {"second", "minute", "hour", "day", "month", "year"};

// Deprecated top-level field -> key inside config.redis.
constexpr std::pair<const char*, const char*> kShorthands[] = {{"redis_host", "host"},
                                                               {"redis_port", "port"},
                                                               {"redis_password", "password"},
                                                               {"redis_username", "username"},
                                                               {"redis_ssl", "ssl"},
                                                               {"redis_ssl_verify", "ssl_verify"},
                                                               {"redis_server_name", "server_name"},
                                                               {"redis_timeout", "timeout"},
                                                               {"redis_database", "database"}};

std::optional<std::string> periods_in_order(const schema::json::value& v) {
  const auto& config = v.as_object();
  for (std::size_t i = 0; i < 6; ++i) {
    auto lo = config.find(kPeriods[i]);
    if (lo == config.end() || !lo->value().is_number()) continue;
    double v1 = lo->value().to_number<double>();
    for (std::size_t j = i + 1; j < 6; ++j) {
      auto hi = config.find(kPeriods[j]);
      if (hi == config.end() || !hi->value().is_number()) continue;
      double v2 = hi->value().to_number<double>();
      if (v2 < v1) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "The limit for %s(%.1f) cannot be lower than the limit for %s(%.1f)",
                      kPeriods[j], v2, kPeriods[i], v1);
        return std::string(buf);
      }
    }
  }
  return std::nullopt;
}

}  // namespace

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "rate-limiting";
    s.priority = 910;
    FieldRef redis = record()
                         .required()
                         .field("host", typedef_host())
                         .field("port", integer().between(0, 65535).def(6379))
                         .field("timeout", typedef_timeout(2000))
                         .field("username", string())
                         .field("password", string().len_min(0))
                         .field("database", integer().def(0))
                         .field("ssl", boolean().required().def(false))
                         .field("ssl_verify", boolean().required().def(false))
                         .field("server_name", typedef_host())
                         // Kong Enterprise: the seeds of a Redis Cluster.
                         .field("cluster_nodes",
                                array(record()
                                          .field("ip", typedef_host().required())
                                          .field("port", integer().between(0, 65535).def(6379))));
    auto b = record().required();
    for (const char* p : kPeriods) b.field(p, number().gt(0));
    b.field("limit_by", string()
                            .def("consumer")
                            .one_of({"consumer", "credential", "ip", "service", "header", "path",
                                     "consumer-group"}))
        .field("header_name", typedef_header_name())
        .field("path", string().custom([](const json::value& v) -> std::optional<std::string> {
          if (v.as_string().empty() || v.as_string()[0] != '/') return "should start with: /";
          return std::nullopt;
        }))
        .field("policy", string().def("local").len_min(0).one_of({"local", "cluster", "redis"}))
        .field("fault_tolerant", boolean().required().def(true))
        .field("redis", redis)
        .field("hide_client_headers", boolean().required().def(false))
        .field("error_code", number().def(429).gt(0))
        .field("error_message", string().def("API rate limit exceeded"))
        .field("sync_rate", number().def(-1))
        .custom(periods_in_order);
    s.config = b;
    s.entity_checks.push_back(at_least_one_of({"config.second", "config.minute", "config.hour",
                                               "config.day", "config.month", "config.year"}));
    s.entity_checks.push_back(conditional_required("config.policy", "redis", "config.redis.host"));
    s.entity_checks.push_back(conditional_required("config.policy", "redis", "config.redis.port"));
    s.entity_checks.push_back(
        conditional_required("config.policy", "redis", "config.redis.timeout"));
    s.entity_checks.push_back(
        conditional_required("config.limit_by", "header", "config.header_name"));
    s.entity_checks.push_back(conditional_required("config.limit_by", "path", "config.path"));
    s.translate_shorthands = [](json::object& config) {
      for (const auto& [old_name, new_name] : kShorthands) {
        auto it = config.find(old_name);
        if (it == config.end()) continue;
        json::value v = it->value();
        config.erase(it);
        if (v.is_null()) continue;
        json::value& redis = config["redis"];
        if (!redis.is_object()) redis = json::object();
        redis.as_object()[new_name] = std::move(v);
      }
    };
    s.add_deprecated_fields = [](json::object& config) {
      auto it = config.find("redis");
      if (it == config.end() || !it->value().is_object()) return;
      json::object redis = it->value().as_object();
      for (const auto& [old_name, new_name] : kShorthands) {
        auto r = redis.find(new_name);
        config[old_name] = r == redis.end() ? json::value(nullptr) : r->value();
      }
    };
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::rate_limiting
