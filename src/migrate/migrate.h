// `suoke migrate`: copies every key of a Redis (standalone or cluster) into another Redis
// (standalone or cluster) with DUMP + PEXPIRETIME (PTTL on servers without it) read pipelined
// from the source and RESTORE ... ABSTTL written pipelined to the target (the cluster client
// routes each key to its master). SCAN only, never KEYS. A key that vanished between SCAN and
// DUMP is counted, not copied; a key whose expiry has passed is never recreated; a key with an
// expiry always gets it (absolute, so time spent copying is not added to it).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/result.h"

namespace suoke::redis {
class Client;
}

namespace suoke::migrate {

enum class Conflict {
  kReplace,  // RESTORE ... REPLACE: a re-run gives the same target (lists are not doubled)
  kSkip,     // RESTORE without REPLACE; a key that exists in the target is left as it is
  kFail,     // stop at the first key that exists in the target
};

Result<Conflict> parse_conflict(std::string_view text);

struct MigrateOptions {
  std::string from;  // redis://... or redis-cluster://...
  std::string to;
  std::string match;  // SCAN MATCH pattern; empty: every key
  std::size_t batch = 500;  // SCAN COUNT and keys per pipeline
  Conflict conflict = Conflict::kReplace;
  bool dry_run = false;  // read and count, write nothing
  int db = -1;  // source database (standalone only); -1: the one in the URL
  bool all_dbs = false;  // every database of the source that has keys (INFO keyspace)
  // Prepended to every key in the target; "{db}" is replaced by the source database number.
  // Needed when several source databases go into one (a cluster has only db 0).
  std::string key_prefix;
  // Only keys of these types (string, list, set, zset, hash, stream); empty: every type.
  std::vector<std::string> types;
  // Writers working on batches at once (each with its own read and write pipelines) while
  // the calling thread scans ahead.
  int parallel = 4;
  // Keys per second at most (token bucket); 0: no limit.
  double max_rate = 0;
  // Keys whose MEMORY USAGE exceeds this are not DUMPed whole but copied by type in chunks
  // (copy_key_typed); 0: never.
  uint64_t big_key_bytes = 8ull << 20;
  // Copy every key by type (copy_key_typed) instead of DUMP/RESTORE.
  bool typed = false;

  // Checkpoint: where the run's progress (SCAN position, counters) is saved every
  // `checkpoint_interval` (temp file + fsync + rename); empty: not saved. Removed when the
  // scan completes; kept after Ctrl-C, a failure or a kill.
  std::string checkpoint_path;
  std::chrono::milliseconds checkpoint_interval{1000};
  // Continue from the checkpoint (refused when it was written for other from/to/match/db/
  // types/prefix).
  bool resume = false;

  // Set from another thread (Ctrl-C) to stop after the batches in flight; no key is
  // half-written because each RESTORE (and each typed copy's final RENAME) is atomic.
  const std::atomic<bool>* stop = nullptr;
  // Read TTLs with PTTL even when the source has PEXPIRETIME (tests cover both paths).
  bool force_pttl = false;
  // Test hook: runs with each batch's keys after SCAN returned them and before they are read.
  // Both hooks run on the writer threads, concurrently when parallel > 1.
  std::function<void(const std::vector<std::string>& keys)> before_read;
  // Test hook: may rewrite each DUMP payload before it is RESTOREd (e.g. bump its RDB version
  // so the target rejects it and the typed fallback is taken).
  std::function<void(const std::string& key, std::string& payload)> rewrite_dump;
};

struct MigrateReport {
  uint64_t scanned = 0;   // keys returned by SCAN (a key may be returned twice)
  uint64_t migrated = 0;  // written (RESTORE or typed copy) or, with dry_run, that would be
  uint64_t typed = 0;     // of the migrated keys, those copied by type (copy_key_typed)
  uint64_t skipped = 0;   // existed in the target with Conflict::kSkip
  uint64_t expired = 0;   // expiry passed before it could be written: not recreated
  uint64_t vanished = 0;  // gone between SCAN and DUMP
  uint64_t failed = 0;    // could not be read or written
  uint64_t filtered = 0;  // not of one of MigrateOptions::types
  uint64_t bytes = 0;     // DUMP payload bytes read (typed copies: the bytes they read)
  double seconds = 0;     // this process's time (a resumed run adds the earlier runs')
  uint64_t source_keys = 0;  // DBSIZE of the source (0 when unknown: a cluster source)
  bool source_keys_known = false;
  bool used_pexpiretime = false;
  bool resumed = false;   // started from a checkpoint (counts include the earlier runs')
  uint64_t resumed_done = 0;   // done() and seconds taken over from the checkpoint
  double resumed_seconds = 0;
  bool stopped = false;   // options.stop was set
  std::string aborted;    // why the run stopped early (conflict=fail, SCAN failure); empty otherwise
  std::vector<std::string> errors;  // up to 20 examples: "key: message" (key escaped)

  double keys_per_sec() const { return seconds > 0 ? static_cast<double>(migrated) / seconds : 0; }
  uint64_t done() const { return migrated + skipped + expired + vanished + failed + filtered; }
};

// Called after every batch with the counts so far (from a writer thread; never concurrently).
using ProgressFn = std::function<void(const MigrateReport&)>;

// Errors (nothing written): a URL that does not parse, an unreachable host, a wrong password,
// a source or target that is a cluster node but was not given as redis-cluster://, --db on a
// cluster source. Problems during the copy are counted in the report instead.
Result<MigrateReport> run_migrate(const MigrateOptions& options, const ProgressFn& progress = {});

// Printable form of a binary key for messages: non-printable bytes as \xNN, quotes escaped.
std::string escape_key(std::string_view key);

// The checkpoint file used when none is given: "suoke-migrate-<from>-to-<to>.checkpoint" in
// the current directory, from each URL's first host:port and database (no credentials).
std::string default_checkpoint_path(const MigrateOptions& options);

// The databases of a standalone server that hold keys (INFO keyspace), ascending.
Result<std::vector<int>> databases_with_keys(redis::Client& client);

// `key_prefix` with "{db}" replaced by `db`.
std::string expand_key_prefix(std::string_view key_prefix, int db);

// The URL with its database replaced by `db` (standalone redis:// URLs only).
Result<std::string> url_with_db(std::string_view url, int db);

}  // namespace suoke::migrate
