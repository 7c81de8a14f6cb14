// A small re-implementation of Kong's schema library (kong/db/schema/init.lua): typed fields
// with defaults, one_of/between/gt/len_min, nested records, arrays, sets and maps, and
// record-level entity checks. Validation normalizes the input (defaults filled, every declared
// field present, null when unset) and collects every violation with its path, so callers can
// render Kong's error bodies. It lives with the plugins because plugin config schemas need it
// and the plugins library must not depend on the control plane.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace suoke::gateway::schema {

namespace json = boost::json;

// One step of a path to a field: a record key or an array position (0-based).
struct PathElem {
  std::string key;
  int index = -1;
};
using Path = std::vector<PathElem>;

// Entity-level errors of a record are reported under this key, as Kong does.
inline constexpr std::string_view kEntityKey = "@entity";

struct FieldError {
  Path path;
  std::string message;
};

class Errors {
 public:
  void add(Path path, std::string message) {
    list_.push_back({std::move(path), std::move(message)});
  }
  bool empty() const { return list_.empty(); }
  const std::vector<FieldError>& list() const { return list_; }
  void append(const Errors& other, const Path& prefix = {});

 private:
  std::vector<FieldError> list_;
};

// "config.minute", "paths.1" (Kong's messages count array positions from 1).
std::string dotted(const Path& path);
// "services[2].routes[0].paths[1]" (declarative error paths, 0-based).
std::string bracketed(const Path& path);
// Kong's `fields` object: nested like the entity, arrays padded with null, entity-level
// errors as arrays under "@entity".
json::object errors_to_fields(const Errors& errors);
// Kong's "schema violation (...)" / "N schema violations (a; b)" message.
std::string schema_violation_message(const Errors& errors);

enum class Type { kString, kInteger, kNumber, kBoolean, kArray, kSet, kMap, kRecord, kAny };

struct Field;
using FieldRef = std::shared_ptr<const Field>;
// Returns an error message, or nullopt when the value is acceptable.
using Validator = std::function<std::optional<std::string>(const json::value&)>;

struct EntityCheck {
  enum class Kind { kAtLeastOneOf, kConditionalRequired, kCustom };
  Kind kind = Kind::kCustom;
  // kAtLeastOneOf: dotted field paths inside the record.
  std::vector<std::string> fields;
  // kConditionalRequired: when `if_field` equals `if_value`, `then_field` must be non-null.
  std::string if_field;
  json::value if_value;
  std::string then_field;
  // kCustom: returns the entity-level error message.
  std::function<std::optional<std::string>(const json::object&)> custom;
  // kCustom: the error is reported at this field (dotted) instead of "@entity".
  std::string error_field;
};

struct Field {
  Type type = Type::kAny;
  bool required = false;
  bool has_default = false;
  json::value default_value;
  std::vector<json::value> one_of;
  std::optional<double> between_min, between_max;
  std::optional<double> gt;
  // Kong's strings default to len_min = 1.
  std::optional<std::size_t> len_min;
  std::optional<std::size_t> len_max;
  Validator custom;
  FieldRef elements;                                     // array, set
  FieldRef keys;                                         // map
  FieldRef values;                                       // map
  std::vector<std::pair<std::string, FieldRef>> fields;  // record, in output order
  std::vector<EntityCheck> checks;                       // record
};

