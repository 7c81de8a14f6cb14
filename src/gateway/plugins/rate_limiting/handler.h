// Kong's rate-limiting plugin (kong/plugins/rate-limiting/handler.lua, 3.x) on the exact
// local policy of counters.h.
//
// Where this differs from Kong, on purpose:
// - Exact: a request is counted atomically at admission (Kong reads in access and
//   increments later in a timer, so concurrent requests overshoot: Kong issues #5311, #11846).
//   A request refused by one window consumes none of the others.
// - Counters belong to the plugin entity (its id), so a config change keeps them; Kong keys
//   them by the plugin's route and service ids, which makes two plugins with the same scoping
//   (e.g. a global one and a consumer-scoped one) share counters.
// - RateLimit-Reset / Retry-After of a month or year window count down to the real calendar
//   boundary; Kong subtracts the elapsed time from a nominal 30-day month / 365-day year
//   (same values for second..day).
// - policy "redis" is not implemented yet (the Redis issue): with fault_tolerant it runs on
//   the local policy (warning logged once per plugin, gauge
//   suoke_rate_limiting_policy_fallback{plugin_id,policy} = 1); without fault_tolerant every
//   request gets Kong's 500 {"message":"An unexpected error occurred"}, as when Kong's policy
//   fails. policy "cluster" (counters in Kong's database) has no database here: it runs on
//   the local policy with the same warning and gauge, whatever fault_tolerant says.
// - limit_by "consumer-group": there are no consumer groups here, so it falls back to the
//   client IP like every other identifier that is missing.
#pragma once

#include <memory>

#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins::rate_limiting {

// The PluginFactory for "rate-limiting".
Result<std::unique_ptr<PluginHandler>> create(const gateway::Plugin& entity,
                                              const Snapshot& snapshot, PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins::rate_limiting
