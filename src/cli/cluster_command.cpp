// `suoke cluster up | down | status`: a local Redis Cluster (3 masters + 3 replicas) for
// development and tests, with the seed's redis-cluster.conf settings. The work is done by
// src/redis/local_cluster; this file parses flags and prints.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "redis/local_cluster.h"

namespace suoke::cli {
namespace {

constexpr const char* kClusterSummary =
    "A Redis Cluster on this machine: 6 redis-server processes on 127.0.0.1 (ports base..base+5),\n"
    "3 masters + 3 replicas, with the settings of the seed's redis-cluster.conf\n"
    "(cluster-node-timeout, appendonly yes, appendfsync everysec, save 900 1 / 300 10 / 60 10000,\n"
    "maxmemory 2gb, maxmemory-policy allkeys-lru, tcp-keepalive 300).\n"
    "Not carried over: the seed's `loadmodule` lines for RediSearch and ReJSON, because Debian's\n"
    "redis-server has no such modules; and `bind 0.0.0.0` / `protected-mode no`: nodes listen on\n"
    "loopback only.\n\n"
    "  suoke cluster up [flags]       start it (or find it running: exit 0), wait for cluster_state:ok,\n"
    "                                 print the seed URL (redis-cluster://127.0.0.1:7001,...)\n"
    "  suoke cluster status [flags]   each node's pid, role, slots or master, and cluster_state;\n"
    "                                 exit 0 when the cluster is ok, 1 otherwise\n"
    "  suoke cluster down [flags]     stop the nodes by PID (SIGTERM, SIGKILL after --timeout);\n"
    "                                 --purge deletes their data too\n\n"
    "Each node lives in <dir>/<port>/ (redis.conf, redis.pid, redis.log, nodes.conf, AOF). After\n"
    "`down` without --purge, `up` resumes the same cluster with its data.\n"
    "Needs Debian's redis-server and redis-tools (apt-get install redis-server redis-tools).\n"
    "`suoke cluster <action> --help` shows each action's flags.";

const FlagSpec kDirFlag = {"dir", true, "directory holding one subdirectory per node", "./suoke-data/cluster"};
const FlagSpec kHelpFlag = {"help", false, "show this help", ""};

const std::vector<FlagSpec>& up_flags() {
  static const std::vector<FlagSpec> flags = {
      kDirFlag,
      {"base-port", true, "first port; the nodes use base..base+5 and base+10000.. for the cluster bus", "7001"},
      {"node-timeout", true, "cluster-node-timeout in ms: how long a master may be unreachable before failover",
       "5000"},
      {"timeout", true, "seconds to wait for cluster_state:ok", "60"},
      kHelpFlag,
  };
  return flags;
}

const std::vector<FlagSpec>& status_flags() {
  static const std::vector<FlagSpec> flags = {
      kDirFlag,
      {"json", false, "print JSON instead of a table", ""},
      kHelpFlag,
  };
  return flags;
}

const std::vector<FlagSpec>& down_flags() {
  static const std::vector<FlagSpec> flags = {
      kDirFlag,
      {"purge", false, "also delete the nodes' data (their directories under --dir)", ""},
      {"timeout", true, "seconds to wait after SIGTERM before SIGKILL", "15"},
      kHelpFlag,
  };
  return flags;
}

std::string slot_text(const std::vector<redis::LocalSlotRange>& slots) {
  std::string out;
  for (const auto& r : slots) {
    if (!out.empty()) out += ",";
    out += r.first == r.last ? std::to_string(r.first) : std::to_string(r.first) + "-" + std::to_string(r.last);
  }
  return out;
}

void print_table(const redis::LocalClusterStatus& status) {
  std::printf("%-6s %-8s %-6s %-8s %-28s %s\n", "PORT", "PID", "ALIVE", "ROLE", "SLOTS / MASTER", "STATE");
  for (const auto& n : status.nodes) {
    std::string detail;
    if (n.role == "master") detail = slot_text(n.slots).empty() ? "(no slots)" : slot_text(n.slots);
    if (n.role == "replica") detail = "of " + std::to_string(n.master_port) + " (link " + n.master_link + ")";
    if (!n.reachable) detail = "unreachable: " + n.error;
    std::printf("%-6d %-8s %-6s %-8s %-28s %s\n", n.port, n.pid ? std::to_string(n.pid).c_str() : "-",
                n.alive ? "yes" : "no", n.role.empty() ? "-" : n.role.c_str(), detail.c_str(),
                n.cluster_state.empty() ? "-" : n.cluster_state.c_str());
  }
  std::printf("\ncluster %s (%s)\nseed URL: %s\n", status.ok ? "ok" : "NOT ok", status.dir.c_str(),
              status.seed_url.c_str());
}

std::string status_json(const redis::LocalClusterStatus& status) {
  boost::json::object root;
  root["dir"] = status.dir;
  root["ok"] = status.ok;
  root["seed_url"] = status.seed_url;
  boost::json::array nodes;
  for (const auto& n : status.nodes) {
    boost::json::object o;
    o["port"] = n.port;
    o["pid"] = n.pid;
    o["alive"] = n.alive;
    o["reachable"] = n.reachable;
    o["node_id"] = n.node_id;
    o["role"] = n.role;
    boost::json::array slots;
    for (const auto& r : n.slots) slots.push_back(boost::json::array{r.first, r.last});
    o["slots"] = std::move(slots);
    if (n.role == "replica") {
      o["master_port"] = n.master_port;
      o["master_link"] = n.master_link;
    } else {
      o["master_port"] = nullptr;
      o["master_link"] = nullptr;
    }
    o["cluster_state"] = n.cluster_state;
    if (!n.error.empty()) o["error"] = n.error;
    nodes.push_back(std::move(o));
  }
  root["nodes"] = std::move(nodes);
  return boost::json::serialize(root);
}

int run_up_action(const ParsedArgs& parsed) {
  redis::LocalClusterOptions options;
  options.dir = parsed.get("dir", options.dir);
  long base_port = options.base_port, node_timeout = options.node_timeout_ms, timeout = 60;
  if (!int_flag(parsed, "cluster up", "base-port", 1, 55530, &base_port) ||
      !int_flag(parsed, "cluster up", "node-timeout", 100, 3600000, &node_timeout) ||
      !int_flag(parsed, "cluster up", "timeout", 1, 3600, &timeout)) {
    return 2;
  }
  options.base_port = static_cast<int>(base_port);
  options.node_timeout_ms = static_cast<int>(node_timeout);
  options.ready_timeout = std::chrono::seconds(timeout);
  options.progress = [](const std::string& line) {
    std::printf("  %s\n", line.c_str());
    std::fflush(stdout);
  };
  auto up = redis::local_cluster_up(options);
  if (!up.ok()) {
    std::fprintf(stderr, "suoke cluster up: %s\n", up.error().message.c_str());
    return up.error().kind == "usage" ? 2 : 1;
  }
  int first = up->ports.front(), last = up->ports.back();
  if (up->already_running) {
    std::printf("Redis cluster already running on 127.0.0.1:%d-%d (%s); nothing started.\n", first, last,
                options.dir.c_str());
  } else {
    std::printf("Redis cluster is up%s: 3 masters + 3 replicas on 127.0.0.1:%d-%d, cluster_state:ok (data in %s).\n",
                up->resumed ? " again with its data" : "", first, last, options.dir.c_str());
  }
  std::printf("Seed URL: %s\n", up->seed_url.c_str());
  std::printf("Status: suoke cluster status --dir %s    Stop: suoke cluster down --dir %s\n", options.dir.c_str(),
              options.dir.c_str());
  return 0;
}

int run_status_action(const ParsedArgs& parsed) {
  redis::LocalClusterOptions options;
  options.dir = parsed.get("dir", options.dir);
  auto status = redis::local_cluster_status(options);
  if (!status.ok()) {
    if (parsed.has("json")) {
      boost::json::object o{{"dir", options.dir}, {"ok", false}, {"error", status.error().message},
                            {"nodes", boost::json::array{}}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    }
    std::fprintf(stderr, "suoke cluster status: %s\n", status.error().message.c_str());
    return 1;
  }
  if (parsed.has("json")) {
    std::printf("%s\n", status_json(*status).c_str());
  } else {
    print_table(*status);
  }
  return status->ok ? 0 : 1;
}

int run_down_action(const ParsedArgs& parsed) {
  redis::LocalClusterOptions options;
  options.dir = parsed.get("dir", options.dir);
  long timeout = 15;
  if (!int_flag(parsed, "cluster down", "timeout", 0, 3600, &timeout)) return 2;
  options.stop_timeout = std::chrono::seconds(timeout);
  auto down = redis::local_cluster_down(options, parsed.has("purge"));
  if (!down.ok()) {
    // Nothing to stop is what `down` is for: report it, but it is not a failure.
    if (down.error().kind == "not_found") {
      std::printf("%s\n", down.error().message.c_str());
      return 0;
    }
    std::fprintf(stderr, "suoke cluster down: %s\n", down.error().message.c_str());
    return 1;
  }
  auto list = [](const std::vector<int>& ports) {
    std::string out;
    for (int p : ports) out += " " + std::to_string(p);
    return out;
  };
  if (!down->stopped.empty()) std::printf("stopped:%s\n", list(down->stopped).c_str());
  if (!down->killed.empty()) std::printf("killed (no exit within %lds of SIGTERM):%s\n", timeout, list(down->killed).c_str());
  if (!down->not_running.empty()) std::printf("not running:%s\n", list(down->not_running).c_str());
  if (down->purged) std::printf("data deleted from %s\n", options.dir.c_str());
  return 0;
}

}  // namespace

int run_cluster(const std::vector<std::string>& args) {
  const std::string action = args.empty() ? "" : args[0];
  if (action.empty() || action == "--help" || action == "-h" || action == "help") {
    std::printf("Usage: suoke cluster up | status | down [flags]\n\n%s\n", kClusterSummary);
    return action.empty() ? 2 : 0;
  }
  const std::vector<FlagSpec>* flags = nullptr;
  int (*run)(const ParsedArgs&) = nullptr;
  std::string summary;
  if (action == "up") {
    flags = &up_flags();
    run = run_up_action;
    summary =
        "Starts 6 redis-server nodes (daemonized, pidfiles in <dir>/<port>/) as 3 masters + 3 replicas\n"
        "with `redis-cli --cluster create`, waits for cluster_state:ok and prints the seed URL.\n"
        "Already running from --dir: says so and exits 0. Stopped (after `down`): resumes with its data.\n"
        "Refuses before starting anything when a port is in use or --dir holds something else.\n"
        "The seed's RediSearch/ReJSON `loadmodule` lines are left out: Debian's Redis has no such modules.";
  } else if (action == "status") {
    flags = &status_flags();
    run = run_status_action;
    summary =
        "For each node found in --dir: port, pid and whether it runs, role, the slots of a master or\n"
        "the master a replica follows, and cluster_state. Exit 0 when all 6 nodes run and report\n"
        "cluster_state:ok, 1 otherwise.";
  } else if (action == "down") {
    flags = &down_flags();
    run = run_down_action;
    summary =
        "Stops every node found in --dir by the PID in its pidfile: SIGTERM to all, SIGKILL to those\n"
        "still running after --timeout; removes the pidfiles. --purge deletes the node directories\n"
        "(and --dir itself if nothing else is in it). Nothing running: says so, exit 0.";
  } else {
    std::fprintf(stderr, "suoke cluster: unknown action '%s' (expected up, status or down; see --help)\n",
                 action.c_str());
    return 2;
  }
  auto parsed = parse_args(std::vector<std::string>(args.begin() + 1, args.end()), *flags);
  if (!parsed.ok()) {
    std::fprintf(stderr, "suoke cluster %s: %s\n", action.c_str(), parsed.error().message.c_str());
    return 2;
  }
  if (parsed->has("help")) {
    std::printf("%s", format_help("suoke cluster " + action + " [flags]", summary, *flags).c_str());
    return 0;
  }
  if (!parsed->positional.empty()) {
    std::fprintf(stderr, "suoke cluster %s: unexpected argument '%s'\n", action.c_str(),
                 parsed->positional[0].c_str());
    return 2;
  }
  return run(*parsed);
}

}  // namespace suoke::cli
