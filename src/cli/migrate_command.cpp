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
    "A key with an expiry keeps it (absolute, so the copy time is not added); a key whose expiry\n"
    "passes during the copy is never recreated (counted as expired); a key deleted between SCAN\n"
    "and DUMP is counted as vanished. Safe to re-run: with --conflict replace (the default) a second\n"
    "run gives the same target, lists are not doubled.\n"
    "Before anything is written it refuses: an unreachable host, a wrong password, and a source or\n"
    "target that is a cluster node given as redis:// (use redis-cluster://host:port[,host:port]).\n"
    "Progress goes to stderr every few seconds; the report to stdout (--json: one JSON object with\n"
    "migrated, skipped, expired, vanished, failed, bytes, seconds, keys_per_sec).\n"
    "Exit 0 when no key failed; 1 when some failed or the run stopped early; 2 for bad usage.\n"
    "Ctrl-C stops after the batch in flight (RESTORE is atomic: no half-written key).";

const std::vector<FlagSpec>& migrate_flags() {
  static const std::vector<FlagSpec> flags = {
      {"from", true, "source URL: redis://[user:pass@]host:port[/db] or redis-cluster://host:port,...", ""},
      {"to", true, "target URL: redis-cluster://host:port,... or redis://...", ""},
      {"match", true, "only keys matching this SCAN MATCH pattern", "*"},
      {"batch", true, "SCAN COUNT and keys per pipeline (1..100000)", "500"},
      {"conflict", true, "a key that exists in the target: replace | skip | fail", "replace"},
      {"db", true, "source database number (standalone source; a cluster has only db 0)", "from the URL"},
      {"dry-run", false, "read and count only; write nothing", ""},
      {"json", false, "print the final report as JSON", ""},
      {"progress-interval", true, "seconds between progress lines on stderr (0: none)", "2"},
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

void print_progress(const migrate::MigrateReport& r) {
  double rate = r.seconds > 0 ? static_cast<double>(r.done()) / r.seconds : 0;
  if (r.source_keys_known && r.source_keys > 0) {
    std::fprintf(stderr, "migrate: %llu of %llu keys (%.1f%%), %.0f keys/s, %s, %llu failed\n",
                 static_cast<unsigned long long>(r.done()), static_cast<unsigned long long>(r.source_keys),
                 100.0 * static_cast<double>(r.done()) / static_cast<double>(r.source_keys), rate,
                 human_bytes(r.bytes).c_str(), static_cast<unsigned long long>(r.failed));
  } else {
    std::fprintf(stderr, "migrate: %llu keys, %.0f keys/s, %s, %llu failed\n",
                 static_cast<unsigned long long>(r.done()), rate, human_bytes(r.bytes).c_str(),
                 static_cast<unsigned long long>(r.failed));
  }
}

std::string report_json(const migrate::MigrateReport& r, bool dry_run) {
  boost::json::object o;
  o["migrated"] = r.migrated;
  o["skipped"] = r.skipped;
  o["expired"] = r.expired;
  o["vanished"] = r.vanished;
  o["failed"] = r.failed;
  o["bytes"] = r.bytes;
  o["seconds"] = r.seconds;
  o["keys_per_sec"] = r.keys_per_sec();
  o["scanned"] = r.scanned;
  o["dry_run"] = dry_run;
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
  long batch = 500, db = -1, interval = 2;
  if (!int_flag(*parsed, "migrate", "batch", 1, 100000, &batch) || !int_flag(*parsed, "migrate", "db", 0, 1 << 20, &db) ||
      !int_flag(*parsed, "migrate", "progress-interval", 0, 3600, &interval)) {
    return 2;
  }
  options.batch = static_cast<std::size_t>(batch);
  options.db = static_cast<int>(db);
  auto conflict = migrate::parse_conflict(parsed->get("conflict", "replace"));
  if (!conflict.ok()) {
    std::fprintf(stderr, "suoke migrate: %s\n", conflict.error().message.c_str());
    return 2;
  }
  options.conflict = *conflict;
  options.dry_run = parsed->has("dry-run");
  const bool json = parsed->has("json");

  // Ctrl-C / SIGTERM: stop after the batch in flight and still print the report.
  static std::atomic<bool> stop{false};
  block_control_signals();
  std::thread([] {
    wait_for_control_signal();
    stop = true;
  }).detach();
  options.stop = &stop;

  auto last = std::chrono::steady_clock::now();
  auto progress = [&](const migrate::MigrateReport& r) {
    if (interval <= 0) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(interval)) return;
    last = now;
    print_progress(r);
  };
  auto result = migrate::run_migrate(options, progress);
  if (!result.ok()) {
    if (json) {
      boost::json::object o{{"error", result.error().message}};
      std::printf("%s\n", boost::json::serialize(o).c_str());
    }
    std::fprintf(stderr, "suoke migrate: %s\n", result.error().message.c_str());
    return result.error().kind == "usage" ? 2 : 1;
  }
  const auto& r = *result;
  if (r.scanned == 0 && r.aborted.empty()) {
    std::fprintf(stderr, "suoke migrate: the source has no keys%s%s: nothing to migrate\n",
                 options.match.empty() ? "" : " matching ", options.match.c_str());
  }
  for (const auto& e : r.errors) std::fprintf(stderr, "suoke migrate: failed: %s\n", e.c_str());
  if (!r.aborted.empty()) std::fprintf(stderr, "suoke migrate: stopped: %s\n", r.aborted.c_str());
  if (r.stopped) std::fprintf(stderr, "suoke migrate: interrupted; the keys copied so far are complete\n");
  if (json) {
    std::printf("%s\n", report_json(r, options.dry_run).c_str());
  } else {
    std::printf("%s%llu migrated, %llu skipped, %llu expired, %llu vanished, %llu failed; %s in %.2f s (%.0f keys/s)\n",
                options.dry_run ? "dry run: " : "", static_cast<unsigned long long>(r.migrated),
                static_cast<unsigned long long>(r.skipped), static_cast<unsigned long long>(r.expired),
                static_cast<unsigned long long>(r.vanished), static_cast<unsigned long long>(r.failed),
                human_bytes(r.bytes).c_str(), r.seconds, r.keys_per_sec());
  }
  return r.failed == 0 && r.aborted.empty() && !r.stopped ? 0 : 1;
}

}  // namespace suoke::cli
