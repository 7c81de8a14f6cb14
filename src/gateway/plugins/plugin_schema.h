// What the control plane needs to know about a bundled plugin: Kong's name, priority and the
// schema of its `config` record, plus plugin-level entity checks (they refer to fields as
// "config.minute", as Kong's plugin schemas do).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <vector>

#include "gateway/plugins/schema_types.h"

namespace suoke::gateway::plugins {

// The Kong release whose plugin schemas these follow; reported by GET /.
inline constexpr const char* kKongVersion = "3.6.1";

struct PluginSchema {
  std::string name;
  int priority = 0;
  schema::FieldRef config;
  // Kong's typedefs.no_consumer: the plugin cannot be scoped to a consumer.
  bool no_consumer = false;
  std::vector<schema::EntityCheck> entity_checks;
  // Kong's shorthand_fields: deprecated config fields translated into their current place
  // before validation (rate-limiting's redis_host -> redis.host). May be empty.
  std::function<void(boost::json::object& config)> translate_shorthands;
  // The reverse, for Admin API responses: Kong 3.6 echoes the deprecated fields back.
  std::function<void(boost::json::object& config)> add_deprecated_fields;
};

}  // namespace suoke::gateway::plugins
