#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "core/log.h"
#include "gateway/app/gateway_app.h"
#include "gateway/plugins/file_log/writer.h"
#include "gateway/snapshot.h"
#include "gateway/store/config_store.h"

namespace suoke::cli {
namespace {

const std::vector<FlagSpec>& gateway_flags() {
  static const std::vector<FlagSpec> flags = {
      {"proxy-listen", true, "address the proxy listens on (Kong's proxy_listen)", "0.0.0.0:8000"},
      {"admin-listen", true, "address of the Kong-compatible Admin API, or 'off'", "127.0.0.1:8001"},
      {"status-listen", true, "address of the status endpoint (/status), or 'off'", "127.0.0.1:8100"},
      {"workers", true, "proxy worker threads, one event loop each (Kong's nginx_worker_processes)",
       "number of cores"},
      {"data-dir", true, "directory where Admin API writes are persisted (kong.json); '' keeps them in memory",
       "./suoke-data"},
      {"config", true, "Kong 3.x declarative config (YAML or JSON) loaded at start and on SIGHUP", ""},
      {"max-body-size", true, "largest request body accepted, in bytes (413 beyond; 0 = unlimited)", "8388608"},
      {"log-level", true, "debug | info | warn | error", "info"},
      {"format", true, "export only: yaml | json", "yaml"},
      {"output", true, "export only: write to this file instead of stdout", ""},
      {"help", false, "show this help", ""},
  };
  return flags;
}

constexpr const char* kGatewaySummary =
    "The API gateway: a reverse proxy with Kong 3.x Services, Routes and plugins,\n"
    "a Kong-compatible Admin API, and Kong declarative config in and out.\n\n"
    "  suoke gateway [flags]          run it\n"
    "  suoke gateway check --config F validate a declarative file (like `kong config parse`);\n"
    "                                 every error is listed with its entity path; exit 1 if any\n"
    "  suoke gateway export [--data-dir D | --config F] [--format yaml|json] [--output FILE]\n"
    "                                 print the configuration as Kong declarative config\n"
    "                                 (like `kong config db_export`)\n\n"
    "--data-dir persists Admin API writes (kong.json, fsync'd before each response). When\n"
    "--config is given too, the file replaces what the data dir held at start.";

// `check` and `export` work on a memory-only store: nothing is written anywhere.
int run_offline(const std::string& action, const ParsedArgs& parsed) {
  gateway::store::StoreOptions store_options;
  if (action == "export" && !parsed.has("config")) {
    store_options.data_dir = parsed.has("data-dir") ? parsed.get("data-dir") : "./suoke-data";
  }
  auto store = gateway::store::ConfigStore::open(store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "suoke gateway %s: %s\n", action.c_str(), store.error().message.c_str());
    return 1;
  }
  if (parsed.has("config")) {
    std::string path = parsed.get("config");
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "suoke gateway %s: cannot read %s: %s\n", action.c_str(), path.c_str(),
                   std::strerror(errno));
      return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto loaded = (*store)->load_declarative(text.str(), path);
    if (!loaded.ok()) {
      std::fprintf(stderr, "suoke gateway %s: %s: %s\n", action.c_str(), path.c_str(),
                   loaded.error().message.c_str());
      return 1;
    }
  } else if (action == "check") {
    std::fprintf(stderr, "suoke gateway check: --config FILE is required\n");
    return 2;
  }
  if (action == "check") {
    auto snapshot = (*store)->snapshot();
    std::printf("%s: valid (%zu services, %zu routes, %zu plugins, %zu consumers)\n", parsed.get("config").c_str(),
                snapshot->services.size(), snapshot->routes.size(), snapshot->plugins.size(),
                snapshot->consumers.size());
    return 0;
  }
  std::string format = parsed.get("format", "yaml");
  if (format != "yaml" && format != "json") {
    std::fprintf(stderr, "suoke gateway export: --format: expected yaml or json\n");
    return 2;
  }
  std::string text = (*store)->export_declarative(format == "yaml");
  if (parsed.has("output")) {
    std::ofstream out(parsed.get("output"), std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::fprintf(stderr, "suoke gateway export: cannot write %s\n", parsed.get("output").c_str());
      return 1;
    }
  } else {
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return 0;
}

Result<int> parse_int(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    long long v = std::stoll(text, &used);
    if (used != text.size() || v < 0 || v > 1'000'000'000'000LL) throw std::invalid_argument(text);
    return static_cast<int>(std::min<long long>(v, 2'000'000'000));
  } catch (const std::exception&) {
    return Error::make("--" + flag + ": expected a non-negative integer, got '" + text + "'", "usage");
  }
}

}  // namespace

// Shared by `suoke gateway` and `suoke up`: turns flags into GatewayOptions.
Result<gateway::GatewayOptions> gateway_options_from(const ParsedArgs& parsed) {
  gateway::GatewayOptions options;
  auto endpoint = [&](const char* flag, http::Endpoint* out, bool* enabled) -> Result<void> {
    if (!parsed.has(flag)) return Ok();
    std::string value = parsed.get(flag);
    if (value == "off") {
      *enabled = false;
      return Ok();
    }
    auto parsed_endpoint = http::parse_endpoint(value);
    if (!parsed_endpoint.ok()) return Error::make(std::string("--") + flag + ": " + parsed_endpoint.error().message);
    *out = *parsed_endpoint;
    return Ok();
  };
  bool proxy_enabled = true;
  if (auto r = endpoint("proxy-listen", &options.proxy_listen, &proxy_enabled); !r.ok()) return r.error();
  if (!proxy_enabled) return Error::make("--proxy-listen cannot be off", "usage");
  if (auto r = endpoint("admin-listen", &options.admin_listen, &options.admin_enabled); !r.ok()) return r.error();
  if (auto r = endpoint("status-listen", &options.status_listen, &options.status_enabled); !r.ok()) return r.error();
  if (parsed.has("workers")) {
    auto n = parse_int("workers", parsed.get("workers"));
    if (!n.ok()) return n.error();
    if (*n < 1 || *n > 256) return Error::make("--workers: expected 1..256", "usage");
    options.workers = *n;
  }
  if (parsed.has("max-body-size")) {
    auto n = parse_int("max-body-size", parsed.get("max-body-size"));
    if (!n.ok()) return n.error();
    options.limits.max_body_bytes = static_cast<size_t>(*n);
  }
  options.data_dir = parsed.has("data-dir") ? parsed.get("data-dir") : "./suoke-data";
  options.config_file = parsed.get("config");
  if (parsed.has("log-level")) {
    log::Level level;
    if (!log::parse_level(parsed.get("log-level"), &level)) {
      return Error::make("--log-level: expected debug, info, warn or error", "usage");
    }
    log::set_level(level);
  }
  return options;
}

// Runs until SIGINT/SIGTERM; SIGHUP reloads the --config file, SIGUSR1 reopens log files. Returns the exit code.
int serve_until_signal(gateway::GatewayApp& app) {
  for (;;) {
    int sig = wait_for_control_signal();
    if (sig == SIGUSR1) {
      // Log rotation: the file-log writers reopen their files before their next write.
      gateway::plugins::file_log::reopen_all();
      log::info("log files reopened on SIGUSR1");
      continue;
    }
    if (sig == SIGHUP) {
      auto reloaded = app.reload_config_file();
      if (reloaded.ok()) {
        log::info("configuration reloaded on SIGHUP");
      } else {
        log::error("configuration reload failed; the running configuration is unchanged",
                   {{"error", reloaded.error().message}});
      }
      continue;
    }
    log::info("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    app.stop();
    return 0;
  }
}

int run_gateway(const std::vector<std::string>& args) {
  auto parsed = parse_args(args, gateway_flags());
  if (!parsed.ok()) {
    std::fprintf(stderr, "suoke gateway: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->has("help")) {
    std::printf("%s", format_help("suoke gateway [check|export] [flags]", kGatewaySummary, gateway_flags()).c_str());
    return 0;
  }
  if (!parsed->positional.empty()) {
    const std::string& action = parsed->positional[0];
    if ((action != "check" && action != "export") || parsed->positional.size() > 1) {
      std::fprintf(stderr, "suoke gateway: unexpected argument '%s' (see --help)\n", action.c_str());
      return 2;
    }
    return run_offline(action, *parsed);
  }
  auto options = gateway_options_from(*parsed);
  if (!options.ok()) {
    std::fprintf(stderr, "suoke gateway: %s\n", options.error().message.c_str());
    return 2;
  }
  block_control_signals();
  auto app = gateway::GatewayApp::start(std::move(options).value());
  if (!app.ok()) {
    std::fprintf(stderr, "suoke gateway: %s\n", app.error().message.c_str());
    return 1;
  }
  std::printf("suoke gateway: proxy on port %u, admin API on port %u, status on port %u\n",
              (*app)->proxy_port(), (*app)->admin_port(), (*app)->status_port());
  std::fflush(stdout);
  return serve_until_signal(**app);
}

}  // namespace suoke::cli
