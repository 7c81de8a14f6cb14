#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <map>
#include <memory>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/uuid.h"
#include "gateway/app/gateway_app.h"
#include "gateway/builtin/builtin_services.h"
#include "gateway/snapshot.h"
#include "gateway/store/config_store.h"
#include "http/server.h"

namespace suoke::cli {

Result<gateway::GatewayOptions> gateway_options_from(const ParsedArgs& parsed);
int serve_until_signal(gateway::GatewayApp& app);

namespace {

const std::vector<FlagSpec>& up_flags() {
  static const std::vector<FlagSpec> flags = {
      {"proxy-listen", true, "address the proxy listens on", "127.0.0.1:8000"},
      {"admin-listen", true, "address of the Kong-compatible Admin API, or 'off'", "127.0.0.1:8001"},
      {"status-listen", true, "address of the status endpoint, or 'off'", "127.0.0.1:8100"},
      {"workers", true, "proxy worker threads", "number of cores"},
      {"data-dir", true, "where the gateway's configuration is kept; the seed's topology is loaded when it is empty",
       "./suoke-data/up"},
      {"upstream-base-port", true,
       "first loopback port of the built-in upstreams (one per seed service, consecutive); 0 picks free ports",
       "18101"},
      {"log-level", true, "debug | info | warn | error", "info"},
      {"help", false, "show this help", ""},
  };
  return flags;
}

// `suoke up` adds one consumer with a JWT credential so that the jwt-protected routes of the
// seed can be tried at once; the printed curl line carries a token signed for it.
constexpr const char* kDemoConsumer = "suoke-demo";
constexpr const char* kDemoKey = "suoke-demo-key";

std::string demo_consumer_yaml() {
  std::string secret = uuid_v4() + uuid_v4();
  std::erase(secret, '-');
  return std::string("consumers:\n- username: ") + kDemoConsumer + "\n  jwt_secrets:\n  - key: " + kDemoKey +
         "\n    algorithm: HS256\n    secret: " + secret + "\n";
}

std::string base64url(std::string_view data) {
  std::string out((data.size() + 2) / 3 * 4, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

// An HS256 token for the demo credential, valid for a day.
std::string demo_token(const std::string& secret) {
  std::string header = base64url(R"({"alg":"HS256","typ":"JWT"})");
  std::string payload = base64url(std::string(R"({"iss":")") + kDemoKey + R"(","exp":)" +
                                  std::to_string(Clock::system().now_seconds() + 24 * 3600) + "}");
  std::string signing_input = header + "." + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &mac_len);
  return signing_input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace

int run_up(const std::vector<std::string>& args) {
  auto parsed = parse_args(args, up_flags());
  if (!parsed.ok()) {
    std::fprintf(stderr, "suoke up: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->has("help")) {
    std::printf("%s", format_help("suoke up [flags]",
                                  "Runs the platform on this machine with nothing else to install: the gateway\n"
                                  "loaded with the seed's services, routes and plugins (configure_kong_services.py),\n"
                                  "and a built-in upstream on loopback for every service. Ctrl-C stops everything.",
                                  up_flags())
                          .c_str());
    return 0;
  }
  ParsedArgs gateway_args = *parsed;
  auto set_default = [&](const char* flag, const char* value) {
    if (!gateway_args.has(flag)) {
      gateway_args.present.insert(flag);
      gateway_args.values[flag] = value;
    }
  };
  set_default("proxy-listen", "127.0.0.1:8000");
  set_default("data-dir", "./suoke-data/up");
  auto options = gateway_options_from(gateway_args);
  if (!options.ok()) {
    std::fprintf(stderr, "suoke up: %s\n", options.error().message.c_str());
    return 2;
  }
  int base_port = 18101;
  if (parsed->has("upstream-base-port")) {
    try {
      base_port = std::stoi(parsed->get("upstream-base-port"));
    } catch (const std::exception&) {
      base_port = -1;
    }
    if (base_port < 0 || base_port > 65000) {
      std::fprintf(stderr, "suoke up: --upstream-base-port: expected 0..65000\n");
      return 2;
    }
  }

  block_control_signals();

  // The built-in upstreams: one small server per seed service, on loopback.
  std::vector<std::unique_ptr<http::Server>> upstreams;
  std::map<std::string, uint16_t> ports;
  int index = 0;
  for (const auto& service : gateway::builtin::builtin_services()) {
    auto server = std::make_unique<http::Server>(service.name, http::Limits{}, service.handler);
    http::Endpoint endpoint{"127.0.0.1", static_cast<uint16_t>(base_port == 0 ? 0 : base_port + index)};
    auto port = server->listen(endpoint);
    if (!port.ok()) {
      std::fprintf(stderr, "suoke up: built-in upstream %s on 127.0.0.1:%u: %s\n", service.name.c_str(),
                   endpoint.port, port.error().message.c_str());
      return 1;
    }
    if (auto started = server->start(1); !started.ok()) {
      std::fprintf(stderr, "suoke up: %s\n", started.error().message.c_str());
      return 1;
    }
    ports[service.name] = *port;
    upstreams.push_back(std::move(server));
    ++index;
  }

  auto app = gateway::GatewayApp::start(*options);
  if (!app.ok()) {
    std::fprintf(stderr, "suoke up: %s\n", app.error().message.c_str());
    return 1;
  }
  auto snapshot = (*app)->store().snapshot();
  bool first_run = snapshot->services.empty() && snapshot->routes.empty() && snapshot->plugins.empty();
  if (first_run) {
    auto loaded = (*app)->store().load_declarative(
        gateway::builtin::seed_declarative_config(ports) + demo_consumer_yaml(), "the seed's topology");
    if (!loaded.ok()) {
      std::fprintf(stderr, "suoke up: the seed's topology was rejected: %s\n", loaded.error().message.c_str());
      return 1;
    }
  }

  uint16_t proxy = (*app)->proxy_port();
  std::printf("Suoke platform is up%s.\n", first_run ? " with the seed's topology" : " (configuration kept from --data-dir)");
  std::printf("  proxy      http://127.0.0.1:%u\n", proxy);
  if ((*app)->admin_port()) std::printf("  admin API  http://127.0.0.1:%u\n", (*app)->admin_port());
  if ((*app)->status_port()) std::printf("  status     http://127.0.0.1:%u/status\n", (*app)->status_port());
  std::printf("  built-in upstreams:");
  for (const auto& [name, port] : ports) std::printf(" %s=127.0.0.1:%u", name.c_str(), port);
  std::string authorization;
  for (const auto& credential : (*app)->store().snapshot()->jwt_credentials) {
    if (credential.key == kDemoKey && credential.algorithm == "HS256") {
      authorization = " -H 'Authorization: Bearer " + demo_token(credential.secret) + "'";
    }
  }
  std::printf("\n\nTry (as consumer %s, with a JWT valid for 24 hours):\n", kDemoConsumer);
  std::printf("  curl -i%s http://127.0.0.1:%u/api/v1/health/records\n", authorization.c_str(), proxy);
  if ((*app)->admin_port()) std::printf("  curl -s http://127.0.0.1:%u/services\n", (*app)->admin_port());
  std::printf("\nCtrl-C stops everything.\n");
  std::fflush(stdout);

  int code = serve_until_signal(**app);
  for (auto& server : upstreams) server->stop(std::chrono::milliseconds(2000));
  return code;
}

}  // namespace suoke::cli
