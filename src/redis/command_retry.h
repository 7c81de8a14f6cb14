// Which commands may be sent again when their fate is unknown (written to a connection that
// then timed out or dropped). Shared by the standalone and cluster clients.
//
// Conservative on purpose: only read-only commands are idempotent by default. SET, DEL,
// EXPIRE, HSET look idempotent in isolation but are not under concurrency: re-sending a SET
// after another client's newer SET silently overwrites it, re-sending DEL deletes a key
// someone recreated in between. Callers that know better (a session save that writes the
// whole value) pass CommandOptions::Retry::kIdempotent.
#pragma once

#include <string_view>

#include "redis/client.h"

namespace suoke::redis {

// True for commands that only read (case-insensitive name): GET, MGET, HGETALL, EXISTS,
// TTL, PTTL, TYPE, SCAN, DUMP, ... and PING/INFO/TIME.
bool is_read_only_command(std::string_view name);

// Whether a failed attempt may be sent again. An unwritten command never reached a server
// and is always safe; a written one only when idempotent (explicitly, or by name for kAuto).
bool may_retry(const Command& command, CommandOptions::Retry retry, bool written);

}  // namespace suoke::redis
