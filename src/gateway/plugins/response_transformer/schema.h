#pragma once

#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins::response_transformer {

const PluginSchema& schema();

}  // namespace suoke::gateway::plugins::response_transformer
