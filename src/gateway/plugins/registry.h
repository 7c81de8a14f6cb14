// The bundled plugins, by Kong name ("rate-limiting", not the folder name).
#pragma once

#include <string_view>
#include <vector>

#include "gateway/plugins/plugin_schema.h"

namespace suoke::gateway::plugins {

// nullptr when no bundled plugin has that name.
const PluginSchema* find_schema(std::string_view name);
// Every bundled plugin, sorted by name.
const std::vector<const PluginSchema*>& all_schemas();

}  // namespace suoke::gateway::plugins
