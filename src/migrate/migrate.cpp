#include "migrate/migrate.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "migrate/checkpoint.h"
#include "migrate/typed_copy.h"
#include "redis/client.h"
#include "redis/url.h"

namespace suoke::migrate {
namespace {

using redis::Client;
using redis::Command;
using redis::CommandOptions;
using redis::Value;

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxErrorExamples = 20;
constexpr std::chrono::milliseconds kStopPoll{100};
// What Redis accepts as one bulk argument by default, assumed when CONFIG GET is denied.
constexpr uint64_t kDefaultProtoMaxBulkLen = 512ull << 20;
// Reads a batch on a standalone source in one round trip. KEYS: the batch; ARGV: the
// big-key threshold in bytes (0: none), "1" for PEXPIRETIME ("0": PTTL), the reply budget in
// payload bytes. A flat reply, three entries per key (no table per key: cheaper for the
// source and the client): 0, "", 0 gone; 1, "", ttl too big to DUMP; 2, payload, ttl;
// 3, "", 0 not read (the budget was spent: a batch of large values is not held whole).
constexpr const char* kReadScript = R"lua(
local limit = tonumber(ARGV[1])
local ttl_cmd = ARGV[2] == '1' and 'PEXPIRETIME' or 'PTTL'
local budget = tonumber(ARGV[3])
local used = 0
local out = {}
local n = 0
for _, k in ipairs(KEYS) do
  local status, payload, ttl = 3, '', 0
  if used < budget then
    local size = 0
    if limit > 0 then size = redis.call('MEMORY', 'USAGE', k) end
    if size == false then
      status = 0
    elseif limit > 0 and size > limit then
      status, ttl = 1, redis.call(ttl_cmd, k)
    else
      local p = redis.call('DUMP', k)
      if p == false then
        status = 0
      else
        used = used + #p
        status, payload, ttl = 2, p, redis.call(ttl_cmd, k)
      end
    end
  end
  out[n + 1], out[n + 2], out[n + 3] = status, payload, ttl
  n = n + 3
end
return out
)lua";
constexpr int64_t kScriptVanished = 0, kScriptBig = 1, kScriptDumped = 2;
// What all writers together read per pass (each gets its share, at least 1 MiB): a writer's
// pass holds its payloads about three times (the reply, the RESTOREs, their send buffer).
constexpr uint64_t kReadBudgetAllWriters = 8ull << 20;

constexpr std::string_view kKnownTypes[] = {"string", "list", "set", "zset", "hash", "stream"};

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Keys per second as a schedule: each batch starts no earlier than its share of the rate
// allows, so no burst above the rate and no sleep longer than needed.
class RateLimiter {
 public:
  explicit RateLimiter(double per_second) : per_second_(per_second) {}

  // Waits until `n` more keys may go; false when `stopping` turned true meanwhile.
  bool acquire(std::size_t n, const std::function<bool()>& stopping) {
    if (per_second_ <= 0) return true;
    Clock::time_point at;
    {
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      at = std::max(next_, now);
      next_ = at + std::chrono::duration_cast<Clock::duration>(
                       std::chrono::duration<double>(static_cast<double>(n) / per_second_));
    }
    for (auto now = Clock::now(); now < at; now = Clock::now()) {
      if (stopping()) return false;
      std::this_thread::sleep_for(std::min<Clock::duration>(at - now, kStopPoll));
    }
    return true;
  }

