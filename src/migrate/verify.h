// `suoke verify`: compares a source Redis deployment with a target one, key by key.
//
// The source is read with SCAN (never KEYS). For every source key the target is checked for
// existence, TYPE, the full value (per type; big keys are compared in chunks so a key of
// millions of elements never sits whole in memory) and the TTL. With `both_ways` the target
// is scanned as well for keys the source does not have.
//
// A mismatch is only reported when it persists over `rounds` comparisons `round_interval`
// apart, so keys that change or expire while the check runs are not false alarms; a key that
// vanished from the source meanwhile is not a mismatch.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "redis/client.h"

namespace suoke::migrate {

enum class Category : int {
  kMissingInTarget = 0,
  kExtraInTarget,
  kTypeMismatch,
  kValueMismatch,
  kTtlMismatch,  // both have a TTL more than the tolerance apart, or only the target has one
  kMissingTtl,   // the source key has a TTL, the target key has none
};
inline constexpr std::size_t kCategoryCount = 6;

// "missing_in_target", "extra_in_target", "type_mismatch", "value_mismatch", "ttl_mismatch",
// "missing_ttl".
const char* category_name(Category c);

struct VerifyOptions {
  std::string match = "*";  // SCAN MATCH pattern
  std::size_t batch = 500;  // SCAN COUNT and keys compared per pipeline
  std::chrono::milliseconds ttl_tolerance{1000};
  bool both_ways = false;
  std::size_t examples = 10;  // example keys kept per category
  int rounds = 3;             // comparisons before a mismatch is reported (>= 1)
  std::chrono::milliseconds round_interval{200};
  // Collections with more elements than this (strings longer than `big_string_bytes`) are
  // compared in chunks of `chunk` elements (GETRANGE chunks of `big_string_bytes`).
  std::size_t big_key_elements = 1000;
  std::size_t chunk = 500;
  std::size_t big_string_bytes = 1 << 20;
  // The target holds each source key under this prefix (suoke migrate --key-prefix, already
  // expanded for the database); with both_ways only target keys under it are looked at.
  std::string target_key_prefix;
};

struct VerifyReport {
  uint64_t checked = 0;           // source keys compared (that existed when compared)
  uint64_t target_scanned = 0;    // target keys looked at with both_ways
  std::array<uint64_t, kCategoryCount> counts{};
  std::array<std::vector<std::string>, kCategoryCount> examples;  // raw key bytes
  double seconds = 0;

  uint64_t mismatches() const;
  bool clean() const { return mismatches() == 0; }
};

// Runs the comparison. An error means it could not be completed (a server unreachable, a
// command's fate unknown); mismatches are in the report.
Result<VerifyReport> verify(redis::Client& source, redis::Client& target, const VerifyOptions& options);

// A key for printing: printable ASCII as is, backslash and double quote escaped, every other
// byte as \xNN.
std::string printable_key(std::string_view key);

}  // namespace suoke::migrate
