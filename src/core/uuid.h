#pragma once

#include <string>
#include <string_view>

namespace suoke {

// A random (version 4) UUID in its canonical lowercase 8-4-4-4-12 form.
std::string uuid_v4();
// True for any canonical 8-4-4-4-12 hex UUID (any version, either case), as Kong accepts.
bool is_uuid(std::string_view text);

}  // namespace suoke
