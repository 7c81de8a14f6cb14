// kong/plugins/prometheus/schema.lua (3.x).
#include "gateway/plugins/prometheus/schema.h"

namespace suoke::gateway::plugins::prometheus {

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "prometheus";
    s.priority = 13;
    s.config = record()
                   .required()
                   .field("per_consumer", boolean().def(false))
                   .field("status_code_metrics", boolean().def(false))
                   .field("ai_metrics", boolean().def(false))
                   .field("latency_metrics", boolean().def(false))
                   .field("bandwidth_metrics", boolean().def(false))
                   .field("upstream_health_metrics", boolean().def(false));
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::prometheus
