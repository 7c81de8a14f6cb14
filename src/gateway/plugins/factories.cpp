// The bundled plugins that have behavior. A plugin with a schema but no factory here is
// stored and validated, and does nothing at request time.
#include "gateway/plugins/chain.h"

namespace suoke::gateway::plugins {

PluginFactory find_factory(std::string_view name) {
  (void)name;
  return nullptr;
}

}  // namespace suoke::gateway::plugins
