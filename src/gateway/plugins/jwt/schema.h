#pragma once

#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins::jwt {

const PluginSchema& schema();

}  // namespace suoke::gateway::plugins::jwt
