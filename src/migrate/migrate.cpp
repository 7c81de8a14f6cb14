#include "migrate/migrate.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "redis/client.h"
#include "redis/url.h"

namespace suoke::migrate {
namespace {

using redis::Client;
using redis::Command;
using redis::CommandOptions;
using redis::Value;

constexpr std::size_t kMaxErrorExamples = 20;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void note_error(MigrateReport& report, std::string_view key, const std::string& message) {
  ++report.failed;
  if (report.errors.size() < kMaxErrorExamples) report.errors.push_back(escape_key(key) + ": " + message);
}

// INFO cluster says cluster_enabled:1 on a cluster node.
Result<bool> is_cluster_node(Client& client) {
  auto info = client.exec({"INFO", "cluster"});
  if (!info.ok()) return info.error();
  if (info->is_error()) return Error::make("INFO cluster failed: " + info->str, "redis");
  return info->str.find("cluster_enabled:1") != std::string::npos;
}

// COMMAND INFO PEXPIRETIME names the command on Redis >= 7.0 and is a nil entry before.
bool has_pexpiretime(Client& client) {
  auto r = client.exec({"COMMAND", "INFO", "PEXPIRETIME"});
  return r.ok() && r->is_array() && r->elements.size() == 1 && r->elements[0].is_array() &&
         !r->elements[0].elements.empty();
}

Result<std::unique_ptr<Client>> connect(const char* role, const std::string& url) {
  redis::ClientOptions co;
  co.connect_timeout = std::chrono::milliseconds(3000);
  auto c = Client::connect(url, co);
  if (!c.ok()) return Error::make(std::string(role) + ": " + c.error().message, c.error().kind);
  return c;
}

class Migrator {
 public:
  Migrator(const MigrateOptions& options, Client& source, Client& target, MigrateReport& report,
           const ProgressFn& progress)
      : options_(options), source_(source), target_(target), report_(report), progress_(progress) {}

