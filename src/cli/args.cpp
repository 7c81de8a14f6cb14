#include "cli/args.h"

#include <cstdio>
#include <cstdlib>

namespace suoke::cli {

Result<ParsedArgs> parse_args(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs) {
  ParsedArgs out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      out.positional.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const FlagSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (!spec) return Error::make("unknown flag --" + name + " (see --help)", "usage");
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) return Error::make("flag --" + name + " needs a value", "usage");
      value = args[++i];
    } else if (!spec->takes_value && inline_value) {
      return Error::make("flag --" + name + " takes no value", "usage");
    }
    out.present.insert(name);
    out.values[name] = value;
  }
  return out;
}

bool int_flag(const ParsedArgs& parsed, const char* command, const char* name, long min, long max, long* out) {
  if (!parsed.has(name)) return true;
  std::string text = parsed.get(name);
  char* end = nullptr;
  long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || value < min || value > max) {
    std::fprintf(stderr, "suoke %s: --%s: expected an integer in %ld..%ld, got '%s'\n", command, name, min, max,
                 text.c_str());
    return false;
  }
  *out = value;
  return true;
}

std::string format_help(const std::string& usage, const std::string& summary,
                        const std::vector<FlagSpec>& specs) {
  std::string out = "Usage: " + usage + "\n\n" + summary + "\n";
  if (!specs.empty()) out += "\nFlags:\n";
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.takes_value ? " VALUE" : "");
    if (left.size() < 28) left.resize(28, ' ');
    else left += "  ";
    out += left + s.help;
    if (!s.default_value.empty()) out += " (default: " + s.default_value + ")";
    out += "\n";
  }
  return out;
}

}  // namespace suoke::cli
