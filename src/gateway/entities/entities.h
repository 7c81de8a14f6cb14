// Kong's core entities (services, routes, consumers, plugins, jwt_secrets) as normalized JSON
// objects in Kong's field order and shape, and the operations the Admin API and the
// declarative loader perform on a whole configuration. Everything here is pure: no locking,
// no IO; the store decides when a changed Config becomes the current one.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/plugins/schema_types.h"

namespace suoke::gateway::entities {

namespace json = boost::json;

enum class Kind { kServices, kRoutes, kConsumers, kPlugins, kJwtSecrets };
inline constexpr Kind kAllKinds[] = {Kind::kServices, Kind::kRoutes, Kind::kConsumers,
                                     Kind::kPlugins, Kind::kJwtSecrets};

// "services", "routes", "consumers", "plugins", "jwt_secrets".
std::string_view kind_name(Kind kind);
// The field besides `id` that addresses an entity in URLs: name, name, username,
// instance_name, key.
std::string_view endpoint_key(Kind kind);

// A whole configuration; every entity normalized (all fields present, foreign keys as
// {"id": ...} or null), each list in creation order.
struct Config {
  std::vector<json::object> services, routes, consumers, plugins, jwt_secrets;

  std::vector<json::object>& of(Kind kind);
  const std::vector<json::object>& of(Kind kind) const;
  // Position of the entity, addressed by id (when `key` is a UUID) or endpoint key; npos when
  // absent.
  std::size_t find(Kind kind, std::string_view key) const;
  std::size_t find_by_id(Kind kind, std::string_view id) const;
  bool empty() const;
  bool operator==(const Config&) const = default;
};

// A Kong DAO error (kong/db/errors.lua) with the HTTP status the Admin API maps it to.
struct DbError {
  int http_status = 400;
  int code = 2;
  std::string name;
  std::string message;
  json::object fields;
  // The same violations flattened (path, message), for declarative error reports.
  schema::Errors flat;

  json::object body() const;
  static DbError schema_violation(const schema::Errors& errors);
  static DbError not_found();
};

template <class T>
class DbResult {
 public:
  DbResult(T value) : v_(std::move(value)) {}        // NOLINT(implicit)
  DbResult(DbError error) : v_(std::move(error)) {}  // NOLINT(implicit)
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const DbError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, DbError> v_;
};

struct WriteContext {
  int64_t now_s = 0;
  // Form-encoded input: coerce strings to the schema's types.
  bool coerce_strings = false;
};

// POST: validates, resolves foreign keys ({"name": ...} -> {"id": ...}), checks unique fields
// and appends. Returns the stored entity.
DbResult<json::object> insert(Config& config, Kind kind, json::object input,
                              const WriteContext& ctx);
// PATCH: merges `patch` into the stored entity (records deep-merged) and revalidates.
DbResult<json::object> update(Config& config, Kind kind, std::string_view key, json::object patch,
                              const WriteContext& ctx);
// PUT: replaces the entity addressed by `key` (id or endpoint key) or creates it.
DbResult<json::object> upsert(Config& config, Kind kind, std::string_view key, json::object input,
                              const WriteContext& ctx);
// DELETE: false when there was nothing to delete. Cascades like Kong (plugins of a route,
// service or consumer; a consumer's credentials); a service still used by routes is a
// foreign key violation.
DbResult<bool> remove(Config& config, Kind kind, std::string_view key);

// The Admin API's view of a stored entity (plugins echo deprecated config fields).
json::object present(Kind kind, const json::object& stored);

// Kong's pl.pretty rendering of small tables, as used in error messages: {name="x"}.
std::string lua_pretty(const json::value& value);

}  // namespace suoke::gateway::entities