 private:
  const double per_second_;
  std::mutex mu_;
  Clock::time_point next_{};
};

// INFO keyspace: "db3:keys=12,expires=0,avg_ttl=0" per database that has keys.
Result<std::vector<std::pair<int, uint64_t>>> keyspace(Client& client) {
  auto info = client.exec({"INFO", "keyspace"});
  if (!info.ok()) return info.error();
  if (info->is_error()) return Error::make("INFO keyspace failed: " + info->str, "redis");
  std::vector<std::pair<int, uint64_t>> out;
  std::size_t pos = 0;
  const std::string& s = info->str;
  while ((pos = s.find("db", pos)) != std::string::npos) {
    if (pos > 0 && s[pos - 1] != '\n') {
      pos += 2;
      continue;
    }
    int db = 0;
    unsigned long long keys = 0;
    if (std::sscanf(s.c_str() + pos, "db%d:keys=%llu", &db, &keys) == 2) out.emplace_back(db, keys);
    pos += 2;
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The target's proto-max-bulk-len (CONFIG GET); the default when CONFIG is not allowed.
uint64_t proto_max_bulk_len(Client& target) {
  auto r = target.exec({"CONFIG", "GET", "proto-max-bulk-len"});
  if (!r.ok() || (!r->is_array() && r->type != Value::Type::kMap)) return kDefaultProtoMaxBulkLen;
  if (r->elements.size() < 2) return kDefaultProtoMaxBulkLen;
  const auto& v = r->elements[1];
  if (v.type == Value::Type::kInteger) return static_cast<uint64_t>(v.integer);
  try {
    return std::stoull(v.str);
  } catch (...) {
    return kDefaultProtoMaxBulkLen;
  }
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
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

// One run over the source databases. The calling thread SCANs and queues batches; `parallel`
// writer threads each take a batch and copy it with their own pipelines (read the source, then
// write the target). Batches finish out of order; the checkpoint's SCAN position only moves
// past a batch once it and every batch before it are completely written, so a resume never
// skips a key that was not written.
class Run {
 public:
  Run(const MigrateOptions& options, Client& target, MigrateReport& report, Checkpoint& checkpoint,
      const ProgressFn& progress, uint64_t proto_max_bulk_len)
      : options_(options),
        target_(target),
        report_(report),
        checkpoint_(checkpoint),
        progress_(progress),
        proto_max_bulk_len_(proto_max_bulk_len),
        read_budget_(std::max<uint64_t>(1ull << 20, kReadBudgetAllWriters / static_cast<uint64_t>(
                                                                              std::max(1, options.parallel)))),
        limiter_(options.max_rate),
        seconds_before_(checkpoint.seconds),
        committed_(checkpoint.counts),
        last_save_(Clock::now()) {}

  bool stopping() const { return halt_.load() || (options_.stop != nullptr && options_.stop->load()); }

  // Copies one database of the source from `start`; true when its SCAN completed and every
  // batch was written.
  bool copy_database(Client& source, const std::string& key_prefix, redis::ScanPosition start) {
    {
      std::lock_guard lock(mu_);
      queue_.clear();
      done_.clear();
      uncommitted_ = {};
      next_seq_ = next_commit_ = 0;
      scan_done_ = false;
    }
    std::vector<std::thread> workers;
    for (int i = 0; i < std::max(1, options_.parallel); ++i) {
      workers.emplace_back([this, &source, &key_prefix] { work(source, key_prefix); });
    }
    const std::size_t batch = effective_batch();
    const std::size_t max_queued = 2 * static_cast<std::size_t>(std::max(1, options_.parallel));
    redis::ScanFilter filter;
    filter.match = options_.match;
    filter.count = batch;
    if (options_.types.size() == 1) filter.type = options_.types[0];
    auto scanned = source.scan_from(filter, start, [&](const std::vector<std::string>& keys,
                                                        const redis::ScanPosition& after) {
      // SCAN COUNT is a hint: split what a node returns into pipelines of at most `batch` keys;
      // the position after the reply goes with its last part.
      for (std::size_t i = 0; i < keys.size(); i += batch) {
        std::size_t n = std::min(batch, keys.size() - i);
        Batch b;
        b.keys.assign(keys.begin() + static_cast<std::ptrdiff_t>(i), keys.begin() + static_cast<std::ptrdiff_t>(i + n));
        if (i + n == keys.size()) b.after = after;
        std::unique_lock lock(mu_);
        // Ctrl-C sets options.stop without a notify: look again every 100 ms.
        while (!space_.wait_for(lock, kStopPoll, [&] { return queue_.size() < max_queued || stopping(); })) {
        }
        if (stopping()) return false;
        b.seq = next_seq_++;
        queue_.push_back(std::move(b));
        work_.notify_one();
      }
      return !stopping();
    });
    {
      std::lock_guard lock(mu_);
      scan_done_ = true;
    }
    work_.notify_all();
    for (auto& t : workers) t.join();
    std::lock_guard lock(mu_);
    if (!scanned.ok() && report_.aborted.empty()) {
      report_.aborted = "SCAN failed: " + scanned.error().message;
      halt_ = true;
    }
    if (!scanned.ok() || stopping()) return false;
    return next_commit_ == next_seq_;
  }

  // The current database is complete: the checkpoint moves on to the next one.
  void finish_database() {
    {
      std::lock_guard lock(mu_);
      ++checkpoint_.db_index;
      checkpoint_.position = {};
    }
    save(/*force=*/true);
  }

  // Saves now (force) or when the interval has passed since the last save.
  void save(bool force) {
    if (options_.checkpoint_path.empty() || options_.dry_run) return;
    std::unique_lock saving(save_mu_, std::defer_lock);
    if (force) {
      saving.lock();
    } else if (Clock::now() - last_save_.load() < options_.checkpoint_interval || !saving.try_lock()) {
      return;
    }
    Checkpoint snapshot;
    {
      std::lock_guard lock(mu_);
      snapshot = checkpoint_;
      snapshot.counts = committed_;
      snapshot.seconds = seconds_before_ + elapsed();
    }
    last_save_ = Clock::now();
    auto saved = save_checkpoint(options_.checkpoint_path, snapshot);
    if (!saved.ok()) {
      std::lock_guard lock(mu_);
      if (report_.aborted.empty()) report_.aborted = saved.error().message;
      halt_ = true;
    }
  }

  void finish_report() {
    std::lock_guard lock(mu_);
    report_.seconds = seconds_before_ + elapsed();
  }

 private:
  struct Batch {
    uint64_t seq = 0;
    std::vector<std::string> keys;
    std::optional<redis::ScanPosition> after;
  };
  struct BatchResult {
    CheckpointCounts counts;
    std::vector<std::string> errors;
    std::string abort;  // non-empty: stop the run (conflict=fail)
    bool incomplete = false;  // a typed copy was abandoned for Ctrl-C

    void fail(std::string_view key, const std::string& message) {
      ++counts.failed;
      if (errors.size() < kMaxErrorExamples) errors.push_back(escape_key(key) + ": " + message);
    }
  };
  // A key to copy by type, and why.
  struct TypedJob {
    std::size_t index;
    int64_t expire_at_ms;
    const char* reason;
  };

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // With --max-rate, batches small enough that the rate is smooth (about 10 per second).
  std::size_t effective_batch() const {
    std::size_t b = options_.batch;
    if (options_.max_rate > 0) b = std::min(b, std::max<std::size_t>(1, static_cast<std::size_t>(options_.max_rate / 10)));
    return b;
  }

  void work(Client& source, const std::string& key_prefix) {
    for (;;) {
      Batch b;
      {
        std::unique_lock lock(mu_);
        while (!work_.wait_for(lock, kStopPoll, [&] { return !queue_.empty() || scan_done_ || stopping(); })) {
        }
        if (stopping() || queue_.empty()) return;  // a batch left in the queue is not committed
        b = std::move(queue_.front());
        queue_.pop_front();
      }
      space_.notify_one();
      if (!limiter_.acquire(b.keys.size(), [this] { return stopping(); })) return;
      BatchResult r = copy_batch(source, key_prefix, b.keys);
      complete(b, std::move(r));
    }
  }

  void complete(Batch& b, BatchResult r) {
    {
      std::lock_guard lock(mu_);
      add_counts(report_, r.counts);
      for (auto& e : r.errors) {
        if (report_.errors.size() < kMaxErrorExamples) report_.errors.push_back(std::move(e));
      }
      if (!r.abort.empty()) {
        if (report_.aborted.empty()) report_.aborted = r.abort;
        halt_ = true;
      }
      // A batch abandoned half-way (Ctrl-C during a long typed copy) is never committed:
      // the resume copies it again.
      if (!r.incomplete) done_.emplace(b.seq, Done{r.counts, std::move(b.after)});
      for (auto it = done_.find(next_commit_); it != done_.end(); it = done_.find(next_commit_)) {
        // The parts of one SCAN reply are committed together, with the position after it:
        // counting a part before would count it twice when a resume scans the reply again.
        uncommitted_.add(it->second.counts);
        if (it->second.after) {
          committed_.add(uncommitted_);
          uncommitted_ = {};
          checkpoint_.position = std::move(*it->second.after);
        }
        done_.erase(it);
        ++next_commit_;
      }
      report_.seconds = seconds_before_ + elapsed();
      if (progress_) progress_(report_);
    }
    if (halt_) space_.notify_all();
    save(/*force=*/false);
  }

  static void add_counts(MigrateReport& r, const CheckpointCounts& c) {
    r.scanned += c.scanned;
    r.migrated += c.migrated;
    r.typed += c.typed;
    r.skipped += c.skipped;
    r.expired += c.expired;
    r.vanished += c.vanished;
    r.failed += c.failed;
    r.filtered += c.filtered;
    r.bytes += c.bytes;
  }

  // Runs kReadScript over `keys`. Per key: vanished (settled), big (TTL only), or DUMP + TTL;
  // keys past the script's reply budget are left for the next pass (true: the script ran). An
  // error reply (EVAL denied, scripting disabled, a read-only replica refusing it) turns the
  // script off for the rest of the run; a transport error leaves this batch to the pipelines.
  bool read_by_script(Client& source, const std::vector<std::string>& keys, bool pexpiretime,
                      const CommandOptions& read_opts, BatchResult& out, std::vector<char>& settled,
                      std::vector<char>& big, std::vector<char>& by_script, std::vector<Result<Value>>& values,
                      std::vector<int>& dump_at, std::vector<int>& ttl_at) {
    Command eval;
    eval.reserve(keys.size() + 6);
    eval.push_back("EVAL");
    eval.push_back(pexpiretime ? std::string("#!lua flags=no-writes\n") + kReadScript : std::string(kReadScript));
    eval.push_back(std::to_string(keys.size()));
    eval.insert(eval.end(), keys.begin(), keys.end());
    eval.push_back(std::to_string(options_.big_key_bytes));
    eval.push_back(pexpiretime ? "1" : "0");
    eval.push_back(std::to_string(read_budget_));
    auto r = source.exec(std::move(eval), read_opts);
    if (!r.ok()) return false;
    if (r->is_error() || !r->is_array() || r->elements.size() != 3 * keys.size()) {
      script_unusable_ = true;
      return false;
    }
    values.reserve(keys.size() * 2);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto& status_value = r->elements[3 * i];
      if (status_value.type != Value::Type::kInteger) continue;
      const int64_t status = status_value.integer;
      if (status == kScriptVanished) {
        ++out.counts.vanished;
        settled[i] = 1;
      } else if (status == kScriptBig) {
        big[i] = 1;
        by_script[i] = 1;
        ttl_at[i] = static_cast<int>(values.size());
        values.emplace_back(std::move(r->elements[3 * i + 2]));
      } else if (status == kScriptDumped) {
        by_script[i] = 1;
        dump_at[i] = static_cast<int>(values.size());
        values.emplace_back(std::move(r->elements[3 * i + 1]));
        ttl_at[i] = static_cast<int>(values.size());
        values.emplace_back(std::move(r->elements[3 * i + 2]));
      }
      // kScriptNotRead (budget spent) or an unexpected shape: the next pass reads it.
    }
    return true;
  }

  // Copies a batch a pass at a time: a pass reads DUMP payloads up to read_budget_ bytes
  // and leaves the other keys to the next one, so a batch of large values (500 x 1 MB) is
  // never held whole. A stop between passes leaves the batch incomplete (not committed).
  BatchResult copy_batch(Client& source, const std::string& key_prefix, const std::vector<std::string>& keys) {
    BatchResult out;
    out.counts.scanned = keys.size();
    if (options_.before_read) options_.before_read(keys);
    std::vector<std::string> pass = keys;
    while (!pass.empty()) {
      std::vector<std::string> later;
      copy_pass(source, key_prefix, pass, out, later);
      if (later.empty() || out.incomplete) break;
      if (options_.stop != nullptr && options_.stop->load()) {  // Ctrl-C (an abort finishes the batch)
        out.incomplete = true;
        break;
      }
      pass = std::move(later);
    }
    return out;
  }

  // One pass of copy_batch over `keys`; the keys past the pass's read budget go to `later`.
  void copy_pass(Client& source, const std::string& key_prefix, const std::vector<std::string>& keys,
                 BatchResult& out, std::vector<std::string>& later) {
    CheckpointCounts& c = out.counts;
    const std::size_t n = keys.size();
    std::vector<char> settled(n, 0);  // counted already (vanished, filtered, failed) or left for later
    std::vector<char> big(n, 0);
    CommandOptions read_opts;
    read_opts.timeout = std::chrono::milliseconds(30'000);

    const bool pexpiretime = report_.used_pexpiretime;
    const int64_t read_start_ms = unix_ms_now();  // PTTL counts from a moment after this one

    // 0. A standalone source reads the whole batch in one script (MEMORY USAGE, then DUMP +
    // PEXPIRETIME/PTTL of the keys under --big-key-bytes): one command instead of three per
    // key, a third of the source's and the client's work. Keys it leaves (its reply budget
    // spent) wait for the next pass; sources where it cannot run (EVAL denied, a cluster) take
    // the pipelines below.
    std::vector<Result<Value>> script_values;
    std::vector<int> dump_at(n, -1), ttl_at(n, -1);  // index into script_values or replies
    std::vector<char> by_script(n, 0);
    const bool want_type = options_.types.size() > 1;
    if (!source.is_cluster() && !options_.typed && !want_type && !script_unusable_.load()) {
      if (read_by_script(source, keys, pexpiretime, read_opts, out, settled, big, by_script, script_values, dump_at,
                         ttl_at)) {
        for (std::size_t i = 0; i < n; ++i) {
          if (!settled[i] && !by_script[i]) {
            later.push_back(keys[i]);
            settled[i] = 1;
          }
        }
      }
    }

    // 1. TYPE (several --types) and MEMORY USAGE (big keys are not DUMPed whole).
    const bool want_size = !options_.typed && options_.big_key_bytes > 0;
    std::vector<std::size_t> probed;
    std::vector<uint64_t> memory_usage(n, 0);  // MEMORY USAGE; 0: unknown
    for (std::size_t i = 0; i < n; ++i) {
      if (!settled[i] && !by_script[i]) probed.push_back(i);
    }
    if ((want_type || want_size) && !probed.empty()) {
      std::vector<Command> probes;
      probes.reserve(probed.size() * 2);
      for (std::size_t i : probed) {
        if (want_type) probes.push_back({"TYPE", keys[i]});
        if (want_size) probes.push_back({"MEMORY", "USAGE", keys[i]});
      }
      auto replies = source.exec_pipeline(std::move(probes), read_opts);
      std::size_t j = 0;
      for (std::size_t i : probed) {
        if (want_type) {
          auto& t = replies[j++];
          if (!t.ok() || t->is_error()) {
            out.fail(keys[i], "TYPE: " + (t.ok() ? t->str : t.error().message));
            settled[i] = 1;
          } else if (t->str == "none") {
            ++c.vanished;
            settled[i] = 1;
          } else if (std::find(options_.types.begin(), options_.types.end(), t->str) == options_.types.end()) {
            ++c.filtered;
            settled[i] = 1;
          }
        }
        if (want_size) {
          auto& m = replies[j++];
          if (settled[i]) continue;
          if (m.ok() && m->is_null()) {
            ++c.vanished;
            settled[i] = 1;
          } else if (m.ok() && m->type == Value::Type::kInteger) {
            memory_usage[i] = static_cast<uint64_t>(m->integer);
            if (memory_usage[i] > options_.big_key_bytes) big[i] = 1;
          }
          // An error reply (MEMORY not allowed): the size is unknown; DUMP as usual.
        }
      }
    }

    // The pipelines read DUMP payloads of about read_budget_ bytes at most (by MEMORY
    // USAGE; at least one key); the rest waits for the next pass.
    uint64_t planned = 0;
    bool planned_any = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (settled[i] || by_script[i] || options_.typed || big[i]) continue;
      if (planned_any && planned + memory_usage[i] > read_budget_) {
        later.push_back(keys[i]);
        settled[i] = 1;
        continue;
      }
      planned += memory_usage[i];
      planned_any = true;
    }

    // 2. DUMP (not for keys copied by type) + PEXPIRETIME (or PTTL), pipelined.
    std::vector<Command> reads;
    reads.reserve(probed.size() * 2);
    const int base = static_cast<int>(script_values.size());  // pipeline replies go after these
    for (std::size_t i = 0; i < n; ++i) {
      if (settled[i] || by_script[i]) continue;
      if (!options_.typed && !big[i]) {
        dump_at[i] = base + static_cast<int>(reads.size());
        reads.push_back({"DUMP", keys[i]});
      }
      ttl_at[i] = base + static_cast<int>(reads.size());
      reads.push_back({pexpiretime ? "PEXPIRETIME" : "PTTL", keys[i]});
    }
    std::vector<Result<Value>> replies = std::move(script_values);
    if (!reads.empty()) {
      auto piped = source.exec_pipeline(std::move(reads), read_opts);
      replies.reserve(replies.size() + piped.size());
      for (auto& r : piped) replies.push_back(std::move(r));
    }
    const int64_t now_ms = unix_ms_now();

    std::vector<Command> writes;
    std::vector<std::size_t> write_keys;  // index into keys
    std::vector<int64_t> write_expiry;
    std::vector<TypedJob> typed;
    writes.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      if (settled[i]) continue;
      Value* dump = nullptr;
      if (dump_at[i] >= 0) {
        auto& d = replies[static_cast<std::size_t>(dump_at[i])];
        if (!d.ok() || d->is_error()) {
          out.fail(keys[i], "DUMP: " + (d.ok() ? d->str : d.error().message));
          continue;
        }
        if (d->is_null()) {
          ++c.vanished;
          continue;
        }
        dump = &*d;
      }
      auto& ttl = replies[static_cast<std::size_t>(ttl_at[i])];
      if (!ttl.ok() || ttl->is_error() || ttl->type != Value::Type::kInteger) {
        out.fail(keys[i], std::string(pexpiretime ? "PEXPIRETIME" : "PTTL") + ": " +
                              (!ttl.ok() ? ttl.error().message : ttl->is_error() ? ttl->str : "unexpected reply"));
        continue;
      }
      const int64_t t = ttl->integer;
      int64_t abs_ms = 0;  // 0: no expiry
      if (t == -2) {  // gone (expired or deleted): never recreate it
        if (dump != nullptr) {
          ++c.expired;
        } else {
          ++c.vanished;
        }
        continue;
      }
      if (t >= 0) {
        abs_ms = pexpiretime ? t : read_start_ms + t;
        if (abs_ms <= now_ms) {
          ++c.expired;
          continue;
        }
      }
      if (dump == nullptr) {
        typed.push_back({i, abs_ms, options_.typed ? "--typed" : "bigger than --big-key-bytes"});
        continue;
      }
      std::string payload = std::move(dump->str);
      if (options_.rewrite_dump) options_.rewrite_dump(keys[i], payload);
      if (payload.size() > proto_max_bulk_len_) {
        typed.push_back({i, abs_ms, "DUMP payload above the target's proto-max-bulk-len"});
        continue;
      }
      c.bytes += payload.size();
      if (options_.dry_run) {
        ++c.migrated;
        continue;
      }
      Command restore{"RESTORE", key_prefix.empty() ? keys[i] : key_prefix + keys[i], std::to_string(abs_ms),
                      std::move(payload)};
      if (options_.conflict == Conflict::kReplace) restore.push_back("REPLACE");
      if (abs_ms > 0) restore.push_back("ABSTTL");
      writes.push_back(std::move(restore));
      write_keys.push_back(i);
      write_expiry.push_back(abs_ms);
    }

    // 3. RESTORE, pipelined; the cluster client routes each to the key's master.
    if (!writes.empty()) {
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
          out.fail(key, "RESTORE: " + r.error().message);
          continue;
        }
        if (r->is_error()) {
          if (r->str.rfind("BUSYKEY", 0) == 0) {
            if (options_.conflict == Conflict::kSkip) {
              ++c.skipped;
              continue;
            }
            if (options_.conflict == Conflict::kFail) {
              out.fail(key, "exists in the target (--conflict fail)");
              if (out.abort.empty()) out.abort = "key " + escape_key(key) + " already exists in the target (--conflict fail)";
              continue;
            }
          }
          // The target cannot read this payload (its RDB version is older than the source's).
          if (r->str.find("payload version or checksum are wrong") != std::string::npos ||
              r->str.find("Bad data format") != std::string::npos) {
            typed.push_back({write_keys[j], write_expiry[j], "the target rejected the DUMP payload"});
            continue;
          }
          out.fail(key, "RESTORE: " + r->str);
          continue;
        }
        ++c.migrated;
      }
    }

    // 4. Keys DUMP/RESTORE cannot serve: copied by type, in chunks, one at a time.
    for (const TypedJob& job : typed) {
      const std::string& key = keys[job.index];
      if (options_.dry_run) {
        ++c.migrated;
        ++c.typed;
        continue;
      }
      TypedCopyOptions to;
      to.conflict = options_.conflict;
      to.expire_at_ms = job.expire_at_ms;
      if (!key_prefix.empty()) to.target_key = key_prefix + key;
      to.stop = options_.stop;
      auto r = copy_key_typed(source, target_, key, to);
      if (!r.ok() && r.error().kind == "stopped") {
        out.incomplete = true;
        break;
      }
      if (!r.ok()) {
        out.fail(key, std::string("typed copy (") + job.reason + "): " + r.error().message);
        continue;
      }
      switch (r->outcome) {
        case TypedOutcome::kCopied:
          ++c.migrated;
          ++c.typed;
          c.bytes += r->bytes;
          break;
        case TypedOutcome::kSkipped:
          ++c.skipped;
          break;
        case TypedOutcome::kExists:
          out.fail(key, "exists in the target (--conflict fail)");
          if (out.abort.empty()) out.abort = "key " + escape_key(key) + " already exists in the target (--conflict fail)";
          break;
        case TypedOutcome::kVanished:
          ++c.vanished;
          break;
        case TypedOutcome::kExpired:
          ++c.expired;
          break;
      }
    }
  }

