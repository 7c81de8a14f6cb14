// One function per `suoke` subcommand; each parses its own flags and returns the exit code.
#pragma once

#include <string>
#include <vector>

namespace suoke::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);
};

const std::vector<Command>& commands();

int run_gateway(const std::vector<std::string>& args);
int run_up(const std::vector<std::string>& args);
int run_cluster(const std::vector<std::string>& args);
int run_migrate(const std::vector<std::string>& args);
int run_verify(const std::vector<std::string>& args);

}  // namespace suoke::cli