  // false: stop scanning.
  bool copy_batch(const std::vector<std::string>& keys) {
    report_.scanned += keys.size();
    if (options_.before_read) options_.before_read(keys);
    // 1. Read: DUMP + PEXPIRETIME (or PTTL) per key, pipelined.
    std::vector<Command> reads;
    reads.reserve(keys.size() * 2);
    for (const auto& k : keys) {
      reads.push_back({"DUMP", k});
      reads.push_back({report_.used_pexpiretime ? "PEXPIRETIME" : "PTTL", k});
    }
    CommandOptions read_opts;
    read_opts.timeout = std::chrono::milliseconds(30'000);
    const int64_t read_start_ms = unix_ms_now();  // PTTL counts from a moment after this one
    auto replies = source_.exec_pipeline(std::move(reads), read_opts);

    // 2. Decide per key; build RESTOREs.
    std::vector<Command> writes;
    std::vector<std::size_t> write_keys;  // index into keys
    writes.reserve(keys.size());
    const int64_t now_ms = unix_ms_now();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto& dump = replies[2 * i];
      auto& ttl = replies[2 * i + 1];
      if (!dump.ok()) {
        note_error(report_, keys[i], "DUMP: " + dump.error().message);
        continue;
      }
      if (dump->is_error()) {
        note_error(report_, keys[i], "DUMP: " + dump->str);
        continue;
      }
      if (dump->is_null()) {
        ++report_.vanished;
        continue;
      }
      if (!ttl.ok() || ttl->is_error() || ttl->type != Value::Type::kInteger) {
        note_error(report_, keys[i],
                   std::string(report_.used_pexpiretime ? "PEXPIRETIME" : "PTTL") + ": " +
                       (!ttl.ok() ? ttl.error().message : ttl->is_error() ? ttl->str : "unexpected reply"));
        continue;
      }
      int64_t t = ttl->integer;
      int64_t abs_ms = 0;  // 0: no expiry
      if (t == -2) {  // gone (expired or deleted) after the DUMP: never recreate it
        ++report_.expired;
        continue;
      }
      if (t >= 0) {
        abs_ms = report_.used_pexpiretime ? t : read_start_ms + t;
        if (abs_ms <= now_ms) {
          ++report_.expired;
          continue;
        }
      }
      report_.bytes += dump->str.size();
      if (options_.dry_run) {
        ++report_.migrated;
        continue;
      }
      Command restore{"RESTORE", keys[i], std::to_string(abs_ms), std::move(dump->str)};
      if (options_.conflict == Conflict::kReplace) restore.push_back("REPLACE");
      if (abs_ms > 0) restore.push_back("ABSTTL");
      writes.push_back(std::move(restore));
      write_keys.push_back(i);
    }
    if (writes.empty()) return finish_batch();

    // 3. Write, pipelined; the cluster client routes each RESTORE to the key's master.
    CommandOptions write_opts;
    write_opts.timeout = std::chrono::milliseconds(30'000);
    // RESTORE ... REPLACE gives the same result when sent twice; without REPLACE a resend
    // could report our own first write as BUSYKEY, so it is left to the client's default.
    if (options_.conflict == Conflict::kReplace) write_opts.retry = CommandOptions::Retry::kIdempotent;
    auto results = target_.exec_pipeline(std::move(writes), write_opts);
    for (std::size_t j = 0; j < results.size(); ++j) {
      const std::string& key = keys[write_keys[j]];
      auto& r = results[j];
      if (!r.ok()) {
        note_error(report_, key, "RESTORE: " + r.error().message);
        continue;
      }
      if (r->is_error()) {
        if (r->str.rfind("BUSYKEY", 0) == 0) {
          if (options_.conflict == Conflict::kSkip) {
            ++report_.skipped;
            continue;
          }
          if (options_.conflict == Conflict::kFail) {
            note_error(report_, key, "exists in the target (--conflict fail)");
            if (report_.aborted.empty()) {
              report_.aborted = "key " + escape_key(key) + " already exists in the target (--conflict fail)";
            }
            continue;
          }
        }
        note_error(report_, key, "RESTORE: " + r->str);
        continue;
      }
      ++report_.migrated;
    }
    return finish_batch();
  }

 private:
  bool finish_batch() {
    report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (progress_) progress_(report_);
    if (!report_.aborted.empty()) return false;
    if (options_.stop && options_.stop->load()) {
      report_.stopped = true;
      return false;
    }
    return true;
  }

  const MigrateOptions& options_;
  Client& source_;
  Client& target_;
  MigrateReport& report_;
  const ProgressFn& progress_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

Result<Conflict> parse_conflict(std::string_view text) {
  if (text == "replace") return Conflict::kReplace;
  if (text == "skip") return Conflict::kSkip;
  if (text == "fail") return Conflict::kFail;
  return Error::make("--conflict: expected replace, skip or fail, got '" + std::string(text) + "'", "usage");
}

std::string escape_key(std::string_view key) {
  std::string out;
  out.reserve(key.size() + 2);
  out += '"';
  for (unsigned char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  out += '"';
  return out;
}

Result<std::string> url_with_db(std::string_view url, int db) {
  auto parsed = redis::parse_redis_url(url);
  if (!parsed.ok()) return parsed.error();
  if (parsed->scheme == redis::RedisUrl::Scheme::kCluster) {
    return Error::make("a cluster has only database 0; --db applies to a standalone source", "usage");
  }
  std::string s(url);
  std::size_t authority = s.find("://");
  authority = authority == std::string::npos ? 0 : authority + 3;
  std::size_t at = s.rfind('@');
  std::size_t from = at != std::string::npos && at >= authority ? at + 1 : authority;
  std::size_t path = s.find_first_of("/?#", from);
  if (path != std::string::npos) s.resize(path);
  return s + "/" + std::to_string(db);
}

Result<MigrateReport> run_migrate(const MigrateOptions& options, const ProgressFn& progress) {
  if (options.batch == 0) return Error::make("--batch must be at least 1", "usage");
  std::string from = options.from;
  if (options.db >= 0) {
    auto u = url_with_db(from, options.db);
    if (!u.ok()) return Error::make("--from: " + u.error().message, "usage");
    from = *u;
  }
  auto to_url = redis::parse_redis_url(options.to);
  if (!to_url.ok()) return Error::make("--to: " + to_url.error().message, "usage");
  auto from_url = redis::parse_redis_url(from);
  if (!from_url.ok()) return Error::make("--from: " + from_url.error().message, "usage");

  auto source = connect("source", from);
  if (!source.ok()) return source.error();
  auto target = connect("target", options.to);
  if (!target.ok()) return target.error();
  Client& src = **source;
  Client& dst = **target;

  // A cluster node reached through a plain redis:// URL sees only its own slots (and, as a
  // target, answers MOVED): refuse before anything is read or written.
  if (!src.is_cluster()) {
    auto c = is_cluster_node(src);
    if (!c.ok()) return Error::make("source: " + c.error().message, c.error().kind);
    if (*c) {
      return Error::make("source " + from_url->endpoints.at(0).to_string() +
                             " is a Redis Cluster node; give the cluster as redis-cluster://host:port[,host:port...]",
                         "usage");
    }
  }
  if (!dst.is_cluster()) {
    auto c = is_cluster_node(dst);
    if (!c.ok()) return Error::make("target: " + c.error().message, c.error().kind);
    if (*c) {
      return Error::make("target " + to_url->endpoints.at(0).to_string() +
                             " is a Redis Cluster node; give the cluster as redis-cluster://host:port[,host:port...]",
                         "usage");
    }
  }
  // The target must accept writes (a wrong ACL or a replica shows up here, not mid-run).
  if (!options.dry_run) {
    auto ping = dst.exec({"PING"});
    if (!ping.ok()) return Error::make("target: " + ping.error().message, ping.error().kind);
    if (ping->is_error()) return Error::make("target: PING: " + ping->str, "redis");
  }

  MigrateReport report;
  report.used_pexpiretime = !options.force_pttl && has_pexpiretime(src);
  if (!src.is_cluster()) {
    auto n = src.exec({"DBSIZE"});
    if (!n.ok()) return Error::make("source: " + n.error().message, n.error().kind);
    if (n->is_error()) return Error::make("source: DBSIZE: " + n->str, "redis");
    report.source_keys = static_cast<uint64_t>(n->integer);
    report.source_keys_known = true;
  }

  auto start = std::chrono::steady_clock::now();
  Migrator m(options, src, dst, report, progress);
  auto scanned = src.scan(options.match, options.batch, [&](const std::vector<std::string>& keys) {
    // SCAN COUNT is a hint: split what a node returns into pipelines of at most `batch` keys.
    for (std::size_t i = 0; i < keys.size(); i += options.batch) {
      std::size_t n = std::min(options.batch, keys.size() - i);
      std::vector<std::string> part(keys.begin() + static_cast<std::ptrdiff_t>(i),
                                    keys.begin() + static_cast<std::ptrdiff_t>(i + n));
      if (!m.copy_batch(part)) return false;
    }
    return true;
  });
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!scanned.ok() && report.aborted.empty()) report.aborted = "SCAN failed: " + scanned.error().message;
  return report;
}

}  // namespace suoke::migrate
