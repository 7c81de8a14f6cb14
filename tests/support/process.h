// Child processes for integration tests: start `suoke ...`, read its stdout line by line,
// signal it, wait for it. POSIX only.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

extern char** environ;

namespace suoke::testing {

class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (out_fd_ >= 0) ::close(out_fd_);
  }

  // stdout is captured; stderr is inherited so failures show in the test log.
  bool start(const std::vector<std::string>& argv) {
    int fds[2];
    if (::pipe(fds) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      pid_ = -1;
      return false;
    }
    out_fd_ = fds[0];
    return true;
  }

  // Reads stdout until a line matches `pattern`; returns the match (group access) or nullopt.
  std::optional<std::smatch> wait_for_line(const std::string& pattern, std::chrono::milliseconds timeout,
                                           std::string* line_out) {
    std::regex re(pattern);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      size_t nl;
      while ((nl = pending_.find('\n')) != std::string::npos) {
        *line_out = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        output_ += *line_out + "\n";
        std::smatch m;
        if (std::regex_search(*line_out, m, re)) return m;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buf[4096];
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      pending_.append(buf, static_cast<size_t>(n));
    }
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits for exit; returns the exit code, or 128+signal when killed.
  int wait() {
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int exit_code_ = -1;
  std::string pending_;
  std::string output_;
};

// Runs a command to completion, returning its exit code and combined output.
inline int run_command(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output->append(buf, n);
  int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A finished child with its peak resident set size (ru_maxrss from wait4/wait3, KiB on Linux).
struct MeasuredRun {
  int exit_code = -1;  // 128+signal when killed
  std::string output;  // stdout + stderr
  long max_rss_kb = 0;
};

// Runs argv (no shell) with `extra_env` ("NAME=value") added to the environment, captures
// stdout and stderr, and reports the command's own peak RSS.
//
// Why through GNU time (/usr/bin/time, Debian package `time`, in scripts/install-deps.sh):
// Linux starts a process's ru_maxrss at the resident size of the memory it had before execve
// (after fork: every page the test process had resident; after posix_spawn's vfork: the test
// process's whole peak), and the maximum survives exec. A command forked by a 1 MB process
// whose rusage that process reads with wait3 reports its own peak; one forked by the test
// process (tens of MB under ASan) would report the test's. GNU time reads the same
// rusage.ru_maxrss with wait3 and writes it (%M) to a file we read.
inline MeasuredRun run_measured(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {}) {
  MeasuredRun run;
  char rss_path[] = "/tmp/suoke-maxrss-XXXXXX";
  int rss_fd = ::mkstemp(rss_path);
  if (rss_fd < 0) {
    run.output = "mkstemp failed";
    return run;
  }
  ::close(rss_fd);
  std::vector<std::string> full = {"/usr/bin/time", "-f", "%M", "-o", rss_path};
  full.insert(full.end(), argv.begin(), argv.end());
  std::vector<std::string> env_strings(extra_env);
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : full) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::unlink(rss_path);
    return run;
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::execve(args[0], args.data(), env.data());
    static const char kMissing[] = "run_measured: cannot run /usr/bin/time (Debian package time)\n";
    (void)!::write(2, kMissing, sizeof kMissing - 1);
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    ::unlink(rss_path);
    run.output = "fork failed";
    return run;
  }
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    run.output.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (FILE* f = std::fopen(rss_path, "r")) {
    // GNU time writes "Command exited with non-zero status N" first when the command failed.
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      char* end = nullptr;
      long v = std::strtol(line, &end, 10);
      if (end != line && (*end == '\n' || *end == '\0')) run.max_rss_kb = v;
    }
    std::fclose(f);
  }
  ::unlink(rss_path);
  return run;
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "suoke-test-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace suoke::testing
