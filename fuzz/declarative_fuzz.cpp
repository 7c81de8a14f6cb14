// Arbitrary bytes into the declarative config loader (YAML and JSON). Must never crash; a
// document that loads must export and load again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gateway/declarative/declarative.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  suoke::gateway::declarative::LoadOptions options;
  options.source_name = "fuzz.yml";
  auto loaded = suoke::gateway::declarative::load(text, options);
  if (!loaded.ok()) return 0;
  std::string yaml = suoke::gateway::declarative::export_yaml(loaded.value());
  auto again = suoke::gateway::declarative::load(yaml, options);
  if (!again.ok()) std::abort();  // an export we cannot read back is a bug
  return 0;
}
