#include "cli/commands.h"

namespace suoke::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"up", "run the whole platform on this machine: gateway with the seed's services and routes", run_up},
      {"gateway", "run the API gateway (proxy, Kong-compatible Admin API, status)", run_gateway},
  };
  return all;
}

}  // namespace suoke::cli
