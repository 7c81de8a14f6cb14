// suoke_redis_bench: redis-benchmark's SET/GET load through suoke::redis::Client.
//
// Not a test (bench/sessions.sh runs it next to `redis-benchmark --cluster`). It emulates
// redis-benchmark's clients: --clients callers, each keeping --pipeline commands in flight
// (exec_async whose callback issues the caller's next command), until --requests commands
// have completed or --max-seconds has passed. Keys are "key:" + a 12-digit zero-padded number
// below --keyspace (redis-benchmark's `key:__rand_int__` with `-r <keyspace>`), values are
// --value-size bytes of 'x' (redis-benchmark's `-d`, default 3).
//
// Output, one line per test (machine-readable; bench/sessions.sh parses it):
//   suoke SET P=1 ops_per_sec=61234.56 requests=200000 completed=200000 errors=0 seconds=3.266 status=ok
// `errors` counts failed commands (Result errors: timeout, connection lost, ...) and error
// replies; the first few are printed to stderr. status is ok, errors, or timeout (the deadline
// passed before every command completed; ops_per_sec then covers the completed ones).
// Exit status: 0 when every test is ok, 3 when a test had errors or timed out, 1 on bad usage
// or a failed connect.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "redis/client.h"

namespace {

using Clock = std::chrono::steady_clock;
using suoke::redis::Client;
using suoke::redis::ClientOptions;
using suoke::redis::Command;
using suoke::redis::CommandOptions;
using suoke::redis::Value;

struct Options {
  std::string url = "redis-cluster://127.0.0.1:7001";
  int clients = 50;
  int64_t requests = 100000;
  int pipeline = 1;
  std::vector<std::string> tests{"set", "get"};
  std::size_t value_size = 3;
  uint64_t keyspace = 100000;
  double max_seconds = 600;
  int connections_per_node = 1;
  int timeout_ms = 5000;
};

void usage(std::FILE* out) {
  std::fprintf(out,
               "Usage: suoke_redis_bench [options]\n"
               "  --url URL               redis:// or redis-cluster:// (default redis-cluster://127.0.0.1:7001)\n"
               "  --clients N             concurrent callers (default 50; redis-benchmark -c)\n"
               "  --requests N            commands per test (default 100000; redis-benchmark -n)\n"
               "  --pipeline P            commands in flight per caller (default 1; redis-benchmark -P)\n"
               "  --tests LIST            comma-separated: set,get (default set,get; redis-benchmark -t)\n"
               "  --value-size B          SET value size in bytes (default 3; redis-benchmark -d)\n"
               "  --keyspace K            keys key:000000000000 .. K-1 (default 100000; redis-benchmark -r)\n"
               "  --max-seconds S         deadline per test (default 600)\n"
               "  --connections-per-node C  ClientOptions::connections_per_node (default 1)\n"
               "  --timeout-ms MS         per-command timeout (default 5000)\n"
               "  -h, --help              this help\n");
}

[[noreturn]] void die_usage(const std::string& msg) {
  std::fprintf(stderr, "suoke_redis_bench: %s\n", msg.c_str());
  usage(stderr);
  std::exit(1);
}

int64_t parse_int(const std::string& flag, const std::string& v, int64_t min) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || n < min)
    die_usage(flag + " needs an integer >= " + std::to_string(min) + " (got '" + v + "')");
  return n;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    }
    std::string value;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else {
      if (i + 1 >= argc) die_usage(a + " needs a value");
      value = argv[++i];
    }
    if (a == "--url") {
      o.url = value;
    } else if (a == "--clients") {
      o.clients = static_cast<int>(parse_int(a, value, 1));
    } else if (a == "--requests") {
      o.requests = parse_int(a, value, 1);
    } else if (a == "--pipeline") {
      o.pipeline = static_cast<int>(parse_int(a, value, 1));
    } else if (a == "--value-size") {
      o.value_size = static_cast<std::size_t>(parse_int(a, value, 0));
    } else if (a == "--keyspace") {
      o.keyspace = static_cast<uint64_t>(parse_int(a, value, 1));
    } else if (a == "--max-seconds") {
      o.max_seconds = static_cast<double>(parse_int(a, value, 1));
    } else if (a == "--connections-per-node") {
      o.connections_per_node = static_cast<int>(parse_int(a, value, 1));
    } else if (a == "--timeout-ms") {
      o.timeout_ms = static_cast<int>(parse_int(a, value, 1));
    } else if (a == "--tests") {
      o.tests.clear();
      std::string_view rest = value;
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string t(rest.substr(0, comma));
        std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
        if (t != "set" && t != "get") die_usage("--tests: unknown test '" + t + "' (set, get)");
        o.tests.push_back(t);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (o.tests.empty()) die_usage("--tests needs at least one of set,get");
    } else {
      die_usage("unknown argument: " + a);
    }
  }
  return o;
}

