// Admin API request bodies: JSON, application/x-www-form-urlencoded and multipart/form-data,
// all turned into one JSON object. Form keys follow Kong's conventions: "config.minute=1",
// "config[minute]=1", "methods[]=GET", "methods[1]=GET", repeated keys make arrays.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace suoke::gateway::admin {

struct ParsedBody {
  boost::json::object object;
  // Values came from a form: every leaf is a string and must be coerced by the schema.
  bool form = false;
};

// nullopt: the body is not a JSON object (Kong: 400 "Cannot parse JSON body").
std::optional<ParsedBody> parse_body(const http::Request& request);

// application/x-www-form-urlencoded decoding into nested objects/arrays.
boost::json::object parse_form(std::string_view body);
std::string url_decode(std::string_view text, bool plus_as_space);

}  // namespace suoke::gateway::admin
