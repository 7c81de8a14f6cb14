// Result<T>: the one error type of library code. Exceptions are for the edges (CLI, startup).
// std::expected is not usable here: g++ 12 only ships it under -std=c++23 and clang 14 (used
// for fuzzing) cannot compile libstdc++'s version.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace suoke {

struct Error {
  std::string message;
  // A short machine-readable category ("parse", "io", "timeout", "schema", ...), optional.
  std::string kind;

  static Error make(std::string message, std::string kind = {}) {
    return Error{std::move(message), std::move(kind)};
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT(implicit)

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    assert(failed_);
    return error_;
  }

 private:
  Error error_;
  bool failed_ = false;
};

inline Result<void> Ok() { return {}; }

}  // namespace suoke
