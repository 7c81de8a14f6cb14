// kong/plugins/jwt/schema.lua (3.x).
#include "gateway/plugins/jwt/schema.h"

namespace suoke::gateway::plugins::jwt {

const PluginSchema& schema() {
  static const PluginSchema kSchema = [] {
    using namespace schema;
    PluginSchema s;
    s.name = "jwt";
    s.priority = 1450;
    s.config = record()
                   .required()
                   .field("uri_param_names", set(string()).def(json::array{"jwt"}))
                   .field("cookie_names", set(string()).def(json::array{}))
                   .field("key_claim_name", string().def("iss"))
                   .field("secret_is_base64", boolean().required().def(false))
                   .field("claims_to_verify", set(string().one_of({"exp", "nbf"})))
                   .field("anonymous", string())
                   .field("run_on_preflight", boolean().required().def(true))
                   .field("maximum_expiration", number().def(0).between(0, 31536000))
                   .field("header_names", set(string()).def(json::array{"authorization"}))
                   .field("realm", string());
    EntityCheck exp;
    exp.error_field = "config";
    exp.custom = [](const json::object& plugin) -> std::optional<std::string> {
      const json::value* max = lookup(plugin, "config.maximum_expiration");
      if (!max || max->is_null() || max->to_number<double>() <= 0) return std::nullopt;
      const json::value* claims = lookup(plugin, "config.claims_to_verify");
      if (claims && claims->is_array()) {
        for (const auto& c : claims->as_array()) {
          if (c == "exp") return std::nullopt;
        }
      }
      return std::string(
          "failed conditional validation given value of field "
          "'config.maximum_expiration'");
    };
    s.entity_checks.push_back(std::move(exp));
    return s;
  }();
  return kSchema;
}

}  // namespace suoke::gateway::plugins::jwt
