// kong/plugins/opentelemetry/schema.lua (3.x).
#include "gateway/plugins/opentelemetry/schema.h"

namespace suoke::gateway::plugins::opentelemetry {

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "opentelemetry";
    s.priority = 14;
    s.config =
        record()
            .required()
            .field("endpoint", typedef_url().required())
            .field("headers", map(typedef_header_name(), string()))
            .field("resource_attributes", map(string(), string()))
            .field("queue", typedef_queue())
            .field("batch_span_count", integer())
            .field("batch_flush_delay", integer())
            .field("connect_timeout", typedef_timeout(1000))
            .field("send_timeout", typedef_timeout(5000))
            .field("read_timeout", typedef_timeout(5000))
            .field("http_response_header_for_traceid", string())
            .field("header_type", string()
                                      .required()
                                      .def("preserve")
                                      .one_of({"preserve", "ignore", "b3", "b3-single", "w3c",
                                               "jaeger", "ot", "aws", "gcp", "datadog"}))
            .field("sampling_rate", number().between(0, 1));
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::opentelemetry
