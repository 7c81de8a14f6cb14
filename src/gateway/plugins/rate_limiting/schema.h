#pragma once

#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins::rate_limiting {

const PluginSchema& schema();

}  // namespace suoke::gateway::plugins::rate_limiting