// Fluent construction: schema::string().required().one_of({...}).
class FieldBuilder {
 public:
  explicit FieldBuilder(Type type) { f_.type = type; }
  explicit FieldBuilder(Field f) : f_(std::move(f)) {}
  FieldBuilder& required(bool r = true) {
    f_.required = r;
    return *this;
  }
  FieldBuilder& def(json::value v) {
    f_.has_default = true;
    f_.default_value = std::move(v);
    return *this;
  }
  FieldBuilder& one_of(std::vector<json::value> v) {
    f_.one_of = std::move(v);
    return *this;
  }
  FieldBuilder& between(double lo, double hi) {
    f_.between_min = lo;
    f_.between_max = hi;
    return *this;
  }
  FieldBuilder& gt(double v) {
    f_.gt = v;
    return *this;
  }
  FieldBuilder& len_min(std::size_t n) {
    f_.len_min = n;
    return *this;
  }
  FieldBuilder& len_max(std::size_t n) {
    f_.len_max = n;
    return *this;
  }
  FieldBuilder& custom(Validator v) {
    f_.custom = std::move(v);
    return *this;
  }
  FieldBuilder& elements(FieldRef e) {
    f_.elements = std::move(e);
    return *this;
  }
  FieldBuilder& keys(FieldRef k) {
    f_.keys = std::move(k);
    return *this;
  }
  FieldBuilder& values(FieldRef v) {
    f_.values = std::move(v);
    return *this;
  }
  FieldBuilder& field(std::string name, FieldRef f) {
    f_.fields.emplace_back(std::move(name), std::move(f));
    return *this;
  }
  FieldBuilder& check(EntityCheck c) {
    f_.checks.push_back(std::move(c));
    return *this;
  }
  operator FieldRef() const { return std::make_shared<const Field>(f_); }  // NOLINT(implicit)
  FieldRef build() const { return *this; }

 private:
  Field f_;
};

inline FieldBuilder string() { return FieldBuilder(Type::kString); }
inline FieldBuilder integer() { return FieldBuilder(Type::kInteger); }
inline FieldBuilder number() { return FieldBuilder(Type::kNumber); }
inline FieldBuilder boolean() { return FieldBuilder(Type::kBoolean); }
inline FieldBuilder array(FieldRef e) {
  return std::move(FieldBuilder(Type::kArray).elements(std::move(e)));
}
inline FieldBuilder set(FieldRef e) {
  return std::move(FieldBuilder(Type::kSet).elements(std::move(e)));
}
inline FieldBuilder map(FieldRef k, FieldRef v) {
  return std::move(FieldBuilder(Type::kMap).keys(std::move(k)).values(std::move(v)));
}
inline FieldBuilder record() { return FieldBuilder(Type::kRecord); }
inline FieldBuilder any() { return FieldBuilder(Type::kAny); }

EntityCheck at_least_one_of(std::vector<std::string> fields);
EntityCheck conditional_required(std::string if_field, json::value if_value,
                                 std::string then_field);

struct Options {
  // Form-encoded bodies carry every value as a string: coerce to the declared type, as
  // Kong's Admin API does, and treat "" as null.
  bool coerce_strings = false;
};

// Validates `input` (nullptr when the field is absent) against `field`, appending violations
// under `path`, and returns the normalized value.
json::value validate(const Field& field, const json::value* input, const Path& path, Errors& errors,
                     const Options& options = {});

// Runs record-level checks (used for plugin-level checks such as "config.second").
void run_entity_checks(const std::vector<EntityCheck>& checks, const json::object& record,
                       const Path& path, Errors& errors);

// Reads a dotted path ("config.redis.host") inside a normalized object; nullptr when absent.
const json::value* lookup(const json::object& object, std::string_view dotted_path);
// Kong's notion of an empty value for at_least_one_of: null, "", [] and {}.
bool is_empty(const json::value* value);

// Typedefs shared by entities and plugins (kong/db/schema/typedefs.lua).
FieldBuilder typedef_host();
FieldBuilder typedef_port();
FieldBuilder typedef_protocol();
FieldBuilder typedef_protocols();  // set, default {"grpc","grpcs","http","https"}
FieldBuilder typedef_tags();
FieldBuilder typedef_timeout(int64_t default_ms);
FieldBuilder typedef_url();
FieldBuilder typedef_header_name();
// Kong's queue record (kong/tools/queue_schema.lua).
FieldBuilder typedef_queue();
bool valid_hostname(std::string_view host);

}  // namespace suoke::gateway::schema
