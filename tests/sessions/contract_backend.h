// The session repository contract suite (repository_contract_test.cpp) runs against every
// backend through this adapter: a fresh, empty store per test plus what the suite needs to
// look behind the repository (a key's TTL, planting garbage, letting time pass).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "sessions/repository.h"

namespace suoke::sessions::testing {

class Backend {
 public:
  virtual ~Backend() = default;
  // A repository over an empty store; the previous one (if any) is destroyed first.
  virtual SessionRepository& open(SessionOptions options) = 0;
  // The session's remaining TTL in milliseconds as the store sees it: -2 absent, -1 none.
  virtual int64_t pttl_ms(std::string_view session_id) = 0;
  // Stores bytes that are not a session under the session's key.
  virtual void store_garbage(std::string_view session_id, const std::string& bytes) = 0;
  // Lets `ms` milliseconds pass for TTL purposes (a FakeClock, or a real wait).
  virtual void let_time_pass(int64_t ms) = 0;
};

struct BackendParam {
  std::string name;
  std::function<std::unique_ptr<Backend>()> make;
};

inline void PrintTo(const BackendParam& p, std::ostream* os) { *os << p.name; }

class SessionRepositoryContract : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override { backend_ = GetParam().make(); }
  void TearDown() override { backend_.reset(); }

  SessionRepository& open(SessionOptions options = {}) { return backend_->open(options); }
  Backend& backend() { return *backend_; }

 private:
  std::unique_ptr<Backend> backend_;
};

inline std::string backend_name(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

}  // namespace suoke::sessions::testing
