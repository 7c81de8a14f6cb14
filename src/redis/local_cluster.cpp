#include "redis/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace suoke::redis {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr const char* kInstallHint = "install it with: sudo apt-get install redis-server redis-tools";

// ---------------------------------------------------------------------------------------
// Processes

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

struct ProgramRun {
  int exit_code = -1;  // -1: could not start, killed, or timed out
  bool timed_out = false;
  std::string output;  // stdout and stderr together
};

// Runs argv[0] (a full path) without a shell, capturing its output; killed after `timeout`.
ProgramRun run_program(const std::vector<std::string>& argv, milliseconds timeout) {
  ProgramRun run;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return run;
  pid_t pid = ::fork();
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return run;
  }
  // A daemonizing redis-server hands the pipe to its daemon child, which keeps it open; so
  // reading stops at the launcher's exit, not at EOF.
  auto deadline = Clock::now() + timeout;
  int status = 0;
  bool exited = false;
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 20) > 0) {
      char buf[4096];
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n > 0) run.output.append(buf, static_cast<size_t>(n));
      if (n == 0) {
        ::waitpid(pid, &status, 0);
        exited = true;
        break;
      }
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      // Whatever the launcher wrote before exiting is already in the pipe.
      int flags = ::fcntl(fds[0], F_GETFL);
      ::fcntl(fds[0], F_SETFL, flags | O_NONBLOCK);
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fds[0], buf, sizeof buf)) > 0) run.output.append(buf, static_cast<size_t>(n));
      break;
    }
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      run.timed_out = true;
      break;
    }
  }
  ::close(fds[0]);
  if (exited && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  return run;
}

// A running (not zombie) process whose command line names redis-server. The name check
// guards against a stale pidfile whose PID was reused by something else.
bool is_redis_process(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos || close_paren + 2 >= line.size()) return false;
  char state = line[close_paren + 2];
  if (state == 'Z' || state == 'X') return false;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find("redis-server") != std::string::npos || line.find("(redis-server)") != std::string::npos;
}

pid_t read_pidfile(const fs::path& path) {
  std::ifstream in(path);
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

std::string log_tail(const fs::path& path, size_t max_bytes = 1500) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  return text;
}

// ---------------------------------------------------------------------------------------
// Network

bool port_is_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  // As redis-server binds (SO_REUSEADDR): a port in TIME_WAIT is usable, a listener is not.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// One command over a fresh loopback connection, RESP2. Returns the reply of a simple
// string, bulk string or integer as text; an error reply or a failure is an Error.
// Arrays are not needed by anything here (PING, INFO, CLUSTER INFO/NODES) and are refused.
Result<std::string> resp_command(int port, const std::vector<std::string>& args,
                                 milliseconds timeout = milliseconds(2000)) {
  auto deadline = Clock::now() + timeout;
  auto left_ms = [&] {
    return static_cast<int>(
        std::max<long long>(0, std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count()));
  };
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error::make(std::string("socket: ") + std::strerror(errno), "io");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) return Error::make(std::string("connect: ") + std::strerror(errno), "io");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms()) <= 0) return Error::make("connect: timed out", "timeout");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Error::make(std::string("connect: ") + std::strerror(err), "io");
  }
  std::string request = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) request += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return Error::make(std::string("send: ") + std::strerror(errno), "io");
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left_ms()) <= 0) return Error::make("send: timed out", "timeout");
  }
  std::string buf;
  // Reads until `want` bytes are buffered.
  auto fill = [&](size_t want) -> Result<void> {
    while (buf.size() < want) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, left_ms()) <= 0) return Error::make("no reply within the timeout", "timeout");
      char chunk[8192];
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n == 0) return Error::make("connection closed by the server", "io");
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return Error::make(std::string("recv: ") + std::strerror(errno), "io");
      }
      buf.append(chunk, static_cast<size_t>(n));
    }
    return Ok();
  };
  size_t eol;
  while ((eol = buf.find("\r\n")) == std::string::npos) {
    if (auto r = fill(buf.size() + 1); !r.ok()) return r.error();
  }
  std::string line = buf.substr(1, eol - 1);
  switch (buf[0]) {
    case '+':
    case ':':
      return line;
    case '-':
      return Error::make(line, "reply");
    case '$': {
      long len = std::strtol(line.c_str(), nullptr, 10);
      if (len < 0) return std::string();
      size_t end = eol + 2 + static_cast<size_t>(len);
      if (auto r = fill(end + 2); !r.ok()) return r.error();
      return buf.substr(eol + 2, static_cast<size_t>(len));
    }
    default:
      return Error::make("unexpected reply type '" + std::string(1, buf[0]) + "'", "parse");
  }
}

