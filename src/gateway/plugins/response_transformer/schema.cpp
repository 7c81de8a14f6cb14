// kong/plugins/response-transformer/schema.lua (3.x).
#include "gateway/plugins/response_transformer/schema.h"

namespace suoke::gateway::plugins::response_transformer {

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "response-transformer";
    s.priority = 800;
    // Kong: match = "^[^:]+:.*$" ("name:value" entries).
    FieldRef colon = string().custom([](const json::value& v) -> std::optional<std::string> {
      std::string_view e = v.as_string();
      auto c = e.find(':');
      if (c == std::string_view::npos || c == 0) return "invalid value: " + std::string(e);
      return std::nullopt;
    });
    FieldRef colon_list = array(colon).def(json::array{});
    FieldRef plain_list = array(string()).def(json::array{});
    FieldRef types = array(string().one_of({"boolean", "number", "string"})).def(json::array{});
    s.config =
        record()
            .required()
            .field("remove",
                   record().required().field("json", plain_list).field("headers", plain_list))
            .field("rename",
                   record().required().field("json", colon_list).field("headers", colon_list))
            .field("replace", record()
                                  .required()
                                  .field("json", colon_list)
                                  .field("json_types", types)
                                  .field("headers", colon_list))
            .field("add", record()
                              .required()
                              .field("json", colon_list)
                              .field("json_types", types)
                              .field("headers", colon_list))
            .field("append", record()
                                 .required()
                                 .field("json", colon_list)
                                 .field("json_types", types)
                                 .field("headers", colon_list));
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::response_transformer
