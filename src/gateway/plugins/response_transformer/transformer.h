// The response-transformer's operations (Kong's header_transformer.lua and
// body_transformer.lua), independent of the proxy so they can be unit-tested and fuzzed.
//
// Kong's rules, kept as they are:
//   - order: remove -> rename -> replace -> add -> append, for headers and JSON alike;
//   - a config entry is "name:value"; the value is everything after the first run of ':'
//     and an empty value disables the entry (except for remove, which takes names);
//   - replace only touches a field that is present (and, for JSON, not `false`: Lua
//     truthiness), add only a field that is absent (or `false`);
//   - append turns a string into [string, value], pushes onto an array and otherwise sets
//     [value];
//   - json_types[i] (string | number | boolean) types the i-th json entry of the same
//     operation; an unparsable number disables the entry, a boolean is `value == "true"`.
//
// Beyond Kong: JSON names are paths into nested objects and arrays.
//   name            a top-level key (Kong's meaning; a name without '.', '[' or '\' is
//                   always a literal key)
//   a.b.c           key c of object b of object a
//   records[*].x    key x of every element of array records
//   records[0].x    key x of the first element only (0-based)
//   [*].x           key x of every element of a top-level array
//   **.x            key x at any depth (the document itself and every object below it),
//                   for when the same field appears in several places
//   a\.b            a literal '.' (or '[' / '\') inside a key
// The last segment is what the operation acts on: removing `records[0]` deletes that element,
// `records[*]` empties the array, replacing `tags[*]` replaces every element. rename's new
// name is a plain key in the same object (`data.ssn:social_security_number`). add and append
// create missing intermediate objects along key segments, never array elements. `**` must be
// followed by more segments. A path that does not parse (`a[`, `a[x]`, `a..b`, `**`) is
// used as a literal top-level key, as Kong would.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/message.h"

namespace suoke::gateway::plugins::response_transformer {

namespace json = boost::json;

struct PathSegment {
  enum class Kind { kKey, kIndex, kAll, kDeep };
  Kind kind = Kind::kKey;
  std::string key;
  std::size_t index = 0;
};

struct JsonPath {
  std::vector<PathSegment> segments;  // never empty
};

// Parses a JSON path as documented above. Returns nullopt when `text` is not a valid path
// (the caller then uses it as a literal key).
std::optional<JsonPath> parse_path(std::string_view text);
// `text` as a path, or as a single literal key when it does not parse.
JsonPath path_or_literal(std::string_view text);

// One "name:value" entry, split the way Kong's iter() does.
struct Entry {
  std::string name;
  std::optional<std::string> value;  // nullopt: empty value (Kong's nil)
};
Entry split_entry(std::string_view text);

enum class JsonType { kString, kNumber, kBoolean };

struct JsonEntry {
  JsonPath path;
  std::optional<json::value> value;  // typed per json_types; nullopt disables the entry
  std::string new_name;              // rename only
};

struct HeaderEntry {
  std::string name;
  std::optional<std::string> value;
};

// The plugin's config, parsed once when the handler is created.
struct Config {
  std::vector<HeaderEntry> remove_headers, rename_headers, replace_headers, add_headers,
      append_headers;
  std::vector<JsonEntry> remove_json, rename_json, replace_json, add_json, append_json;

  // Every JSON operation is a remove of a plain top-level key (Kong's own use, and the seed's):
  // such bodies can be edited as text (see transform_json_body_into).
  bool removes_top_level_keys_only = false;

  bool has_json_transform() const {
    return !remove_json.empty() || !rename_json.empty() || !replace_json.empty() ||
           !add_json.empty() || !append_json.empty();
  }
};

// Reads a validated (defaults filled) response-transformer config.
Result<Config> parse_config(const json::object& config);

// Kong's is_json_body: any comma-separated media type of Content-Type is application/json
// or application/<anything>+json (parameters such as charset are ignored).
bool is_json_content_type(std::string_view content_type);

// Applies the header operations in Kong's order.
void transform_headers(const Config& config, http::HeaderList& headers);

// Applies the JSON operations to a parsed document.
void transform_json(const Config& config, json::value& document);

// Parses `body`, transforms it and serializes the result. An error means the body is not
// JSON (the caller passes it through unchanged, as Kong does).
Result<std::string> transform_json_body(const Config& config, std::string_view body);
// The same, written into `out` (replacing its content, keeping its memory); `out` is left
// alone when the body is not valid JSON.
Result<void> transform_json_body_into(const Config& config, std::string_view body, std::string& out);

// Compact JSON text; numbers keep their shortest round-trip form (36.5, not 3.65E1) and
// infinities (from literals such as 1e400) are written as 1e999 so the text stays JSON.
void serialize_json(const json::value& value, std::string& out);

}  // namespace suoke::gateway::plugins::response_transformer
