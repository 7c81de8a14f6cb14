// TEMPORARY placeholder so the tree links; the real router replaces this file.
#include "gateway/router/router.h"

namespace suoke::gateway::router {
struct Router::Impl {};
Router::Router(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;
Router::~Router() = default;
Result<Router> Router::build(const std::vector<Route>&, const std::vector<Service>&) {
  return Router(std::make_unique<Impl>());
}
std::optional<Match> Router::match(std::string_view, std::string_view, std::string_view) const {
  return std::nullopt;
}
std::string Router::upstream_path(const Match&, std::string_view path) { return std::string(path); }
}  // namespace suoke::gateway::router
