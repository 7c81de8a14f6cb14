// A small flag parser for the subcommands: "--name value", "--name=value", boolean "--flag".
// Unknown flags are an error so that typos never pass silently.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/result.h"

namespace suoke::cli {

struct FlagSpec {
  std::string name;  // without "--"
  bool takes_value = true;
  std::string help;
  std::string default_value;  // shown in --help
};

struct ParsedArgs {
  std::map<std::string, std::string> values;
  std::set<std::string> present;
  std::vector<std::string> positional;

  bool has(const std::string& name) const { return present.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback = {}) const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

// An integer flag in [min, max], left unchanged when absent. On a bad value prints
// "suoke <command>: --<name>: expected an integer in min..max, got '...'" and returns false.
bool int_flag(const ParsedArgs& parsed, const char* command, const char* name, long min, long max, long* out);

Result<ParsedArgs> parse_args(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs);
std::string format_help(const std::string& usage, const std::string& summary,
                        const std::vector<FlagSpec>& specs);

}  // namespace suoke::cli
