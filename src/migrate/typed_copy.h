// Typed, chunked copy of one key: the fallback where DUMP/RESTORE cannot serve (the target's
// RDB version is older than the source's, a payload exceeds the target's proto-max-bulk-len,
// a key too big to hold whole in memory, or --typed).
//
// Strings are read with GETRANGE and written with APPEND in chunks of `chunk_bytes`; hashes,
// sets and sorted sets with HSCAN/SSCAN/ZSCAN (COUNT `chunk_elements`); lists with LRANGE
// spans; streams with XRANGE, keeping entry IDs, the last-generated id (XSETID) and every
// consumer group with its last-delivered id, entries-read and pending entries (XCLAIM FORCE).
// Memory held at once is bounded by one chunk, never by the key's size.
//
// The key is built under a temporary name in the same hash slot (so a cluster routes it to the
// same master), given its expiry with PEXPIREAT, then moved into place with one RENAME
// (RENAMENX for Conflict::kSkip): a reader, a Ctrl-C or a kill -9 never sees a half-written
// key. A temporary key left behind by a killed run carries a safety expiry and the prefix
// kTypedTempPrefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "migrate/migrate.h"
#include "redis/client.h"

namespace suoke::migrate {

inline constexpr std::string_view kTypedTempPrefix = "suoke-migrate-tmp:";

struct TypedCopyOptions {
  std::size_t chunk_elements = 1000;  // HSCAN/SSCAN/ZSCAN COUNT, LRANGE span, XRANGE COUNT
  std::size_t chunk_bytes = 1 << 20;  // GETRANGE span for strings
  Conflict conflict = Conflict::kReplace;
  // Absolute expiry in unix milliseconds as read from the source before the copy started;
  // 0: no expiry. A key whose expiry passes during the copy is not left in the target.
  int64_t expire_at_ms = 0;
};

enum class TypedOutcome {
  kCopied,
  kSkipped,   // existed in the target with Conflict::kSkip
  kExists,    // existed in the target with Conflict::kFail (nothing written)
  kVanished,  // gone from the source before or during the copy (nothing left in the target)
  kExpired,   // its expiry passed before it could be put in place
};

struct TypedCopyResult {
  TypedOutcome outcome = TypedOutcome::kCopied;
  uint64_t bytes = 0;     // payload bytes read from the source (keys, members, values)
  uint64_t elements = 0;  // elements copied (1 for a string)
};

// Copies `key` from `source` to `target` by type. An error means the key could not be copied
// (a server failure, an unsupported type such as a module type); the target then holds no
// partial key under `key`.
Result<TypedCopyResult> copy_key_typed(redis::Client& source, redis::Client& target, const std::string& key,
                                       const TypedCopyOptions& options);

}  // namespace suoke::migrate
