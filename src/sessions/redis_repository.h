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
// both. Hash tags cannot put them together either: get/touch/remove know only the session id,
// so the session key's slot must come from the id alone, and a user's index holds sessions of
// many ids. So they are written with separate commands, and the index is a hint that may be
// stale, never trusted without the session:
//   - save writes the session (SET ... EX), and after its reply updates the index with one
//     script on the index key (ZADD, lengthen the TTL, cap the size: one slot, atomic); both
//     steps are idempotent, a failure of either fails the save, and saving again repairs it;
//   - list_user_sessions reads the index newest first and GETs each session, skipping entries
//     whose session is gone, expired or now belongs to another user, and prunes them (ZREM,
//     then re-reads and re-adds any a concurrent save re-created);
//   - remove uses GETDEL (learns the user and deletes in one command), then prunes the entry;
//   - touch refreshes the session (EXPIRE) and lengthens the index's TTL to match;
//   - the index keeps at most SessionOptions::max_user_index newest entries.
// A failure between the two writes of a save leaves a session not yet listed (the save
// reports the error; saving again lists it); a failure elsewhere leaves an index entry that
// readers skip. A session is never listed for a user it does not belong to.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "redis/client.h"
#include "sessions/repository.h"

namespace suoke::sessions {

std::string session_key(std::string_view session_id);
std::string user_index_key(std::string_view user_id);

}  // namespace suoke::sessions
