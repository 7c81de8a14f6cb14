// Built-in placeholder upstreams that `suoke up` serves on loopback for the seed's services
// (configure_kong_services.py) until the real services exist, plus the seed's topology as
// Kong 3.x declarative configuration pointing at them.
//
// Every response says it comes from a placeholder and echoes what the gateway sent (method,
// path, X-Forwarded-*, X-Real-IP, X-Request-Id), so proxy behavior can be observed end to end.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/message.h"

namespace suoke::gateway::builtin {

using Handler = std::function<http::Response(const http::Request&)>;

struct BuiltinService {
  std::string name;  // the seed's Kong service name, e.g. "auth-service"
  std::string description;
  Handler handler;
};

// In the seed's order: auth, xiaoai, xiaoke, laoke, soer, user, health-data.
std::vector<BuiltinService> builtin_services();

// The pure handlers behind builtin_services(), for tests and embedding.
http::Response handle_auth(const http::Request& request);
// `agent` is one of "xiaoai", "xiaoke", "laoke", "soer".
http::Response handle_agent(const std::string& agent, const http::Request& request);
http::Response handle_user(const http::Request& request);
http::Response handle_health_data(const http::Request& request);

// Kong 3.x declarative YAML (`_format_version: "3.0"`) with exactly the services, routes,
// timeouts and plugins configure_kong_services.py creates, each service's url pointing at
// http://127.0.0.1:<port> from `service_ports` (keyed by service name). A service missing from
// the map keeps the seed's url (http://<name>:8000).
std::string seed_declarative_config(const std::map<std::string, uint16_t>& service_ports);

}  // namespace suoke::gateway::builtin
