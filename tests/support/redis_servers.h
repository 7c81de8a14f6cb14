// Real Redis servers for integration tests: a standalone redis-server (RedisServer) and a
// 6-node cluster of 3 masters + 3 replicas (RedisCluster), each on loopback in its own temp
// dir, plus redis_cli() to set up and inspect state. Needs Debian's redis-server and
// redis-tools (redis-cli). POSIX/Linux only; header-only so any test binary can use it.
//
// Failures to start throw std::runtime_error with the server's log tail: gtest reports an
// exception thrown in a test body as a failure of that test, with the message.
//
// The servers are children of the test process (not daemonized) and get SIGKILL when it dies
// (PR_SET_PDEATHSIG), so a crashed or aborted test leaves no redis-server behind. Create the
// fixtures on a thread that outlives them (the test's own thread): the death signal follows
// the thread that forked the server.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace suoke::testing {

namespace redis_detail {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// True when nothing listens on 127.0.0.1:port and it can be bound now. No SO_REUSEADDR, so
// a port in TIME_WAIT counts as busy: conservative is what we want when picking ports.
inline bool port_is_free(int port) {
  if (port <= 0 || port > 65535) return false;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A port the kernel considers free right now (bind to port 0, read it back, close).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot bind a free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// `count` consecutive free ports starting at a random base in [20000, 40000). Random so that
// test binaries running in parallel rarely probe the same range; below the kernel's
// ephemeral range (32768+ on Linux) for most of it; and at most 50000, so a cluster node's
// bus port (port + 10000) is valid. With `cluster_bus`, port + 10000 must be free as well.
inline int free_port_range(int count, bool cluster_bus) {
  std::random_device rd;
  std::mt19937 rng(rd() ^ static_cast<unsigned>(::getpid()));
  std::uniform_int_distribution<int> pick(20000, 40000 - count);
  for (int attempt = 0; attempt < 500; ++attempt) {
    int base = pick(rng);
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      ok = port_is_free(base + i) && (!cluster_bus || port_is_free(base + i + 10000));
    }
    if (ok) return base;
  }
  throw std::runtime_error("no range of " + std::to_string(count) + " free ports in 20000-40000");
}

// Runs argv (no shell: arguments are passed as they are) and returns its stdout; stderr goes
// to /dev/null unless `merge_stderr`. *exit_code gets the exit status (-1 if it could not run).
inline std::string run_capture(const std::vector<std::string>& argv, int* exit_code = nullptr,
                               bool merge_stderr = false) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    if (exit_code) *exit_code = -1;
    return {};
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec: the test may have threads.
    ::dup2(fds[1], 1);
    if (merge_stderr) {
      ::dup2(fds[1], 2);
    } else {
      int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) ::dup2(devnull, 2);
    }
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  if (pid < 0) {
    ::close(fds[0]);
    if (exit_code) *exit_code = -1;
    return out;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// One PING over a fresh connection, without redis-cli (this is polled many times during
// startup; a process per poll would be slow). True for "+PONG" and for "-NOAUTH" (the server
// is serving, it just wants a password), false while it is down or "-LOADING".
inline bool answers_ping(int port, milliseconds timeout = milliseconds(500)) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const char ping[] = "*1\r\n$4\r\nPING\r\n";
    if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof ping - 1)) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
        char buf[128];
        ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
          std::string reply(buf, static_cast<size_t>(n));
          ok = reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
        }
      }
    }
  }
  ::close(fd);
  return ok;
}

inline std::string read_tail(const std::string& path, size_t max_bytes = 2000) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

inline std::string make_temp_dir(const char* prefix) {
  std::string templ = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed for " + templ);
  return templ;
}

