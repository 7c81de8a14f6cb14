// Fuzzes the migrate checkpoint reader (src/migrate/checkpoint.cpp): `suoke migrate --resume`
// reads a file a killed run left behind, possibly truncated or hand-edited. Any bytes must give
// a checkpoint or one error message, never a crash or an exception; a checkpoint accepted must
// be consistent (its database index within its database list).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "migrate/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto cp = suoke::migrate::parse_checkpoint(text, "fuzz");
  if (cp.ok()) {
    if (cp->db_index > cp->databases.size()) std::abort();
  } else if (cp.error().message.empty()) {
    std::abort();
  }
  return 0;
}
