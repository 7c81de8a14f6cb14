// kong/plugins/cors/schema.lua (3.x).
#include "gateway/plugins/cors/schema.h"

#include <boost/regex.hpp>

namespace suoke::gateway::plugins::cors {

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "cors";
    s.priority = 2000;
    s.no_consumer = true;
    auto origin = string().custom([](const json::value& v) -> std::optional<std::string> {
      std::string o(v.as_string());
      if (o == "*") return std::nullopt;
      try {
        boost::regex re(o);
      } catch (const std::exception&) {
        return "'" + o + "' is not a valid regex";
      }
      return std::nullopt;
    });
    json::array methods{"GET",    "HEAD",    "PUT",   "PATCH",  "POST",
                        "DELETE", "OPTIONS", "TRACE", "CONNECT"};
    std::vector<json::value> method_list(methods.begin(), methods.end());
    s.config = record()
                   .required()
                   .field("origins", array(origin))
                   .field("headers", array(string()))
                   .field("exposed_headers", array(string()))
                   .field("methods", array(string().one_of(method_list)).def(methods))
                   .field("max_age", number())
                   .field("credentials", boolean().required().def(false))
                   .field("private_network", boolean().required().def(false))
                   .field("preflight_continue", boolean().required().def(false));
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::cors
