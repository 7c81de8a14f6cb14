// Where the keys of a command are, for routing it to a cluster node and for refusing
// multi-key commands whose keys hash to different slots before they are sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/result.h"
#include "redis/client.h"

namespace suoke::redis::cluster {

// The hash slot every key of `command` maps to; nullopt for a keyless command (PING, INFO,
// EVAL with 0 keys, ...), which any master can serve. Errors: "CROSSSLOT: keys in request
// don't hash to the same slot" (kind "crossslot") and malformed key counts (kind "usage").
// Commands missing from the table are routed by their first argument, the position of the
// key in nearly every Redis command; the server stays the judge (it answers MOVED/CROSSSLOT).
Result<std::optional<uint16_t>> command_slot(const Command& command);

// Indices into `command` of its keys, in order (same rules and usage errors as command_slot).
Result<std::vector<size_t>> command_key_indices(const Command& command);

}  // namespace suoke::redis::cluster
