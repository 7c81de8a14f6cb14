#pragma once

#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins::prometheus {

const PluginSchema& schema();

}  // namespace suoke::gateway::plugins::prometheus
