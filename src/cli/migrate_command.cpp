// `suoke migrate --from URL --to URL`: copies a Redis (standalone or cluster) into another
// (typically a Redis Cluster) with DUMP/RESTORE; the work is in src/migrate/migrate.cpp, this
// file parses flags, prints progress on stderr and the final report.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/signals.h"
#include "migrate/migrate.h"

namespace suoke::cli {
namespace {

constexpr const char* kMigrateSummary =
    "Copies every key of the source into the target: SCAN (never KEYS) on the source, then per batch\n"
    "DUMP + PEXPIRETIME (PTTL on Redis < 7) pipelined from the source and RESTORE key ttl payload\n"
    "[REPLACE] ABSTTL pipelined to the target, each key routed to its master when the target is a\n"
    "cluster. Every type (streams with their consumer groups too), binary keys and values.\n"
    "A standalone source is read with one read-only EVAL per batch (MEMORY USAGE, DUMP, PEXPIRETIME);\n"
    "where EVAL is denied, with pipelined commands.\n"
    "A key with an expiry keeps it (absolute, so the copy time is not added); a key whose expiry\n"
    "passes during the copy is never recreated (counted as expired); a key deleted between SCAN\n"
    "and DUMP is counted as vanished. Safe to re-run: with --conflict replace (the default) a second\n"
    "run gives the same target, lists are not doubled.\n"
    "Typed copy: keys whose MEMORY USAGE exceeds --big-key-bytes, DUMP payloads above the target's\n"
    "proto-max-bulk-len, payloads the target rejects (its RDB version is older than the source's) and,\n"
    "with --typed, every key are copied by type in chunks instead (counted as typed).\n"
    "--parallel N writers copy batches at once while the source is scanned ahead; --max-rate caps keys/s.\n"
    "Checkpoint: the SCAN position and the counts are saved every second (atomically) to --checkpoint,\n"
    "by default suoke-migrate-<from>-to-<to>.checkpoint in the current directory; it covers only keys\n"
    "whose batch was completely written. After Ctrl-C or a kill, run the same command with --resume.\n"
    "The file is removed when the copy completes. Keys that failed are not retried by --resume.\n"
    "Several databases (--db all) go into one keyspace (a cluster has only db 0) only with\n"
    "a --key-prefix holding {db}, e.g. 'db{db}:'; otherwise the run is refused before anything is\n"
    "written.\n"
    "Before anything is written it refuses: an unreachable host, a wrong password, and a source or\n"
    "target that is a cluster node given as redis:// (use redis-cluster://host:port[,host:port]).\n"
    "Progress on stderr: a live bar on a terminal, otherwise a line every --progress-interval seconds;\n"
    "the report to stdout (--json: one JSON object with migrated, skipped, expired, vanished, failed,\n"
    "typed, filtered, bytes, seconds, keys_per_sec).\n"
    "Exit 0 when no key failed; 1 when some failed, the run stopped early or the source holds no key\n"
    "(matching --match): an empty source is more likely a wrong URL or --db than a finished job;\n"
    "2 for bad usage.\n"
    "Ctrl-C stops after the batches in flight and saves the checkpoint (no half-written key).";

const std::vector<FlagSpec>& migrate_flags() {
  static const std::vector<FlagSpec> flags = {
      {"from", true, "source URL: redis://[user:pass@]host:port[/db] or redis-cluster://host:port,...", ""},
      {"to", true, "target URL: redis-cluster://host:port,... or redis://...", ""},
      {"match", true, "only keys matching this SCAN MATCH pattern", "*"},
      {"types", true, "only keys of these types: comma-separated string,list,set,zset,hash,stream", "all"},
      {"batch", true, "SCAN COUNT and keys per pipeline (1..100000)", "500"},
      {"parallel", true, "batches copied at once, each by its own writer (1..64)", "4"},
      {"max-rate", true, "at most this many keys per second (0: no limit)", "0"},
      {"conflict", true, "a key that exists in the target: replace | skip | fail", "replace"},
      {"db", true, "source database number, or all (standalone source; a cluster has only db 0)", "from the URL"},
      {"key-prefix", true, "prepend to every key in the target; {db} becomes the source database", ""},
      {"typed", false, "copy every key by type (chunked) instead of DUMP/RESTORE", ""},
      {"big-key-bytes", true, "keys using more memory than this are copied by type (0: never)", "8388608"},
      {"checkpoint", true, "file for the progress checkpoint", "suoke-migrate-<from>-to-<to>.checkpoint"},
      {"resume", false, "continue from the checkpoint of an interrupted run with the same flags", ""},
      {"dry-run", false, "read and count only; write nothing", ""},
      {"json", false, "print the final report as JSON", ""},
      {"progress-interval", true, "seconds between progress lines when stderr is not a terminal (0: none)", "2"},
      {"help", false, "show this help", ""},
  };
  return flags;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(b) / (1ull << 20));
  else if (b >= 1024) std::snprintf(buf, sizeof buf, "%.1f kB", static_cast<double>(b) / 1024);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  return buf;
}

std::string eta_text(double seconds) {
  char buf[32];
  if (seconds < 0 || seconds > 360000) return "?";
  auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  }
  return buf;
}

