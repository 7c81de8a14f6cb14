// Kong 3.x declarative configuration (kong.yml): load from YAML or JSON text into a validated
// entities::Config, and export a Config in the same nested format (routes under their
// service, plugins under their single owner, jwt_secrets under their consumer), like
// `kong config db_export`. import -> export -> import is lossless: ids and timestamps are
// exported too.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gateway/entities/entities.h"

namespace suoke::gateway::declarative {

struct LoadOptions {
  // Named in error messages ("kong.yml: services[2].routes[0].paths[1]: ...").
  std::string source_name = "config";
  // created_at/updated_at for entities that carry none.
  int64_t now_s = 0;
};

// On failure, Error::kind is "declarative" and Error::message lists every violation, one per
// line after a first summary line; `error_lines`, when given, receives them as
// "path: message" (path as in services[2].routes[0].paths[1]). Nothing partial is returned.
Result<entities::Config> load(std::string_view text, const LoadOptions& options,
                              std::vector<std::string>* error_lines = nullptr);
// The same from an already parsed document (POST /config with a JSON body).
Result<entities::Config> load_document(const boost::json::value& document,
                                       const LoadOptions& options,
                                       std::vector<std::string>* error_lines = nullptr);

// Parses YAML (JSON is accepted too) into JSON values; errors name line and column.
Result<boost::json::value> parse_text(std::string_view text);

boost::json::object to_document(const entities::Config& config);
std::string export_json(const entities::Config& config);
std::string export_yaml(const entities::Config& config);

// Lowercase hex MD5 (Kong's configuration_hash).
std::string md5_hex(std::string_view data);

}  // namespace suoke::gateway::declarative
