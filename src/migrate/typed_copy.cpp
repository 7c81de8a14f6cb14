// Placeholder so the migrate engine links while the typed copy is written; replaced by the
// implementation before issue 5 is closed.
#include "migrate/typed_copy.h"

namespace suoke::migrate {

Result<TypedCopyResult> copy_key_typed(redis::Client&, redis::Client&, const std::string&, const TypedCopyOptions&) {
  return Error::make("typed copy is not implemented yet", "unsupported");
}

}  // namespace suoke::migrate
