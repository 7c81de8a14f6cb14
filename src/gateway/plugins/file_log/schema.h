#pragma once

#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins::file_log {

const PluginSchema& schema();

}  // namespace suoke::gateway::plugins::file_log
