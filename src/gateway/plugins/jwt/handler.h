// Kong's jwt plugin (kong/plugins/jwt/handler.lua and jwt_parser.lua, 3.x): finds the token
// in the query, cookies or headers, verifies it against the consumer's jwt_secrets
// credential and identifies the consumer for the rest of the chain and the upstream.
#pragma once

#include <memory>

#include "core/result.h"
#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins::jwt {

// The plugin factory (registered in factories.cpp). Builds, once per snapshot, the index
// from credential key to credential and consumer, with every key parsed and ready to verify.
Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins::jwt
