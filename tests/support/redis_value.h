// Deep equality of RESP values for tests and fuzz targets: type, string, integer and every
// element, in order (redis::Value has no operator==).
#pragma once

#include <cstddef>

#include "redis/client.h"

namespace suoke::testing {

inline bool same(const redis::Value& a, const redis::Value& b) {
  if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
      a.elements.size() != b.elements.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.elements.size(); ++i) {
    if (!same(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

}  // namespace suoke::testing
