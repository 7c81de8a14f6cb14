// Sessions in Redis or Redis Cluster, through redis::Client (one code path for both).
//
// Key layout (the seed's, so its data and ours are interchangeable):
//   session:<session_id>        STRING  the stored form (session.h), written with SET ... EX ttl
//                                       so the TTL is part of the write (the seed's SET + EXPIRE
//                                       pair could leave a session without a TTL)
//   user_sessions:<user_id>     ZSET    member session_id, score last_active; its TTL is kept
//                                       at least as long as its longest-lived session's
//
// In a cluster the two keys are in different slots, so no transaction or script can cover
// both: a session's slot comes from its id (get/touch/remove know only the id), the index's
// from the user. So they are written with separate commands (pipelined, one round trip) and
// the index is treated as a hint that may be stale:
//   - save writes the session (SET ... EX), and after its reply updates the index with one
//     script on the index key (ZADD, lengthen the TTL, cap the size: one slot, atomic); both
//     steps are idempotent, a failure of either fails the save, and saving again repairs it;
//   - list_user_sessions reads the index newest first and GETs each session, dropping entries
//     whose session is gone, expired or now belongs to another user, and ZREMs them;
//   - remove uses GETDEL (learns the user and deletes in one command), then ZREMs the entry;
//   - the index keeps at most SessionOptions::max_user_index newest entries.
// A crash between the two writes therefore leaves at worst an index entry that readers skip.
#pragma once

#include <memory>

#include "redis/client.h"
#include "sessions/repository.h"

namespace suoke::sessions {

std::string session_key(std::string_view session_id);
std::string user_index_key(std::string_view user_id);

}  // namespace suoke::sessions
