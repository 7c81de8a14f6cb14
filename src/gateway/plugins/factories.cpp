// The bundled plugins that have behavior. A plugin with a schema but no factory here is
// stored and validated, and does nothing at request time.
#include "gateway/plugins/chain.h"
#include "gateway/plugins/cors/handler.h"
#include "gateway/plugins/file_log/handler.h"
#include "gateway/plugins/prometheus/handler.h"
#include "gateway/plugins/jwt/handler.h"
#include "gateway/plugins/rate_limiting/handler.h"
#include "gateway/plugins/response_transformer/handler.h"

namespace suoke::gateway::plugins {

PluginFactory find_factory(std::string_view name) {
  if (name == "jwt") return &jwt::make_handler;
  if (name == "cors") return &cors::make_handler;
  if (name == "response-transformer") return &response_transformer::make_handler;
  if (name == "rate-limiting") return &rate_limiting::create;
  if (name == "prometheus") return &prometheus::make_handler;
  if (name == "file-log") return &file_log::make_handler;
  return nullptr;
}

}  // namespace suoke::gateway::plugins