// Stateless, so any thread can draw the key of command number `seq`.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Run {
  const Options& opt;
  Client& client;
  bool is_set;
  std::string value;
  CommandOptions cmd_options;

  std::atomic<int64_t> issued{0};
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> errors{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  Clock::time_point end;

  Run(const Options& o, Client& c, bool set) : opt(o), client(c), is_set(set), value(o.value_size, 'x') {
    cmd_options.timeout = std::chrono::milliseconds(o.timeout_ms);
  }

  Command make_command(int64_t seq) const {
    // "key:%012llu" without snprintf (which cost ~1000 instructions a command).
    uint64_t n = splitmix64(static_cast<uint64_t>(seq)) % opt.keyspace;
    char digits[20];
    int nd = 0;
    do {
      digits[nd++] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    std::string key = "key:";
    key.reserve(4 + std::max(12, nd));
    for (int i = nd; i < 12; ++i) key.push_back('0');
    while (nd > 0) key.push_back(digits[--nd]);
    if (is_set) return Command{"SET", std::move(key), value};
    return Command{"GET", std::move(key)};
  }

  // Issues the next command if any is left; returns false when none is.
  bool issue_next() {
    if (stop.load(std::memory_order_relaxed)) return false;
    int64_t seq = issued.fetch_add(1, std::memory_order_relaxed);
    if (seq >= opt.requests) return false;
    client.exec_async(
        make_command(seq), [this](suoke::Result<Value> r) { on_reply(std::move(r)); }, cmd_options);
    return true;
  }

  void on_reply(suoke::Result<Value> r) {
    if (!r.ok() || r.value().is_error()) {
      int64_t e = errors.fetch_add(1, std::memory_order_relaxed);
      if (e < 5) {
        std::fprintf(stderr, "suoke_redis_bench: %s error: %s\n", is_set ? "SET" : "GET",
                     r.ok() ? r.value().str.c_str() : r.error().message.c_str());
      }
    }
    int64_t done = completed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (done >= opt.requests) {
      std::lock_guard lock(mu);
      end = Clock::now();
      finished = true;
      cv.notify_one();
      return;
    }
    issue_next();
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_args(argc, argv);

  ClientOptions copts;
  copts.connections_per_node = opt.connections_per_node;
  auto connected = Client::connect(opt.url, copts);
  if (!connected.ok()) {
    std::fprintf(stderr, "suoke_redis_bench: connect %s: %s\n", opt.url.c_str(),
                 connected.error().message.c_str());
    return 1;
  }
  std::unique_ptr<Client> client = std::move(connected.value());

  // One command through the client before timing anything (connections to every master are
  // opened lazily or at connect; either way a failure here is a setup failure).
  if (auto r = client->exec({"SET", "key:000000000000", std::string(opt.value_size, 'x')}); !r.ok() ||
                                                                                        r.value().is_error()) {
    std::fprintf(stderr, "suoke_redis_bench: first SET failed: %s\n",
                 r.ok() ? r.value().str.c_str() : r.error().message.c_str());
    return 1;
  }

  bool all_ok = true;
  for (const auto& test : opt.tests) {
    auto run = std::make_unique<Run>(opt, *client, test == "set");
    const auto deadline = std::chrono::duration<double>(opt.max_seconds);
    const auto start = Clock::now();
    // Each caller starts with `pipeline` commands in flight; every completion issues the next.
    const int64_t initial = std::min<int64_t>(static_cast<int64_t>(opt.clients) * opt.pipeline, opt.requests);
    for (int64_t i = 0; i < initial; ++i) run->issue_next();

    bool timed_out = false;
    {
      std::unique_lock lock(run->mu);
      if (!run->cv.wait_for(lock, deadline, [&] { return run->finished; })) {
        timed_out = true;
        run->end = Clock::now();
      }
    }
    const auto end = run->end;
    const int64_t completed = std::min(run->completed.load(), opt.requests);
    if (timed_out) {
      // Stop issuing and wait (bounded) for what is in flight, so `run` outlives its callbacks.
      run->stop = true;
      const auto grace_end = Clock::now() + std::chrono::milliseconds(opt.timeout_ms) * 2 + std::chrono::seconds(10);
      while (run->completed.load() < std::min(run->issued.load(), opt.requests) && Clock::now() < grace_end)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      if (run->completed.load() < std::min(run->issued.load(), opt.requests)) {
        std::fprintf(stderr, "suoke_redis_bench: commands still in flight after the deadline; exiting\n");
        std::fflush(stdout);
        std::_Exit(3);
      }
    }
    const double seconds = std::chrono::duration<double>(end - start).count();
    const double ops = seconds > 0 ? static_cast<double>(completed) / seconds : 0.0;
    const int64_t errors = run->errors.load();
    const char* status = timed_out ? "timeout" : (errors > 0 ? "errors" : "ok");
    if (timed_out || errors > 0) all_ok = false;
    std::string name = test == "set" ? "SET" : "GET";
    std::printf("suoke %s P=%d ops_per_sec=%.2f requests=%lld completed=%lld errors=%lld seconds=%.3f status=%s\n",
                name.c_str(), opt.pipeline, ops, static_cast<long long>(opt.requests),
                static_cast<long long>(completed), static_cast<long long>(errors), seconds, status);
    std::fflush(stdout);
  }
  return all_ok ? 0 : 3;
}