// One status line: keys done (of DBSIZE), %, keys/s, MB/s, ETA, errors. The rates are over
// this process's run (a resumed run starts counting at the checkpoint).
std::string progress_line(const migrate::MigrateReport& r, bool bar) {
  const double secs = r.seconds - r.resumed_seconds;
  const uint64_t done = r.done();
  const double rate = secs > 0 ? static_cast<double>(done - r.resumed_done) / secs : 0;
  const double mbps = secs > 0 ? static_cast<double>(r.bytes) / (1 << 20) / std::max(r.seconds, 1e-9) : 0;
  char buf[256];
  std::string out;
  if (r.source_keys_known && r.source_keys > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(r.source_keys));
    if (bar) {
      constexpr int kWidth = 24;
      int filled = static_cast<int>(frac * kWidth);
      out = "[" + std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(kWidth - filled), '.') + "] ";
    }
    const double left = rate > 0 ? static_cast<double>(r.source_keys > done ? r.source_keys - done : 0) / rate : -1;
    std::snprintf(buf, sizeof buf, "%llu/%llu keys %.1f%% %.0f keys/s %.1f MB/s ETA %s, %llu errors",
                  static_cast<unsigned long long>(done), static_cast<unsigned long long>(r.source_keys), 100.0 * frac,
                  rate, mbps, eta_text(left).c_str(), static_cast<unsigned long long>(r.failed));
  } else {
    std::snprintf(buf, sizeof buf, "%llu keys %.0f keys/s %.1f MB/s, %llu errors", static_cast<unsigned long long>(done),
                  rate, mbps, static_cast<unsigned long long>(r.failed));
  }
  return out + buf;
}

std::string report_json(const migrate::MigrateReport& r, bool dry_run) {
  boost::json::object o;
  o["migrated"] = r.migrated;
  o["skipped"] = r.skipped;
  o["expired"] = r.expired;
  o["vanished"] = r.vanished;
  o["failed"] = r.failed;
  o["typed"] = r.typed;
  o["filtered"] = r.filtered;
  o["bytes"] = r.bytes;
  o["seconds"] = r.seconds;
  o["keys_per_sec"] = r.keys_per_sec();
  o["scanned"] = r.scanned;
  o["dry_run"] = dry_run;
  o["resumed"] = r.resumed;
  o["completed"] = r.aborted.empty() && !r.stopped;
  if (!r.aborted.empty()) o["aborted"] = r.aborted;
  boost::json::array errors;
  for (const auto& e : r.errors) errors.push_back(boost::json::string(e));
  o["errors"] = std::move(errors);
  return boost::json::serialize(o);
}

}  // namespace

