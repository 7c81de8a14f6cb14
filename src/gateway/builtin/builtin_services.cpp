#include "gateway/builtin/builtin_services.h"

#include <boost/json.hpp>
#include <cctype>
#include <string_view>
#include <utility>

namespace suoke::gateway::builtin {
namespace {

namespace json = boost::json;

std::string placeholder_note(std::string_view service) {
  return "built-in placeholder upstream for " + std::string(service);
}

// What the gateway sent us; the headers a proxy adds are the interesting part.
json::object echo(const http::Request& request) {
  json::object headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower;
    for (char c : name)
      lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    if (lower.rfind("x-forwarded-", 0) == 0 || lower == "x-real-ip" || lower == "x-request-id" ||
        lower == "host") {
      headers[lower] = value;
    }
  }
  json::object out;
  out["method"] = request.method;
  out["path"] = request.path();
  out["query"] = request.query();
  out["headers"] = std::move(headers);
  out["body_bytes"] = request.body.size();
  return out;
}

json::object base(std::string_view service, const http::Request& request) {
  json::object out;
  out["service"] = service;
  out["placeholder"] = true;
  out["description"] = placeholder_note(service);
  out["request"] = echo(request);
  return out;
}

http::Response reply(std::string_view service, int status, const json::object& body) {
  auto response = http::Response::json(status, json::serialize(body));
  response.set_header("X-Suoke-Builtin-Upstream", std::string(service));
  return response;
}

// The request body as JSON; a body that is not a JSON object yields an empty object, so a
// placeholder never fails on input a real service might reject.
json::object body_object(const http::Request& request) {
  if (request.body.empty()) return {};
  boost::system::error_code ec;
  json::value v = json::parse(request.body, ec);
  if (ec || !v.is_object()) return {};
  return v.as_object();
}

std::string string_field(const json::object& o, std::string_view key, std::string fallback) {
  if (const json::value* v = o.if_contains(key); v && v->is_string()) {
    return std::string(v->as_string());
  }
  return fallback;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

struct AgentInfo {
  const char* id;
  const char* display_name;
  const char* role;
};

constexpr AgentInfo kAgents[] = {
    {"xiaoai", "小艾", "health consultation and the four diagnostic methods"},
    {"xiaoke", "小克", "service coordination and medical resource scheduling"},
    {"laoke", "老克", "health knowledge and traditional Chinese medicine education"},
    {"soer", "索儿", "lifestyle companion and daily health management"},
};

const AgentInfo* find_agent(std::string_view id) {
  for (const auto& a : kAgents) {
    if (id == a.id) return &a;
  }
  return nullptr;
}

json::object sample_record(int id, std::string_view type, int64_t value, std::string_view unit) {
  json::object record;
  record["id"] = "rec-" + std::to_string(id);
  record["type"] = type;
  record["value"] = value;
  record["unit"] = unit;
  record["recorded_at"] = "2024-01-0" + std::to_string(id) + "T08:00:00Z";
  record["sensitive_data"] =
      json::object{{"diagnosis_notes", "placeholder clinical note"},
                   {"medical_record_number", "MRN-000" + std::to_string(id)}};
  record["personal_info"] = json::object{{"name", "Placeholder Patient"},
                                         {"id_card", "000000000000000000"},
                                         {"phone", "+86-000-0000-0000"}};
  json::object detail;
  detail["device"] = "placeholder-device";
  detail["sensitive_data"] = json::object{{"raw_signal", "placeholder"}};
  detail["personal_info"] = json::object{{"home_address", "placeholder address"}};
  record["detail"] = std::move(detail);
  return record;
}

}  // namespace

http::Response handle_auth(const http::Request& request) {
  constexpr std::string_view kName = "auth-service";
  json::object out = base(kName, request);
  std::string_view path = request.path();
  if (request.method == "POST" && ends_with(path, "/login")) {
    json::object body = body_object(request);
    out["action"] = "login";
    out["username"] = string_field(body, "username", "");
    out["authenticated"] = false;
    out["token"] = nullptr;
    out["message"] = "placeholder: credentials were not checked and no token was minted";
  } else if (request.method == "POST" && ends_with(path, "/register")) {
    json::object body = body_object(request);
    out["action"] = "register";
    out["username"] = string_field(body, "username", "");
    out["message"] = "placeholder: nothing was stored";
  } else {
    out["action"] = "info";
    out["endpoints"] = json::array{"POST /api/v1/auth/login", "POST /api/v1/auth/register"};
  }
  return reply(kName, 200, out);
}

http::Response handle_agent(const std::string& agent, const http::Request& request) {
  const std::string service = agent + "-service";
  json::object out = base(service, request);
  const AgentInfo* info = find_agent(agent);
  out["agent"] = agent;
  if (info) {
    out["display_name"] = info->display_name;
    out["role"] = info->role;
  }
  if (request.method == "POST") {
    json::object body = body_object(request);
    std::string message =
        string_field(body, "message", string_field(body, "content", request.body));
    json::object chat;
    chat["agent"] = agent;
    chat["session_id"] = string_field(body, "session_id", "");
    chat["received"] = message;
    chat["reply"] =
        "[" + agent + " placeholder] I received your message; the real agent is not running yet.";
    out["chat"] = std::move(chat);
  } else {
    out["status"] = "available";
    out["capabilities"] = json::array{"chat"};
  }
  return reply(service, 200, out);
}

http::Response handle_user(const http::Request& request) {
  constexpr std::string_view kName = "user-service";
  json::object out = base(kName, request);
  if (request.method == "GET") {
    json::object user;
    user["id"] = "user-0001";
    user["username"] = "placeholder-user";
    user["display_name"] = "Placeholder User";
    out["users"] = json::array{user};
  } else {
    out["received"] = body_object(request);
    out["message"] = "placeholder: nothing was stored";
  }
  return reply(kName, 200, out);
}

http::Response handle_health_data(const http::Request& request) {
  constexpr std::string_view kName = "health-data-service";
  json::object out = base(kName, request);
  if (request.method == "GET") {
    out["records"] = json::array{sample_record(1, "blood_pressure_systolic", 118, "mmHg"),
                                 sample_record(2, "heart_rate", 72, "bpm")};
    out["patient"] = json::object{{"id", "patient-0001"},
                                  {"personal_info", json::object{{"name", "Placeholder Patient"}}},
                                  {"sensitive_data", json::object{{"insurance_id", "INS-0000"}}}};
    out["sensitive_data"] = json::object{{"access_level", "clinician"}};
    out["personal_info"] = json::object{{"requested_by", "placeholder"}};
    out["count"] = 2;
  } else {
    json::object record = sample_record(3, "submitted", 0, "");
    record["submitted"] = body_object(request);
    out["record"] = std::move(record);
    out["message"] = "placeholder: nothing was stored";
  }
  return reply(kName, 200, out);
}

std::vector<BuiltinService> builtin_services() {
  std::vector<BuiltinService> services;
  services.push_back({"auth-service",
                      placeholder_note("auth-service") + ": login/register echo, mints nothing",
                      handle_auth});
  for (const auto& a : kAgents) {
    std::string id = a.id;
    services.push_back({id + "-service",
                        placeholder_note(id + "-service") + ": agent " + a.display_name + " (" +
                            id + "), GET for agent info, POST for a placeholder chat reply",
                        [id](const http::Request& r) { return handle_agent(id, r); }});
  }
  services.push_back(
      {"user-service", placeholder_note("user-service") + ": user records", handle_user});
  services.push_back({"health-data-service",
                      placeholder_note("health-data-service") +
                          ": health records carrying sensitive_data and personal_info fields",
                      handle_health_data});
  return services;
}

}  // namespace suoke::gateway::builtin
