// A conversation session as the agents store it, and its stored form: one JSON object per
// session, the same shape the seed's xiaoai service writes (json.dumps of session_data), so
// sessions written by either side can be read by the other.
//
//   {"session_id": "...", "user_id": "...", "created_at": 1700000000000,
//    "last_active": 1700000000000, "metadata": {...},
//    "history": [{"user_message": "...", "assistant_message": "...", "timestamp": 1700000000000}]}
//
// Timestamps are opaque integers to the repository (suoke writes Unix milliseconds); only
// last_active is interpreted, to order a user's sessions newest first.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace suoke::sessions {

struct Turn {
  std::string user_message;
  std::string assistant_message;
  int64_t timestamp = 0;

  bool operator==(const Turn&) const = default;
};

struct Session {
  std::string session_id;
  std::string user_id;
  std::vector<Turn> history;
  int64_t created_at = 0;
  int64_t last_active = 0;
  boost::json::object metadata;

  bool operator==(const Session&) const = default;
};

// Keeps the newest `max_turns` turns (0 keeps none).
void trim_history(Session& session, std::size_t max_turns);

// The stored form. Strings are written byte for byte (control characters escaped), so binary
// content round-trips; bytes that are not UTF-8 are accepted back by parse_session.
std::string serialize_session(const Session& session);

// Parses the stored form. Anything else (not JSON, not an object, a missing or mistyped
// field) is an Error of kind "parse" that says what is wrong; never throws.
Result<Session> parse_session(std::string_view stored);

}  // namespace suoke::sessions