int run_migrate(const std::vector<std::string>& args) {
  const auto& flags = migrate_flags();
  auto parsed = parse_args(args, flags);
  if (!parsed.ok()) {
    std::fprintf(stderr, "suoke migrate: %s\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->has("help")) {
    std::printf("%s", format_help("suoke migrate --from URL --to URL [flags]", kMigrateSummary, flags).c_str());
    return 0;
  }
  if (!parsed->positional.empty()) {
    std::fprintf(stderr, "suoke migrate: unexpected argument '%s'\n", parsed->positional[0].c_str());
    return 2;
  }
  if (!parsed->has("from") || !parsed->has("to")) {
    std::fprintf(stderr, "suoke migrate: --from URL and --to URL are required (see --help)\n");
    return 2;
  }
  migrate::MigrateOptions options;
  options.from = parsed->get("from");
  options.to = parsed->get("to");
  options.match = parsed->get("match");
  if (options.match == "*") options.match.clear();
  long batch = 500, interval = 2, parallel = 4, max_rate = 0, big_key_bytes = 8l << 20;
  if (!int_flag(*parsed, "migrate", "batch", 1, 100000, &batch) ||
      !int_flag(*parsed, "migrate", "progress-interval", 0, 3600, &interval) ||
      !int_flag(*parsed, "migrate", "parallel", 1, 64, &parallel) ||
      !int_flag(*parsed, "migrate", "max-rate", 0, 100000000, &max_rate) ||
      !int_flag(*parsed, "migrate", "big-key-bytes", 0, 1l << 40, &big_key_bytes)) {
    return 2;
  }
  options.batch = static_cast<std::size_t>(batch);
  options.parallel = static_cast<int>(parallel);
  options.max_rate = static_cast<double>(max_rate);
  options.big_key_bytes = static_cast<uint64_t>(big_key_bytes);
  options.typed = parsed->has("typed");
  if (parsed->get("db") == "all") {
    options.all_dbs = true;
  } else {
    long db = -1;
    if (!int_flag(*parsed, "migrate", "db", 0, 1 << 20, &db)) return 2;
    options.db = static_cast<int>(db);
  }
  options.key_prefix = parsed->get("key-prefix");
  if (parsed->has("types")) {
    std::string list = parsed->get("types");
    for (std::size_t pos = 0; pos <= list.size();) {
      std::size_t comma = std::min(list.find(',', pos), list.size());
      if (comma > pos) options.types.push_back(list.substr(pos, comma - pos));
      pos = comma + 1;
    }
  }
  auto conflict = migrate::parse_conflict(parsed->get("conflict", "replace"));
  if (!conflict.ok()) {
    std::fprintf(stderr, "suoke migrate: %s\n", conflict.error().message.c_str());
    return 2;
  }
  options.conflict = *conflict;
  options.checkpoint_path = parsed->has("checkpoint") ? parsed->get("checkpoint") : migrate::default_checkpoint_path(options);
  options.resume = parsed->has("resume");
  options.dry_run = parsed->has("dry-run");
  if (!options.resume && !options.dry_run && ::access(options.checkpoint_path.c_str(), F_OK) == 0) {
    std::fprintf(stderr,
                 "suoke migrate: starting from the beginning; the checkpoint %s of an earlier run is replaced "
                 "(--resume continues it instead)\n",
                 options.checkpoint_path.c_str());
  }
  const bool json = parsed->has("json");

  // Ctrl-C / SIGTERM: stop after the batch in flight and still print the report.
  static std::atomic<bool> stop{false};
  block_control_signals();
  std::thread([] {
    wait_for_control_signal();
    stop = true;
  }).detach();
  options.stop = &stop;

  // On a terminal a bar redrawn in place a few times a second; otherwise a line every
  // --progress-interval seconds (logs stay readable).
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto every = tty ? std::chrono::milliseconds(250) : std::chrono::milliseconds(interval * 1000);
  auto last = std::chrono::steady_clock::now();
  bool drawn = false;
  auto progress = [&](const migrate::MigrateReport& r) {
    if (interval <= 0) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last < every) return;
    last = now;
    if (tty) {
      std::fprintf(stderr, "\r\033[Kmigrate %s", progress_line(r, true).c_str());
      drawn = true;
    } else {
      std::fprintf(stderr, "migrate: %s\n", progress_line(r, false).c_str());
    }
  };
  auto result = migrate::run_migrate(options, progress);
  if (drawn) std::fprintf(stderr, "\n");
  if (!result.ok()) {
    if (json) {
      boost::json::object o{{"error", result.error().message}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    }
    std::fprintf(stderr, "suoke migrate: %s\n", result.error().message.c_str());
    return result.error().kind == "usage" ? 2 : 1;
  }
  const auto& r = *result;
  // Nothing to copy is reported as an error (the "empty source"): a wrong host, port or
  // --db is the likely cause, and a script must not take it for a completed migration.
  const bool empty_source = r.scanned == 0 && r.aborted.empty() && !r.stopped;
  if (empty_source) {
    std::fprintf(stderr, "suoke migrate: the source has no keys%s%s: nothing to migrate (check the URL and --db)\n",
                 options.match.empty() ? "" : " matching ", options.match.c_str());
  }
  for (const auto& e : r.errors) std::fprintf(stderr, "suoke migrate: failed: %s\n", e.c_str());
  if (!r.aborted.empty()) std::fprintf(stderr, "suoke migrate: stopped: %s\n", r.aborted.c_str());
  if (r.stopped || !r.aborted.empty()) {
    std::fprintf(stderr, "suoke migrate: %s; the keys copied so far are complete; continue with --resume (checkpoint %s)\n",
                 r.stopped ? "interrupted" : "stopped", options.checkpoint_path.c_str());
  }
  if (json) {
    std::printf("%s\n", report_json(r, options.dry_run).c_str());
  } else {
    std::printf("%s%llu migrated (%llu typed), %llu skipped, %llu expired, %llu vanished, %llu failed; %s in %.2f s (%.0f keys/s)\n",
                options.dry_run ? "dry run: " : "", static_cast<unsigned long long>(r.migrated),
                static_cast<unsigned long long>(r.typed),
                static_cast<unsigned long long>(r.skipped), static_cast<unsigned long long>(r.expired),
                static_cast<unsigned long long>(r.vanished), static_cast<unsigned long long>(r.failed),
                human_bytes(r.bytes).c_str(), r.seconds, r.keys_per_sec());
  }
  return r.failed == 0 && r.aborted.empty() && !r.stopped && !empty_source ? 0 : 1;
}

}  // namespace suoke::cli
