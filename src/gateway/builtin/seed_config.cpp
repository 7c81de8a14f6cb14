// The seed's configure_kong_services.py, transcribed as declarative configuration. Kept as
// data, next to the script's own order, so a reviewer can compare it line by line.
#include <sstream>
#include <string_view>

#include "gateway/builtin/builtin_services.h"

namespace suoke::gateway::builtin {
namespace {

// Double-quoted YAML scalar (a JSON string is one), so no value can change the structure.
std::string q(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

class Writer {
 public:
  std::string url_for(const std::map<std::string, uint16_t>& ports, const std::string& name) {
    auto it = ports.find(name);
    if (it == ports.end()) return "http://" + name + ":8000";
    return "http://127.0.0.1:" + std::to_string(it->second);
  }

  void service(const std::string& name, const std::string& url, bool timeouts) {
    out_ << "  - name: " << q(name) << "\n";
    out_ << "    url: " << q(url) << "\n";
    if (timeouts) {
      out_ << "    connect_timeout: 60000\n";
      out_ << "    write_timeout: 60000\n";
      out_ << "    read_timeout: 60000\n";
    }
  }

  void route(const std::string& path, const std::vector<std::string>& methods) {
    out_ << "    routes:\n";
    out_ << "      - paths:\n";
    out_ << "          - " << q(path) << "\n";
    out_ << "        methods:\n";
    for (const auto& m : methods) out_ << "          - " << q(m) << "\n";
  }

  void plugins_header() { out_ << "    plugins:\n"; }

  void rate_limiting(int minute, int hour) {
    out_ << "      - name: \"rate-limiting\"\n";
    out_ << "        config:\n";
    out_ << "          minute: " << minute << "\n";
    out_ << "          hour: " << hour << "\n";
    out_ << "          policy: \"redis\"\n";
    out_ << "          redis_host: \"redis-cluster\"\n";
    out_ << "          redis_port: 7001\n";
  }

  void jwt_plain() { out_ << "      - name: \"jwt\"\n"; }

  std::ostringstream& raw() { return out_; }

 private:
  std::ostringstream out_;
};

}  // namespace

std::string seed_declarative_config(const std::map<std::string, uint16_t>& service_ports) {
  Writer w;
  auto& out = w.raw();
  out << "# The seed's topology (scripts/configure_kong_services.py in the infrastructure guide):\n"
         "# its services, routes, timeouts and plugins, with each service pointing at the\n"
         "# built-in placeholder upstream that `suoke up` serves on loopback.\n";
  out << "_format_version: \"3.0\"\n";
  out << "services:\n";

  // 1. auth-service
  w.service("auth-service", w.url_for(service_ports, "auth-service"), true);
  w.route("/api/v1/auth", {"GET", "POST", "PUT", "DELETE"});
  w.plugins_header();
  w.rate_limiting(100, 1000);

  // 2. xiaoai-service
  w.service("xiaoai-service", w.url_for(service_ports, "xiaoai-service"), true);
  w.route("/api/v1/xiaoai", {"GET", "POST"});
  w.plugins_header();
  out << "      - name: \"jwt\"\n"
         "        config:\n"
         "          secret_is_base64: false\n"
         "          key_claim_name: \"iss\"\n"
         "          claims_to_verify:\n"
         "            - \"exp\"\n";
  w.rate_limiting(50, 500);

  // 3. the other agents
  for (const char* agent : {"xiaoke", "laoke", "soer"}) {
    const std::string name = std::string(agent) + "-service";
    w.service(name, w.url_for(service_ports, name), true);
    w.route(std::string("/api/v1/") + agent, {"GET", "POST"});
    w.plugins_header();
    w.jwt_plain();
    w.rate_limiting(50, 500);
  }

  // 4. user-service (the script sets no timeouts: Kong's defaults apply)
  w.service("user-service", w.url_for(service_ports, "user-service"), false);
  w.route("/api/v1/users", {"GET", "POST", "PUT", "DELETE"});
  w.plugins_header();
  w.jwt_plain();

  // 5. health-data-service
  w.service("health-data-service", w.url_for(service_ports, "health-data-service"), false);
  w.route("/api/v1/health", {"GET", "POST", "PUT"});
  w.plugins_header();
  w.jwt_plain();
  // The seed removes `sensitive_data` and `personal_info`, which under Kong's rules strips
  // only top-level keys; health records nest them, so `suoke up` adds the any-depth paths
  // (our response-transformer's extension) to remove them wherever they appear.
  out << "      - name: \"response-transformer\"\n"
         "        config:\n"
         "          remove:\n"
         "            json:\n"
         "              - \"sensitive_data\"\n"
         "              - \"personal_info\"\n"
         "              - \"**.sensitive_data\"\n"
         "              - \"**.personal_info\"\n";

  // 6. global plugins
  out << "plugins:\n"
         "  - name: \"cors\"\n"
         "    config:\n"
         "      origins:\n"
         "        - \"*\"\n"
         "      methods:\n";
  for (const char* m : {"GET", "POST", "PUT", "DELETE", "OPTIONS"})
    out << "        - " << q(m) << "\n";
  out << "      headers:\n";
  for (const char* h : {"Accept", "Accept-Version", "Content-Length", "Content-MD5", "Content-Type",
                        "Date", "X-Auth-Token"}) {
    out << "        - " << q(h) << "\n";
  }
  out << "      exposed_headers:\n"
         "        - \"X-Auth-Token\"\n"
         "      credentials: true\n"
         "      max_age: 3600\n"
         "  - name: \"file-log\"\n"
         "    config:\n"
         "      path: \"/tmp/access.log\"\n";
  return out.str();
}

}  // namespace suoke::gateway::builtin