// "key:value" of INFO-style text, or "".
std::string info_field(const std::string& info, const std::string& key) {
  std::istringstream in(info);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

// One line of CLUSTER NODES.
struct NodeLine {
  std::string id;
  int port = 0;
  bool myself = false;
  bool master = false;
  bool replica = false;
  bool failing = false;  // "fail" or "fail?"
  bool joining = false;  // "handshake" or "noaddr"
  std::string master_id;
  std::vector<LocalSlotRange> slots;
};

std::vector<NodeLine> parse_cluster_nodes(const std::string& text) {
  std::vector<NodeLine> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // <id> <ip:port@cport[,hostname]> <flags> <master-id|-> <ping> <pong> <epoch> <link> [slots...]
    std::istringstream fields(line);
    std::string addr, flags, ping, pong, epoch, link, slot;
    NodeLine node;
    if (!(fields >> node.id >> addr >> flags >> node.master_id >> ping >> pong >> epoch >> link)) continue;
    auto colon = addr.find(':');
    if (colon == std::string::npos) continue;
    node.port = std::atoi(addr.c_str() + colon + 1);
    std::istringstream flag_list(flags);
    std::string flag;
    while (std::getline(flag_list, flag, ',')) {
      if (flag == "myself") node.myself = true;
      if (flag == "master") node.master = true;
      if (flag == "slave") node.replica = true;
      if (flag == "fail" || flag == "fail?") node.failing = true;
      if (flag == "handshake" || flag == "noaddr") node.joining = true;
    }
    while (fields >> slot) {
      if (slot.empty() || slot[0] == '[') continue;  // a slot being migrated or imported
      LocalSlotRange range;
      auto dash = slot.find('-');
      range.first = std::atoi(slot.c_str());
      range.last = dash == std::string::npos ? range.first : std::atoi(slot.c_str() + dash + 1);
      node.slots.push_back(range);
    }
    out.push_back(node);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The directory

struct NodeDir {
  int port = 0;
  fs::path path;
  pid_t pid = 0;       // from the pidfile
  bool alive = false;  // pid is a running redis-server
};

// Subdirectories named by a port number that hold a redis.conf: the nodes of a cluster made
// by `up`. Anything else in the dir is not ours and is left alone.
std::vector<NodeDir> discover(const fs::path& dir) {
  std::vector<NodeDir> nodes;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return nodes;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.size() > 5 || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (!fs::exists(entry.path() / "redis.conf", ec)) continue;
    NodeDir node;
    node.port = std::atoi(name.c_str());
    node.path = entry.path();
    node.pid = read_pidfile(entry.path() / "redis.pid");
    node.alive = is_redis_process(node.pid);
    nodes.push_back(node);
  }
  std::sort(nodes.begin(), nodes.end(), [](const NodeDir& a, const NodeDir& b) { return a.port < b.port; });
  return nodes;
}

// "7001-7006", "7001, 7003": consecutive ports as a range.
std::string port_list(const std::vector<int>& ports) {
  std::string out;
  for (size_t i = 0; i < ports.size();) {
    size_t j = i;
    while (j + 1 < ports.size() && ports[j + 1] == ports[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += std::to_string(ports[i]);
    if (j > i + 1) out += "-" + std::to_string(ports[j]);
    else if (j == i + 1) out += ", " + std::to_string(ports[j]);
    i = j + 1;
  }
  return out;
}

// The settings of the seed's deploy/docker/redis-cluster/redis-cluster.conf, for loopback.
// Left out: its loadmodule lines (RediSearch, ReJSON: Debian's Redis has no such modules),
// `bind 0.0.0.0` / `protected-mode no` (loopback only here), and `logfile /data/redis.log`
// (each node logs into its own directory).
std::string node_config(int port, const fs::path& node_dir, int node_timeout_ms) {
  std::string d = node_dir.string();
  std::ostringstream c;
  c << "# Written by `suoke cluster up`; rewritten on every `up`.\n"
    << "port " << port << "\n"
    << "bind 127.0.0.1\n"
    << "dir " << d << "\n"
    << "daemonize yes\n"
    << "pidfile " << d << "/redis.pid\n"
    << "logfile " << d << "/redis.log\n"
    << "loglevel notice\n"
    << "cluster-enabled yes\n"
    << "cluster-config-file nodes.conf\n"
    << "cluster-node-timeout " << node_timeout_ms << "\n"
    << "appendonly yes\n"
    << "appendfsync everysec\n"
    << "save 900 1\n"
    << "save 300 10\n"
    << "save 60 10000\n"
    << "maxmemory 2gb\n"
    << "maxmemory-policy allkeys-lru\n"
    << "tcp-keepalive 300\n"
    // Not in the seed: a replica's first sync starts at once rather than after Redis's
    // default 5 s wait for more replicas, so `up` is ready in about 2 s.
    << "repl-diskless-sync-delay 0\n";
  return c.str();
}

// Every node answers, reports cluster_state:ok, knows all six nodes; every node's view has
// 3 masters serving slots and 3 replicas, none failing or still joining (gossip spreads the
// roles set by `--cluster create` a little after it returns); replicas' links are up.
// On false, *why says what is still missing.
bool cluster_ready(const std::vector<int>& ports, std::string* why) {
  for (int port : ports) {
    auto info = resp_command(port, {"CLUSTER", "INFO"});
    if (!info.ok()) {
      *why = "node " + std::to_string(port) + ": " + info.error().message;
      return false;
    }
    std::string state = info_field(*info, "cluster_state");
    if (state != "ok") {
      *why = "node " + std::to_string(port) + ": cluster_state:" + state;
      return false;
    }
    if (info_field(*info, "cluster_known_nodes") != std::to_string(ports.size())) {
      *why = "node " + std::to_string(port) + " knows " + info_field(*info, "cluster_known_nodes") + " nodes";
      return false;
    }
    auto nodes = resp_command(port, {"CLUSTER", "NODES"});
    if (!nodes.ok()) {
      *why = "node " + std::to_string(port) + ": " + nodes.error().message;
      return false;
    }
    int masters = 0, replicas = 0;
    for (const auto& n : parse_cluster_nodes(*nodes)) {
      if (n.failing || n.joining) continue;
      if (n.master && !n.slots.empty()) ++masters;
      if (n.replica) ++replicas;
    }
    if (masters != 3 || replicas != 3) {
      *why = "node " + std::to_string(port) + " sees " + std::to_string(masters) + " masters and " +
             std::to_string(replicas) + " replicas";
      return false;
    }
    auto repl = resp_command(port, {"INFO", "replication"});
    if (repl.ok() && info_field(*repl, "role") == "slave" && info_field(*repl, "master_link_status") != "up") {
      *why = "replica " + std::to_string(port) + " is still syncing with its master";
      return false;
    }
  }
  return true;
}

// SIGTERM to every pid at once, wait, then SIGKILL what is left. SIGTERM is repeated every
// 500 ms: Redis ignores it while it writes the first AOF after a sync ("Writing initial
// AOF, can't exit") and does not retry on its own.
void stop_pids(const std::map<int, pid_t>& pids, milliseconds grace, LocalClusterDown* report) {
  auto deadline = Clock::now() + grace;
  std::set<int> left;
  for (const auto& [port, pid] : pids) left.insert(port);
  auto next_term = Clock::now();
  while (!left.empty() && Clock::now() < deadline) {
    if (Clock::now() >= next_term) {
      for (int port : left) ::kill(pids.at(port), SIGTERM);
      next_term = Clock::now() + milliseconds(500);
    }
    std::this_thread::sleep_for(milliseconds(20));
    for (auto it = left.begin(); it != left.end();) {
      if (!is_redis_process(pids.at(*it))) {
        report->stopped.push_back(*it);
        it = left.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (int port : left) {
    ::kill(pids.at(port), SIGKILL);
    report->killed.push_back(port);
  }
  // SIGKILL is asynchronous: wait until they are gone so that their ports are free.
  auto kill_deadline = Clock::now() + milliseconds(5000);
  for (int port : left) {
    while (is_redis_process(pids.at(port)) && Clock::now() < kill_deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
}

void report(const LocalClusterOptions& options, const std::string& line) {
  if (options.progress) options.progress(line);
}

}  // namespace

std::string local_cluster_seed_url(const std::vector<int>& ports) {
  std::string url = "redis-cluster://";
  for (size_t i = 0; i < ports.size(); ++i) url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(ports[i]);
  return url;
}

Result<LocalClusterUp> local_cluster_up(const LocalClusterOptions& options) {
  // Inputs first: nothing is started unless everything needed is there.
  if (options.base_port < 1 || options.base_port + kLocalClusterNodes - 1 + 10000 > 65535) {
    return Error::make("base port " + std::to_string(options.base_port) +
                           " out of range: the nodes use base..base+5 and their cluster bus ports +10000, "
                           "so it must be 1..55530",
                       "usage");
  }
  if (options.node_timeout_ms < 100) {
    return Error::make("node timeout " + std::to_string(options.node_timeout_ms) + " ms is too small (at least 100)",
                       "usage");
  }
  std::string server = find_in_path("redis-server");
  if (server.empty()) return Error::make(std::string("redis-server not found in PATH; ") + kInstallHint, "missing");
  std::string cli = find_in_path("redis-cli");
  if (cli.empty()) return Error::make(std::string("redis-cli not found in PATH; ") + kInstallHint, "missing");

  std::error_code ec;
  fs::path dir = fs::weakly_canonical(fs::absolute(options.dir, ec), ec);
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    return Error::make(dir.string() + " exists and is not a directory", "usage");
  }
  std::vector<int> ports;
  for (int i = 0; i < kLocalClusterNodes; ++i) ports.push_back(options.base_port + i);

  LocalClusterUp result;
  result.ports = ports;
  result.seed_url = local_cluster_seed_url(ports);

  std::vector<NodeDir> existing = discover(dir);
  std::vector<int> to_start = ports;
  if (!existing.empty()) {
    std::vector<int> existing_ports, alive, dead;
    for (const auto& n : existing) {
      existing_ports.push_back(n.port);
      (n.alive ? alive : dead).push_back(n.port);
    }
    if (existing_ports != ports) {
      return Error::make(dir.string() + " holds a cluster on ports " + port_list(existing_ports) + ", not " +
                             port_list(ports) + ": use --base-port " + std::to_string(existing_ports.front()) +
                             ", another --dir, or discard it with `suoke cluster down --dir " + dir.string() +
                             " --purge`",
                         "conflict");
    }
    if (dead.empty()) {
      // Idempotent: the cluster of this dir runs already. Wait in case it is still forming.
      report(options, "the cluster in " + dir.string() + " is already running");
      result.already_running = true;
      std::string why;
      auto deadline = Clock::now() + options.ready_timeout;
      while (!cluster_ready(ports, &why)) {
        if (Clock::now() >= deadline) {
          return Error::make("the nodes in " + dir.string() + " are running but the cluster is not ready: " + why +
                                 " (see `suoke cluster status --dir " + dir.string() + "`)",
                             "timeout");
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
      return result;
    }
    // Nodes that are not running are started again from their data: after a crash, a kill or
    // `down`, they rejoin the cluster (a master whose slots were taken over comes back as a
    // replica). Their pidfiles are stale.
    std::vector<int> without_config;
    for (const auto& n : existing) {
      if (n.alive) continue;
      if (n.pid != 0) {
        fs::remove(n.path / "redis.pid", ec);
        report(options, "removed the stale pidfile of node " + std::to_string(n.port) + " (pid " +
                            std::to_string(n.pid) + " is not running)");
      }
      if (!fs::exists(n.path / "nodes.conf", ec)) without_config.push_back(n.port);
    }
    if (!without_config.empty()) {
      return Error::make(dir.string() + " holds stopped nodes but not a complete cluster (no nodes.conf for " +
                             port_list(without_config) + "): discard it with `suoke cluster down --dir " +
                             dir.string() + " --purge`, or use another --dir",
                         "stale");
    }
    to_start = dead;
    result.resumed = true;
  }

  for (int port : to_start) {
    if (!port_is_free(port)) {
      return Error::make("port " + std::to_string(port) + " is in use (the cluster needs " + port_list(ports) +
                             "): stop what listens there or pick another --base-port",
                         "port");
    }
    if (!port_is_free(port + 10000)) {
      return Error::make("port " + std::to_string(port + 10000) + " (the cluster bus port of node " +
                             std::to_string(port) + ") is in use: pick another --base-port",
                         "port");
    }
  }

  fs::create_directories(dir, ec);
  if (ec) return Error::make("cannot create " + dir.string() + ": " + ec.message(), "io");
  std::map<int, pid_t> started;
  // Undo on failure before the cluster exists: stop what was started; fresh node dirs hold
  // nothing worth keeping.
  auto abandon = [&](Error error) -> Error {
    LocalClusterDown ignored;
    stop_pids(started, milliseconds(5000), &ignored);
    if (!result.resumed) {
      for (int port : ports) fs::remove_all(dir / std::to_string(port), ec);
      fs::remove(dir, ec);  // only if empty
    }
    return error;
  };

  for (int port : to_start) {
    fs::path node_dir = dir / std::to_string(port);
    fs::create_directories(node_dir, ec);
    if (ec) return abandon(Error::make("cannot create " + node_dir.string() + ": " + ec.message(), "io"));
    std::ofstream(node_dir / "redis.conf", std::ios::trunc) << node_config(port, node_dir, options.node_timeout_ms);
    report(options, "starting node " + std::to_string(port));
    ProgramRun run = run_program({server, (node_dir / "redis.conf").string()}, milliseconds(10000));
    if (run.exit_code != 0) {
      return abandon(Error::make("redis-server for port " + std::to_string(port) + " failed to start" +
                                     (run.timed_out ? " (timed out)" : "") + ": " + run.output +
                                     log_tail(node_dir / "redis.log"),
                                 "start"));
    }
  }
  // Daemonized: the pidfile appears and the port answers a little after the launcher exits.
  for (int port : to_start) {
    fs::path node_dir = dir / std::to_string(port);
    auto deadline = Clock::now() + milliseconds(10000);
    for (;;) {
      pid_t pid = read_pidfile(node_dir / "redis.pid");
      if (pid > 0 && is_redis_process(pid)) started[port] = pid;
      if (started.count(port) && resp_command(port, {"PING"}, milliseconds(500)).ok()) break;
      if (Clock::now() >= deadline) {
        return abandon(Error::make("node " + std::to_string(port) + " did not come up within 10 s; its log:\n" +
                                       log_tail(node_dir / "redis.log"),
                                   "start"));
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
  }

  if (!result.resumed) {
    report(options, "creating the cluster: 3 masters + 3 replicas");
    std::vector<std::string> argv = {cli, "--cluster", "create"};
    for (int port : ports) argv.push_back("127.0.0.1:" + std::to_string(port));
    argv.insert(argv.end(), {"--cluster-replicas", "1", "--cluster-yes"});
    ProgramRun run = run_program(argv, milliseconds(60000));
    if (run.exit_code != 0 || run.output.find("All 16384 slots covered") == std::string::npos) {
      return abandon(Error::make("redis-cli --cluster create failed" +
                                     std::string(run.timed_out ? " (timed out after 60 s)" : "") + ":\n" + run.output,
                                 "create"));
    }
  } else {
    report(options, "resuming the cluster with its data in " + dir.string() + " (nodes " + port_list(to_start) + ")");
  }

  report(options, "waiting for cluster_state:ok on every node");
  std::string why;
  auto deadline = Clock::now() + options.ready_timeout;
  while (!cluster_ready(ports, &why)) {
    if (Clock::now() >= deadline) {
      // The nodes are left running so that they can be inspected.
      return Error::make("the cluster is not ready after " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options.ready_timeout).count()) +
                             " s: " + why + ". The nodes keep running: see `suoke cluster status --dir " +
                             dir.string() + "` and their logs in " + dir.string() +
                             "/<port>/redis.log; stop them with `suoke cluster down --dir " + dir.string() + "`",
                         "timeout");
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return result;
}

Result<LocalClusterStatus> local_cluster_status(const LocalClusterOptions& options) {
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(fs::absolute(options.dir, ec), ec);
  std::vector<NodeDir> found = discover(dir);
  if (found.empty()) {
    return Error::make("no cluster in " + dir.string() + " (start one with `suoke cluster up --dir " +
                           dir.string() + "`)",
                       "not_found");
  }
  LocalClusterStatus status;
  status.dir = dir.string();
  std::vector<int> ports;
  std::map<std::string, int> port_of_id;
  for (const auto& node : found) {
    ports.push_back(node.port);
    LocalNodeStatus s;
    s.port = node.port;
    s.pid = node.pid;
    s.alive = node.alive;
    auto nodes = resp_command(node.port, {"CLUSTER", "NODES"}, milliseconds(1000));
    if (!nodes.ok()) {
      s.error = nodes.error().message;
      status.nodes.push_back(s);
      continue;
    }
    s.reachable = true;
    for (const auto& line : parse_cluster_nodes(*nodes)) {
      port_of_id[line.id] = line.port;
      if (!line.myself) continue;
      s.node_id = line.id;
      s.role = line.master ? "master" : line.replica ? "replica" : "";
      s.slots = line.slots;
    }
    auto info = resp_command(node.port, {"CLUSTER", "INFO"}, milliseconds(1000));
    if (info.ok()) s.cluster_state = info_field(*info, "cluster_state");
    if (s.role == "replica") {
      auto repl = resp_command(node.port, {"INFO", "replication"}, milliseconds(1000));
      if (repl.ok()) {
        s.master_port = std::atoi(info_field(*repl, "master_port").c_str());
        s.master_link = info_field(*repl, "master_link_status");
      }
    }
    status.nodes.push_back(s);
  }
  status.ok = status.nodes.size() == static_cast<size_t>(kLocalClusterNodes);
  for (const auto& s : status.nodes) {
    if (!s.alive || !s.reachable || s.cluster_state != "ok") status.ok = false;
  }
  status.seed_url = local_cluster_seed_url(ports);
  return status;
}

Result<LocalClusterDown> local_cluster_down(const LocalClusterOptions& options, bool purge) {
  std::error_code ec;
  fs::path dir = fs::weakly_canonical(fs::absolute(options.dir, ec), ec);
  std::vector<NodeDir> found = discover(dir);
  if (found.empty()) {
    return Error::make("no cluster in " + dir.string() + " (nothing to stop)", "not_found");
  }
  LocalClusterDown result;
  std::map<int, pid_t> pids;
  for (const auto& node : found) {
    if (node.alive) {
      pids[node.port] = node.pid;
      report(options, "stopping node " + std::to_string(node.port) + " (pid " + std::to_string(node.pid) + ")");
    } else {
      result.not_running.push_back(node.port);
    }
  }
  stop_pids(pids, options.stop_timeout, &result);
  std::sort(result.stopped.begin(), result.stopped.end());
  for (const auto& node : found) {
    // Redis removes its pidfile on a clean shutdown; not after SIGKILL or a crash.
    fs::remove(node.path / "redis.pid", ec);
  }
  if (purge) {
    for (const auto& node : found) {
      fs::remove_all(node.path, ec);
      if (ec) return Error::make("cannot remove " + node.path.string() + ": " + ec.message(), "io");
    }
    fs::remove(dir, ec);  // only succeeds when nothing else is in it
    result.purged = true;
  }
  return result;
}

}  // namespace suoke::redis
