#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"

namespace {
void print_usage() {
  std::printf("suoke: the Suoke Life platform (API gateway, agents, sessions, Redis tooling)\n\n");
  std::printf("Usage: suoke <command> [flags]   (suoke <command> --help for its flags)\n\nCommands:\n");
  for (const auto& c : suoke::cli::commands()) std::printf("  %-10s %s\n", c.name, c.summary);
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 2 : 0;
  }
  for (const auto& c : suoke::cli::commands()) {
    if (args[0] == c.name) {
      try {
        return c.run(std::vector<std::string>(args.begin() + 1, args.end()));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "suoke %s: %s\n", c.name, e.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "suoke: unknown command '%s' (see suoke --help)\n", args[0].c_str());
  return 2;
}
