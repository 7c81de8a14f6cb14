// Typed, chunked copy of one key: the fallback where DUMP/RESTORE cannot serve (the target's
// RDB version is older than the source's, a payload exceeds the target's proto-max-bulk-len,
// a key too big to hold whole in memory, or --typed).
//
// Strings are read with GETRANGE and written with APPEND in chunks of `chunk_bytes`; hashes,
// sets and sorted sets with HSCAN/SSCAN/ZSCAN (COUNT `chunk_elements`); lists with LRANGE
// spans; streams with XRANGE, keeping entry IDs, the last-generated id (XSETID) and every
// consumer group with its last-delivered id, entries-read and pending entries (XCLAIM FORCE).
// Memory held at once is bounded by one chunk, never by the key's size: collection reads start
// at 128 elements and adapt to about 8 x `chunk_bytes` per read (up to `chunk_elements`), so
// big elements make smaller pages.
//
// Not carried over: a pending entry whose message was deleted from the stream (XCLAIM cannot
// create one; Redis' own AOF rewrite has the same limit), consumers' idle/seen times (they
// restart at the copy).
//
// The key is built under a temporary name in the same hash slot (so a cluster routes it to the
// same master), given its expiry with PEXPIREAT, then moved into place with one RENAME
// (RENAMENX for Conflict::kSkip): a reader, a Ctrl-C or a kill -9 never sees a half-written
// key. A temporary key left behind by a killed run carries a safety expiry and the prefix
// kTypedTempPrefix.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "migrate/migrate.h"
#include "redis/client.h"

namespace suoke::migrate {

inline constexpr std::string_view kTypedTempPrefix = "suoke-migrate-tmp:";

struct TypedCopyOptions {
  std::size_t chunk_elements = 1000;  // at most: HSCAN/SSCAN/ZSCAN COUNT, LRANGE span, XRANGE COUNT
  std::size_t chunk_bytes = 1 << 20;  // GETRANGE span for strings; x8: byte budget of a collection read
  Conflict conflict = Conflict::kReplace;
  // Absolute expiry in unix milliseconds as read from the source before the copy started;
  // 0: no expiry. A key whose expiry passes during the copy is not left in the target.
  int64_t expire_at_ms = 0;
  // The key's name in the target (suoke migrate --key-prefix); empty: the source's name.
  std::string target_key;
  // Set from another thread (Ctrl-C) to abandon a long copy between chunks: the temporary key
  // is deleted and an error of kind "stopped" returned.
  const std::atomic<bool>* stop = nullptr;
  // Test hook: runs after each chunk was written to the temporary key, with its name and the
  // number of chunks written so far (tests expire, delete or retype keys mid-copy here).
  std::function<void(const std::string& temp_key, std::size_t chunks_written)> after_chunk;
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

// A short hash tag that maps to `slot` (from a table built once per process by trying short
// base-36 strings), so "{tag}" puts another key in the same cluster slot as a given key.
std::string_view slot_tag(uint16_t slot);

// A fresh temporary name in `key`'s hash slot: kTypedTempPrefix + "{tag}:" + pid, a random
// number drawn once per process and a counter (concurrent copies, several processes or hosts).
std::string typed_temp_key(std::string_view key);

// Copies `key` from `source` to `target` by type. An error means the key could not be copied
// (a server failure, an unsupported type such as a module type); the target then holds no
// partial key under `key` and the temporary key is deleted (best effort; it expires anyway).
// kExists/kSkipped are decided before anything is read when the key already exists, and again
// atomically by RENAMENX for a key created in the target meanwhile.
Result<TypedCopyResult> copy_key_typed(redis::Client& source, redis::Client& target, const std::string& key,
                                       const TypedCopyOptions& options);

}  // namespace suoke::migrate
