#include "sessions/session.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <limits>
#include <optional>

namespace suoke::sessions {
namespace json = boost::json;
namespace {

Error parse_error(std::string what) {
  return Error::make("stored session is invalid: " + std::move(what), "parse");
}

// Accepts every JSON number that is an integral int64: the seed's Python writes time.time()
// style floats, so a double is truncated rather than refused.
std::optional<int64_t> as_int64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    // 2^63 is exactly representable; anything at or past it does not fit.
    if (!std::isfinite(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0)
      return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

Result<std::string> get_string(const json::object& o, std::string_view key, std::string_view where,
                               bool required = true) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (!required) return std::string();
    return parse_error(std::string(where) + "missing \"" + std::string(key) + "\"");
  }
  if (!v->is_string())
    return parse_error(std::string(where) + "\"" + std::string(key) + "\" is not a string");
  return std::string(v->get_string());
}

Result<int64_t> get_int(const json::object& o, std::string_view key, std::string_view where,
                        bool required = true) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    if (!required) return int64_t{0};
    return parse_error(std::string(where) + "missing \"" + std::string(key) + "\"");
  }
  std::optional<int64_t> n = as_int64(*v);
  if (!n)
    return parse_error(std::string(where) + "\"" + std::string(key) +
                       "\" is not an integer timestamp");
  return *n;
}

}  // namespace

void trim_history(Session& session, std::size_t max_turns) {
  if (session.history.size() <= max_turns) return;
  auto drop = static_cast<std::ptrdiff_t>(session.history.size() - max_turns);
  session.history.erase(session.history.begin(), session.history.begin() + drop);
}

std::string serialize_session(const Session& session) {
  json::array history;
  history.reserve(session.history.size());
  for (const Turn& t : session.history) {
    history.push_back(json::object{{"user_message", t.user_message},
                                   {"assistant_message", t.assistant_message},
                                   {"timestamp", t.timestamp}});
  }
  json::object o;
  o["session_id"] = session.session_id;
  o["user_id"] = session.user_id;
  o["created_at"] = session.created_at;
  o["last_active"] = session.last_active;
  o["metadata"] = session.metadata;
  o["history"] = std::move(history);
  return json::serialize(o);
}

Result<Session> parse_session(std::string_view stored) {
  json::parse_options opts;
  // What serialize_session writes for non-UTF-8 bytes must read back.
  opts.allow_invalid_utf8 = true;
  opts.max_depth = 64;
  std::error_code ec;
  json::value root = json::parse(stored, ec, {}, opts);
  if (ec) {
    std::string head(stored.substr(0, 32));
    for (char& c : head) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return parse_error("not JSON (" + ec.message() + ") in " + std::to_string(stored.size()) +
                       " bytes starting \"" + head + "\"");
  }
  const json::object* o = root.if_object();
  if (o == nullptr) return parse_error("not a JSON object");

  Session s;
  auto sid = get_string(*o, "session_id", "");
  if (!sid) return sid.error();
  s.session_id = std::move(*sid);
  auto uid = get_string(*o, "user_id", "");
  if (!uid) return uid.error();
  s.user_id = std::move(*uid);
  auto created = get_int(*o, "created_at", "", /*required=*/false);
  if (!created) return created.error();
  s.created_at = *created;
  auto last = get_int(*o, "last_active", "", /*required=*/false);
  if (!last) return last.error();
  s.last_active = *last;

  if (const json::value* m = o->if_contains("metadata"); m != nullptr && !m->is_null()) {
    if (!m->is_object()) return parse_error("\"metadata\" is not an object");
    s.metadata = m->get_object();
  }
  if (const json::value* h = o->if_contains("history"); h != nullptr && !h->is_null()) {
    if (!h->is_array()) return parse_error("\"history\" is not an array");
    const json::array& turns = h->get_array();
    s.history.reserve(turns.size());
    for (std::size_t i = 0; i < turns.size(); ++i) {
      std::string where = "history[" + std::to_string(i) + "]: ";
      const json::object* t = turns[i].if_object();
      if (t == nullptr) return parse_error(where + "not an object");
      Turn turn;
      auto um = get_string(*t, "user_message", where, /*required=*/false);
      if (!um) return um.error();
      auto am = get_string(*t, "assistant_message", where, /*required=*/false);
      if (!am) return am.error();
      auto ts = get_int(*t, "timestamp", where, /*required=*/false);
      if (!ts) return ts.error();
      turn.user_message = std::move(*um);
      turn.assistant_message = std::move(*am);
      turn.timestamp = *ts;
      s.history.push_back(std::move(turn));
    }
  }
  return s;
}

}  // namespace suoke::sessions