  struct Done {
    CheckpointCounts counts;
    std::optional<redis::ScanPosition> after;
  };

  const MigrateOptions& options_;
  Client& target_;
  MigrateReport& report_;    // live counts (every finished batch); guarded by mu_
  Checkpoint& checkpoint_;   // identity and position; guarded by mu_
  const ProgressFn& progress_;
  const uint64_t proto_max_bulk_len_;
  const uint64_t read_budget_;  // DUMP payload bytes a writer reads per pass
  RateLimiter limiter_;
  const double seconds_before_;
  const Clock::time_point start_ = Clock::now();

  std::mutex mu_;
  std::condition_variable work_;   // a batch was queued, or the scan ended
  std::condition_variable space_;  // the queue has room
  std::deque<Batch> queue_;
  uint64_t next_seq_ = 0;
  uint64_t next_commit_ = 0;  // the first batch not yet written
  std::map<uint64_t, Done> done_;  // written, waiting for an earlier batch
  CheckpointCounts committed_;     // counts of the batches up to checkpoint_.position
  CheckpointCounts uncommitted_;   // written parts of a SCAN reply not yet written whole
  bool scan_done_ = false;
  std::atomic<bool> halt_{false};

  std::atomic<bool> script_unusable_{false};

  std::mutex save_mu_;  // one save at a time, in order
  std::atomic<Clock::time_point> last_save_;
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

std::string default_checkpoint_path(const MigrateOptions& options) {
  auto name = [](std::string_view url) {
    auto parsed = redis::parse_redis_url(url);
    if (!parsed.ok() || parsed->endpoints.empty()) return std::string("unknown");
    std::string s = parsed->endpoints[0].to_string();
    if (parsed->scheme != redis::RedisUrl::Scheme::kCluster) s += "-db" + std::to_string(parsed->db);
    for (char& ch : s) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '.' && ch != '-') ch = '_';
    }
    return s;
  };
  std::string from = options.from;
  if (options.db >= 0) {
    auto u = url_with_db(from, options.db);
    if (u.ok()) from = *u;
  }
  return "suoke-migrate-" + name(from) + "-to-" + name(options.to) + ".checkpoint";
}