// Starts `redis-server <conf>` in the foreground as a child that dies with this process.
inline pid_t spawn_server(const std::string& conf_path) {
  std::string exe = "redis-server";
  std::vector<char*> args = {exe.data(), const_cast<char*>(conf_path.c_str()), nullptr};
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl took effect
    int devnull = ::open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      ::dup2(devnull, 0);
      ::dup2(devnull, 1);  // the server logs to its logfile
    }
    ::setpgid(0, 0);  // Ctrl-C on a test run goes to the test, which then cleans up
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// True once `pid` has exited (reaped here).
inline bool reap(pid_t pid, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

// SIGTERM, then SIGKILL if it has not exited within `grace`.
inline void stop_pid(pid_t pid, milliseconds grace) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (!reap(pid, grace)) {
    ::kill(pid, SIGKILL);
    reap(pid, milliseconds(5000));
  }
}

// "key:value" from INFO / CLUSTER INFO output, or "".
inline std::string info_field(const std::string& info, const std::string& key) {
  std::istringstream in(info);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  }
  return {};
}

}  // namespace redis_detail

// `redis-cli -h 127.0.0.1 -p <port> <args...>` and its stdout (raw replies are printed as
// redis-cli prints them to a pipe: no type annotations, one line per element). Pass options
// first, e.g. redis_cli(port, "--user", "app", "--pass", "pw", "--no-auth-warning", "GET", "k")
// or redis_cli(port, "-c", "SET", "k", "v") to follow cluster redirects.
inline std::string redis_cli_args(int port, const std::vector<std::string>& args, int* exit_code = nullptr) {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port)};
  argv.insert(argv.end(), args.begin(), args.end());
  return redis_detail::run_capture(argv, exit_code);
}

namespace redis_detail {
inline std::string to_arg(const std::string& s) { return s; }
inline std::string to_arg(const char* s) { return s; }
inline std::string to_arg(std::string_view s) { return std::string(s); }
template <class N, class = std::enable_if_t<std::is_arithmetic_v<N>>>
std::string to_arg(N n) {
  return std::to_string(n);
}
}  // namespace redis_detail

// Arguments may be strings or numbers: redis_cli(port, "EXPIRE", "k", 10).
template <class... Args>
std::string redis_cli(int port, const Args&... args) {
  return redis_cli_args(port, std::vector<std::string>{redis_detail::to_arg(args)...});
}

// A standalone redis-server on 127.0.0.1:<free port> with no persistence, in a fresh temp dir.
class RedisServer {
 public:
  struct Options {
    // requirepass for the default user when `user` is empty; otherwise the ACL user's password.
    std::string password{};
    // An ACL user with all permissions (`user <name> on ><password> ~* &* +@all`). The default
    // user keeps no password unless extra_config says "user default off" or similar.
    std::string user{};
    // Lines appended to redis.conf last, so they override the defaults above them.
    std::vector<std::string> extra_config{};
  };

  RedisServer() : RedisServer(Options{}) {}
  explicit RedisServer(Options options) : options_(std::move(options)) {
    dir_ = redis_detail::make_temp_dir("suoke-redis");
    // The port is free when chosen; another process could take it before redis binds it, so
    // a failed start is retried on a new port.
    for (int attempt = 0;; ++attempt) {
      port_ = redis_detail::free_port();
      write_config();
      try {
        start();
        return;
      } catch (const std::runtime_error&) {
        if (attempt == 2 || redis_detail::port_is_free(port_)) {
          cleanup();
          throw;
        }
      }
    }
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  ~RedisServer() { cleanup(); }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  bool running() const { return pid_ > 0; }
  // redis://[user:password@]127.0.0.1:<port>
  std::string url() const {
    std::string auth;
    if (!options_.user.empty()) auth = options_.user + ":" + options_.password + "@";
    else if (!options_.password.empty()) auth = ":" + options_.password + "@";
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_);
  }
  // Arguments for redis_cli() that authenticate as the configured user, e.g.
  // redis_cli_args(s.port(), s.auth_args() + {"GET", "k"}) — see cli().
  std::vector<std::string> auth_args() const {
    std::vector<std::string> a;
    if (!options_.user.empty()) a = {"--user", options_.user};
    if (!options_.password.empty()) {
      a.insert(a.end(), {"--pass", options_.password, "--no-auth-warning"});
    }
    return a;
  }
  // redis-cli against this server, authenticated.
  template <class... Args>
  std::string cli(const Args&... args) const {
    std::vector<std::string> a = auth_args();
    (a.push_back(redis_detail::to_arg(args)), ...);
    return redis_cli_args(port_, a);
  }

