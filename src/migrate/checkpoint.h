// The checkpoint of a `suoke migrate` run: what it copies (so a resume can refuse a different
// run), where its SCAN stands and the counts of the batches completely written before that
// position. Written as one small JSON file, atomically (temp file + fsync + rename), so a
// kill -9 at any moment leaves either the previous checkpoint or the new one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "redis/client.h"

namespace suoke::migrate {

struct CheckpointCounts {
  uint64_t scanned = 0, migrated = 0, typed = 0, skipped = 0, expired = 0, vanished = 0, failed = 0,
           filtered = 0, bytes = 0;

  void add(const CheckpointCounts& other);
};

struct Checkpoint {
  // The run's identity: a resume must ask for the same. URLs without credentials.
  std::string from, to, match, db, types, key_prefix;
  std::vector<int> databases;  // source databases to copy, in order
  std::size_t db_index = 0;    // the one being scanned (databases.size(): all done)
  redis::ScanPosition position;  // within databases[db_index]
  CheckpointCounts counts;
  double seconds = 0;  // time spent by the runs so far
};

Result<void> save_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Errors: the file is missing ("not_found") or does not parse.
Result<Checkpoint> load_checkpoint(const std::string& path);
// The same from the file's text; `name` goes into the messages. Every malformed field is an
// error naming it, never an exception.
Result<Checkpoint> parse_checkpoint(std::string_view text, std::string_view name);

// A URL for checkpoints and file names: scheme, endpoints and database; no user or password.
std::string url_without_credentials(std::string_view url);

}  // namespace suoke::migrate