// True when keys of different databases can never get the same name under `prefix`: it holds
// "{db}" followed by a character that is not a digit, so the database number ends there.
static bool prefix_separates_databases(std::string_view prefix) {
  for (std::size_t pos = prefix.find("{db}"); pos != std::string_view::npos; pos = prefix.find("{db}", pos + 4)) {
    std::size_t after = pos + 4;
    if (after < prefix.size() && (prefix[after] < '0' || prefix[after] > '9')) return true;
  }
  return false;
}

Result<std::vector<int>> databases_with_keys(Client& client) {
  auto ks = keyspace(client);
  if (!ks.ok()) return ks.error();
  std::vector<int> out;
  for (const auto& [db, keys] : *ks) {
    if (keys > 0) out.push_back(db);
  }
  return out;
}

std::string expand_key_prefix(std::string_view key_prefix, int db) {
  std::string out(key_prefix);
  const std::string db_text = std::to_string(db);
  for (std::size_t pos = 0; (pos = out.find("{db}", pos)) != std::string::npos; pos += db_text.size()) {
    out.replace(pos, 4, db_text);
  }
  return out;
}

Result<MigrateReport> run_migrate(const MigrateOptions& options, const ProgressFn& progress) {
  if (options.batch == 0) return Error::make("--batch must be at least 1", "usage");
  if (options.parallel < 1 || options.parallel > 64) return Error::make("--parallel must be in 1..64", "usage");
  if (options.max_rate < 0) return Error::make("--max-rate must not be negative", "usage");
  for (const auto& t : options.types) {
    if (std::find(std::begin(kKnownTypes), std::end(kKnownTypes), t) == std::end(kKnownTypes)) {
      return Error::make("--types: unknown type '" + t + "' (string, list, set, zset, hash, stream)", "usage");
    }
  }
  if (options.all_dbs && options.db >= 0) return Error::make("--db: give one database or all, not both", "usage");
  if (options.resume && options.checkpoint_path.empty()) {
    return Error::make("--resume needs a checkpoint file", "usage");
  }
  // Batches written after the last checkpoint save are written again by a resume; with
  // --conflict fail the run's own earlier writes would stop it (BUSYKEY) at the first key.
  if (options.resume && options.conflict == Conflict::kFail) {
    return Error::make("--resume with --conflict fail would stop at the keys this run wrote after its last checkpoint; "
                       "resume with --conflict skip (keeps what is in the target) or replace",
                       "usage");
  }
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
  // The target must accept writes (a wrong password or ACL shows up here, not mid-run).
  if (!options.dry_run) {
    auto ping = dst.exec({"PING"});
    if (!ping.ok()) return Error::make("target: " + ping.error().message, ping.error().kind);
    if (ping->is_error()) return Error::make("target: PING: " + ping->str, "redis");
    // PING succeeds on a replica: ask for its role (a cluster client writes to masters only).
    if (!dst.is_cluster()) {
      auto replication = dst.exec({"INFO", "replication"});
      if (replication.ok() && !replication->is_error() &&
          replication->str.find("role:slave") != std::string::npos) {
        return Error::make("target " + to_url->endpoints.at(0).to_string() +
                               " is a replica (its writes are refused or lost at the next sync); give its master",
                           "usage");
      }
    }
  }

  MigrateReport report;
  report.used_pexpiretime = !options.force_pttl && has_pexpiretime(src);

  // The databases to copy, and the number of keys for the progress.
  std::vector<int> databases;
  if (src.is_cluster()) {
    databases = {0};
  } else {
    auto ks = keyspace(src);
    if (!ks.ok()) return Error::make("source: " + ks.error().message, ks.error().kind);
    std::vector<std::string> names;
    for (const auto& [db, keys] : *ks) {
      if (keys == 0) continue;
      if (options.all_dbs) {
        databases.push_back(db);
        names.push_back(std::to_string(db));
      }
      if (options.all_dbs || db == from_url->db) report.source_keys += keys;
    }
    report.source_keys_known = true;
    // A cluster has only db 0: keys of several databases would land in one keyspace, where
    // equal names overwrite each other. Never merge them silently.
    // A prefix without {db} is the same for every database: no better than none. And {db}
    // must be followed by a non-digit: with '{db}' alone db 1's key "1k" and db 11's "k"
    // would both become "11k".
    if (databases.size() > 1 && !prefix_separates_databases(options.key_prefix)) {
      return Error::make("the source has keys in databases " + join(names, ", ") +
                             "; copying them into one keyspace needs a --key-prefix with {db} followed by a "
                             "separator (e.g. 'db{db}:'), or copy one --db at a time",
                         "usage");
    }
    if (databases.empty()) databases = {from_url->db};
  }

  std::string types = join(options.types, ",");
  Checkpoint checkpoint;
  checkpoint.from = url_without_credentials(from);
  checkpoint.to = url_without_credentials(options.to);
  checkpoint.match = options.match;
  checkpoint.db = options.all_dbs ? "all" : std::to_string(from_url->db);
  checkpoint.types = types;
  checkpoint.key_prefix = options.key_prefix;
  checkpoint.databases = databases;
  if (options.resume) {
    auto loaded = load_checkpoint(options.checkpoint_path);
    if (!loaded.ok()) return Error::make("--resume: " + loaded.error().message, "usage");
    const std::pair<const char*, std::pair<std::string, std::string>> identity[] = {
        {"--from", {loaded->from, checkpoint.from}}, {"--to", {loaded->to, checkpoint.to}},
        {"--match", {loaded->match, checkpoint.match}}, {"--db", {loaded->db, checkpoint.db}},
        {"--types", {loaded->types, checkpoint.types}}, {"--key-prefix", {loaded->key_prefix, checkpoint.key_prefix}},
    };
    for (const auto& [flag, values] : identity) {
      if (values.first != values.second) {
        return Error::make("--resume: the checkpoint " + options.checkpoint_path + " was written for " + flag + " '" +
                               values.first + "', this run has '" + values.second +
                               "'; give the same flags, or run without --resume to start over",
                           "usage");
      }
    }
    checkpoint = std::move(*loaded);
    report.resumed = true;
    report.scanned = checkpoint.counts.scanned;
    report.migrated = checkpoint.counts.migrated;
    report.typed = checkpoint.counts.typed;
    report.skipped = checkpoint.counts.skipped;
    report.expired = checkpoint.counts.expired;
    report.vanished = checkpoint.counts.vanished;
    report.failed = checkpoint.counts.failed;
    report.filtered = checkpoint.counts.filtered;
    report.bytes = checkpoint.counts.bytes;
    report.seconds = checkpoint.seconds;
    report.resumed_done = report.done();
    report.resumed_seconds = report.seconds;
  }

  const uint64_t max_bulk = options.dry_run ? kDefaultProtoMaxBulkLen : proto_max_bulk_len(dst);
  Run run(options, dst, report, checkpoint, progress, max_bulk);
  run.save(/*force=*/true);  // a kill before the first interval still leaves a checkpoint
  bool complete = true;
  while (checkpoint.db_index < checkpoint.databases.size()) {
    const int db = checkpoint.databases[checkpoint.db_index];
    Client* db_source = &src;
    std::unique_ptr<Client> other;
    if (!src.is_cluster() && db != from_url->db) {
      auto u = url_with_db(from, db);
      if (!u.ok()) return Error::make("--from: " + u.error().message, "usage");
      auto c = connect("source", *u);
      if (!c.ok()) return c.error();
      other = std::move(*c);
      db_source = other.get();
    }
    const std::string prefix = options.key_prefix.empty() ? std::string() : expand_key_prefix(options.key_prefix, db);
    if (!run.copy_database(*db_source, prefix, checkpoint.position)) {
      complete = false;
      break;
    }
    run.finish_database();
  }
  run.finish_report();
  if (options.stop != nullptr && options.stop->load()) report.stopped = true;
  if (!options.checkpoint_path.empty() && !options.dry_run) {
    if (complete) {
      std::remove(options.checkpoint_path.c_str());
    } else {
      run.save(/*force=*/true);
    }
  }
  if (!complete && !report.stopped && report.aborted.empty()) report.aborted = "the copy did not complete";
  return report;
}

}  // namespace suoke::migrate