  // kill -9: no shutdown, no save. The port and dir stay reserved for restart().
  void kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    redis_detail::reap(pid_, std::chrono::milliseconds(5000));
    pid_ = -1;
  }
  // SIGTERM (then SIGKILL after 5 s) and wait.
  void stop() {
    redis_detail::stop_pid(pid_, std::chrono::milliseconds(5000));
    pid_ = -1;
  }
  // Starts it again on the same port and dir (stopping it first if it runs); waits for PING.
  void restart() {
    if (pid_ > 0) stop();
    start();
  }

 private:
  void write_config() {
    std::ofstream conf(dir_ + "/redis.conf", std::ios::trunc);
    conf << "port " << port_ << "\n"
         << "bind 127.0.0.1\n"
         << "dir " << dir_ << "\n"
         << "logfile " << dir_ << "/redis.log\n"
         << "daemonize no\n"
         << "save \"\"\n"
         << "appendonly no\n";
    if (!options_.user.empty()) {
      conf << "user " << options_.user << " on >" << options_.password << " ~* &* +@all\n";
    } else if (!options_.password.empty()) {
      conf << "requirepass " << options_.password << "\n";
    }
    for (const auto& line : options_.extra_config) conf << line << "\n";
  }

  void start() {
    pid_ = redis_detail::spawn_server(dir_ + "/redis.conf");
    auto deadline = redis_detail::Clock::now() + std::chrono::seconds(10);
    while (!redis_detail::answers_ping(port_)) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server on port " + std::to_string(port_) +
                                 " exited at startup; log:\n" + redis_detail::read_tail(dir_ + "/redis.log"));
      }
      if (redis_detail::Clock::now() >= deadline) {
        kill9();
        throw std::runtime_error("redis-server on port " + std::to_string(port_) +
                                 " did not answer PING within 10 s; log:\n" +
                                 redis_detail::read_tail(dir_ + "/redis.log"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void cleanup() {
    if (pid_ > 0) stop();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      dir_.clear();
    }
  }

  Options options_;
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A Redis Cluster of 6 nodes on consecutive loopback ports: 3 masters with the slots split
// as redis-cli splits them, each with one replica. The constructor returns once every node
// reports cluster_state:ok, knows all 6 nodes and has the full slot map, and every replica's
// link to its master is up. Typical startup: 1-2 s.
class RedisCluster {
 public:
  struct Options {
    // cluster-node-timeout: how long a master may be unreachable before its replica takes over.
    int node_timeout_ms = 2000;
    // requirepass + masterauth on every node (redis-cli is given it for the setup).
    std::string password{};
    std::vector<std::string> extra_config{};
  };

  RedisCluster() : RedisCluster(Options{}) {}
  explicit RedisCluster(Options options) : options_(std::move(options)) {
    dir_ = redis_detail::make_temp_dir("suoke-redis-cluster");
    for (int attempt = 0;; ++attempt) {
      int base = redis_detail::free_port_range(kNodes, /*cluster_bus=*/true);
      ports_.clear();
      for (int i = 0; i < kNodes; ++i) ports_.push_back(base + i);
      try {
        start_all();
        create_cluster();
        return;
      } catch (const std::runtime_error&) {
        // Another process may have taken a probed port before redis bound it: try elsewhere.
        stop_all();
        if (attempt == 2) {
          remove_dir();
          throw;
        }
      }
    }
  }
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;
  ~RedisCluster() {
    stop_all();
    remove_dir();
  }

  static constexpr int kNodes = 6;

  // All six ports, in order (consecutive).
  const std::vector<int>& ports() const { return ports_; }
  int node_timeout_ms() const { return options_.node_timeout_ms; }
  const std::string& dir() const { return dir_; }
  // redis-cluster://127.0.0.1:P1,127.0.0.1:P2,... with every node (any one is enough to start).
  std::string seed_url() const {
    std::string url = "redis-cluster://";
    if (!options_.password.empty()) url += ":" + options_.password + "@";
    for (size_t i = 0; i < ports_.size(); ++i) {
      url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(ports_[i]);
    }
    return url;
  }
  bool running(int port) const { return pid_of(port) > 0; }

  // Ports of the current masters that are not flagged as failed, as seen by the first running
  // node; after a failover this includes the promoted replica. Sorted.
  std::vector<int> master_ports() const { return ports_with_role(true); }
  // Ports of the current replicas (not flagged as failed), sorted.
  std::vector<int> replica_ports() const { return ports_with_role(false); }
  // The port of the master `replica_port` replicates (from its INFO replication), or 0.
  int master_of(int replica_port) const {
    std::string info = cli(replica_port, "INFO", "replication");
    std::string p = redis_detail::info_field(info, "master_port");
    return p.empty() ? 0 : std::atoi(p.c_str());
  }

  // redis-cli against one node, authenticated when a password is set.
  template <class... Args>
  std::string cli(int port, const Args&... args) const {
    std::vector<std::string> a;
    if (!options_.password.empty()) a = {"--pass", options_.password, "--no-auth-warning"};
    (a.push_back(redis_detail::to_arg(args)), ...);
    return redis_cli_args(port, a);
  }

  // kill -9 one node: no shutdown, the cluster sees it fail after node_timeout_ms.
  void kill9(int port) {
    pid_t& pid = pid_ref(port);
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    redis_detail::reap(pid, std::chrono::milliseconds(5000));
    pid = -1;
  }
  // Starts a killed node again with its nodes.conf: it rejoins the cluster (as a replica if
  // its slots were taken over meanwhile). Waits for PING only; use wait_healthy() after.
  void restart(int port) {
    if (running(port)) kill9(port);
    start_node(index_of(port));
    wait_ping(index_of(port));
  }

  // Waits until every running node reports cluster_state:ok and 16384 slots ok, and every
  // running replica's master link is up. False on timeout.
  bool wait_healthy(std::chrono::milliseconds timeout) const {
    auto deadline = redis_detail::Clock::now() + timeout;
    for (;;) {
      if (healthy(/*expect_all_known=*/false)) return true;
      if (redis_detail::Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

 private:
  void start_all() {
    pids_.assign(kNodes, -1);
    for (int i = 0; i < kNodes; ++i) {
      std::string node_dir = dir_ + "/" + std::to_string(ports_[i]);
      std::filesystem::create_directories(node_dir);
      std::ofstream conf(node_dir + "/redis.conf", std::ios::trunc);
      conf << "port " << ports_[i] << "\n"
           << "bind 127.0.0.1\n"
           << "dir " << node_dir << "\n"
           << "logfile " << node_dir << "/redis.log\n"
           << "daemonize no\n"
           << "cluster-enabled yes\n"
           << "cluster-config-file nodes.conf\n"
           << "cluster-node-timeout " << options_.node_timeout_ms << "\n"
           << "save \"\"\n"
           << "appendonly no\n"
           // A replica's first sync starts at once instead of after the default 5 s wait
           // for more replicas; shutdown does not wait for lagging replicas.
           << "repl-diskless-sync-delay 0\n"
           << "shutdown-timeout 0\n";
      if (!options_.password.empty()) {
        conf << "requirepass " << options_.password << "\n"
             << "masterauth " << options_.password << "\n";
      }
      for (const auto& line : options_.extra_config) conf << line << "\n";
      conf.close();
      start_node(i);
    }
    for (int i = 0; i < kNodes; ++i) wait_ping(i);
  }

  void start_node(int i) {
    pids_[i] = redis_detail::spawn_server(dir_ + "/" + std::to_string(ports_[i]) + "/redis.conf");
  }

  void wait_ping(int i) {
    auto deadline = redis_detail::Clock::now() + std::chrono::seconds(10);
    while (!redis_detail::answers_ping(ports_[i])) {
      int status = 0;
      if (::waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
        pids_[i] = -1;
        throw std::runtime_error("cluster node on port " + std::to_string(ports_[i]) +
                                 " exited at startup; log:\n" + log_tail(ports_[i]));
      }
      if (redis_detail::Clock::now() >= deadline) {
        throw std::runtime_error("cluster node on port " + std::to_string(ports_[i]) +
                                 " did not answer PING within 10 s; log:\n" + log_tail(ports_[i]));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  void create_cluster() {
    std::vector<std::string> argv = {"redis-cli", "--cluster", "create"};
    for (int p : ports_) argv.push_back("127.0.0.1:" + std::to_string(p));
    argv.insert(argv.end(), {"--cluster-replicas", "1", "--cluster-yes"});
    if (!options_.password.empty()) argv.insert(argv.end(), {"-a", options_.password, "--no-auth-warning"});
    int code = 0;
    std::string out = redis_detail::run_capture(argv, &code, /*merge_stderr=*/true);
    if (code != 0 || out.find("All 16384 slots covered") == std::string::npos) {
      throw std::runtime_error("redis-cli --cluster create failed (exit " + std::to_string(code) + "):\n" + out);
    }
    auto deadline = redis_detail::Clock::now() + std::chrono::seconds(20);
    while (!healthy(/*expect_all_known=*/true)) {
      if (redis_detail::Clock::now() >= deadline) {
        std::string state;
        for (int p : ports_) state += "\n" + std::to_string(p) + ": " + cli(p, "CLUSTER", "INFO").substr(0, 200);
        throw std::runtime_error("cluster did not become healthy within 20 s:" + state);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // One line of CLUSTER NODES as seen by some node.
  struct NodeView {
    int port = 0;
    bool master = false;
    bool replica = false;
    bool failed = false;     // "fail": the cluster agreed it is down
    bool suspected = false;  // "fail?": this node cannot reach it
    bool has_slots = false;
  };

  std::vector<NodeView> view_of(int port) const {
    std::vector<NodeView> out;
    std::istringstream nodes(cli(port, "CLUSTER", "NODES"));
    std::string line;
    while (std::getline(nodes, line)) {
      // <id> <ip:port@cport> <flags> <master-id> <ping> <pong> <epoch> <link> [slots...]
      std::istringstream fields(line);
      std::string id, addr, flags, master_id, ping, pong, epoch, link, slot;
      if (!(fields >> id >> addr >> flags >> master_id >> ping >> pong >> epoch >> link)) continue;
      NodeView v;
      auto colon = addr.rfind(':');
      if (colon == std::string::npos) continue;
      v.port = std::atoi(addr.c_str() + colon + 1);
      // Flags are comma-separated: "myself,master", "slave", "master,fail?", "master,fail",
      // "handshake", "noaddr".
      std::istringstream flag_list(flags);
      std::string flag;
      while (std::getline(flag_list, flag, ',')) {
        if (flag == "master") v.master = true;
        if (flag == "slave") v.replica = true;
        if (flag == "fail" || flag == "handshake" || flag == "noaddr") v.failed = true;
        if (flag == "fail?") v.suspected = true;
      }
      v.has_slots = static_cast<bool>(fields >> slot);
      out.push_back(v);
    }
    return out;
  }

  // Every running node: cluster_state ok with all 16384 slots ok; every running replica's
  // master link up; and every running node's view of the cluster agrees with what each
  // running node says of itself (gossip lags behind CLUSTER REPLICATE and failovers), with
  // exactly 3 healthy masters owning slots. At setup also: all 6 nodes known, running, and
  // each master has its replica connected.
  bool healthy(bool expect_all_known) const {
    std::vector<std::string> roles(kNodes);
    for (int i = 0; i < kNodes; ++i) {
      if (pids_[i] <= 0) {
        if (expect_all_known) return false;
        continue;
      }
      std::string info = cli(ports_[i], "CLUSTER", "INFO");
      if (redis_detail::info_field(info, "cluster_state") != "ok") return false;
      if (redis_detail::info_field(info, "cluster_slots_ok") != "16384") return false;
      if (expect_all_known && redis_detail::info_field(info, "cluster_known_nodes") != "6") return false;
      std::string repl = cli(ports_[i], "INFO", "replication");
      roles[i] = redis_detail::info_field(repl, "role");
      if (roles[i] == "slave" && redis_detail::info_field(repl, "master_link_status") != "up") return false;
      if (expect_all_known && roles[i] == "master" && redis_detail::info_field(repl, "connected_slaves") != "1") {
        return false;
      }
    }
    for (int i = 0; i < kNodes; ++i) {
      if (pids_[i] <= 0) continue;
      int masters_with_slots = 0;
      for (const NodeView& v : view_of(ports_[i])) {
        if (v.master && v.has_slots && !v.failed && !v.suspected) ++masters_with_slots;
        for (int j = 0; j < kNodes; ++j) {
          if (pids_[j] <= 0 || ports_[j] != v.port) continue;
          if (v.failed || v.suspected) return false;
          if ((roles[j] == "master") != v.master || (roles[j] == "slave") != v.replica) return false;
        }
      }
      if (masters_with_slots != 3) return false;
    }
    return true;
  }

  // Ports of masters (or replicas) that are not agreed-failed, as the first running node sees them.
  std::vector<int> ports_with_role(bool masters) const {
    std::vector<int> out;
    for (int i = 0; i < kNodes; ++i) {
      if (pids_[i] <= 0) continue;
      for (const NodeView& v : view_of(ports_[i])) {
        if (!v.failed && (masters ? v.master : v.replica)) out.push_back(v.port);
      }
      std::sort(out.begin(), out.end());
      return out;
    }
    return out;
  }

  int index_of(int port) const {
    for (int i = 0; i < kNodes; ++i) {
      if (ports_[i] == port) return i;
    }
    throw std::runtime_error("port " + std::to_string(port) + " is not a node of this cluster");
  }
  pid_t pid_of(int port) const { return pids_[index_of(port)]; }
  pid_t& pid_ref(int port) { return pids_[index_of(port)]; }

  std::string log_tail(int port) const {
    return redis_detail::read_tail(dir_ + "/" + std::to_string(port) + "/redis.log");
  }

  void stop_all() {
    // SIGTERM to all first, then wait: stopping them one by one would let the survivors
    // start failovers and slow the shutdown.
    for (pid_t pid : pids_) {
      if (pid > 0) ::kill(pid, SIGTERM);
    }
    for (pid_t& pid : pids_) {
      if (pid > 0) redis_detail::stop_pid(pid, std::chrono::milliseconds(3000));
      pid = -1;
    }
  }

  void remove_dir() {
    if (dir_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }

  Options options_;
  std::string dir_;
  std::vector<int> ports_;
  std::vector<pid_t> pids_;
};

// True once `redis-cli --cluster check` through `port` finds every node agreeing on the slots
// and no slot left open, false after `timeout`. redis-cli refuses to reshard until then, and
// after a reshard the other masters learn the new owners by gossip.
inline bool wait_cluster_check_clean(int port, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int code = -1;
    std::string out = redis_detail::run_capture(
        {"redis-cli", "--cluster", "check", "127.0.0.1:" + std::to_string(port)}, &code, true);
    if (code == 0 &&
        out.find("[OK] All nodes agree about slots configuration.") != std::string::npos &&
        out.find("[WARNING]") == std::string::npos) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace suoke::testing
