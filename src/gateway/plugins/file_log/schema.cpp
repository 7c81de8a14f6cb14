// kong/plugins/file-log/schema.lua (3.x).
#include "gateway/plugins/file_log/schema.h"

namespace suoke::gateway::plugins::file_log {

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "file-log";
    s.priority = 9;
    s.config =
        record()
            .required()
            .field("path", string().required().custom(
                               [](const json::value& v) -> std::optional<std::string> {
                                 // Kong: match = [[^[^*&%%\`]+$]]
                                 for (char c : v.as_string()) {
                                   if (c == '*' || c == '&' || c == '%' || c == '\\' || c == '`') {
                                     return "not a valid filename";
                                   }
                                 }
                                 return std::nullopt;
                               }))
            .field("reopen", boolean().required().def(false))
            .field("custom_fields_by_lua", map(string().len_min(1), string()));
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::file_log
