#include "gateway/plugins/registry.h"

#include <algorithm>

#include "gateway/plugins/cors/schema.h"
#include "gateway/plugins/file_log/schema.h"
#include "gateway/plugins/jwt/schema.h"
#include "gateway/plugins/opentelemetry/schema.h"
#include "gateway/plugins/prometheus/schema.h"
#include "gateway/plugins/rate_limiting/schema.h"
#include "gateway/plugins/response_transformer/schema.h"

namespace suoke::gateway::plugins {

const std::vector<const PluginSchema*>& all_schemas() {
  static const std::vector<const PluginSchema*> kAll = [] {
    std::vector<const PluginSchema*> v{&cors::schema(),
                                       &file_log::schema(),
                                       &jwt::schema(),
                                       &opentelemetry::schema(),
                                       &prometheus::schema(),
                                       &rate_limiting::schema(),
                                       &response_transformer::schema()};
    std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->name < b->name; });
    return v;
  }();
  return kAll;
}

const PluginSchema* find_schema(std::string_view name) {
  for (const PluginSchema* s : all_schemas()) {
    if (s->name == name) return s;
  }
  return nullptr;
}

}  // namespace suoke::gateway::plugins
