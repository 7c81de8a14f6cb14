// TEMPORARY: replaced by the real gateway wiring (src/gateway/app) during this issue.
#include <cstdio>

#include "cli/commands.h"

namespace suoke::cli {
int run_gateway(const std::vector<std::string>&) {
  std::fprintf(stderr, "suoke gateway: not built yet\n");
  return 1;
}
int run_up(const std::vector<std::string>&) {
  std::fprintf(stderr, "suoke up: not built yet\n");
  return 1;
}
}  // namespace suoke::cli
