// Kong 3.x route matching (the "traditional_compatible" flavor): prefix paths with the longest
// prefix winning, regex paths ("~" prefix) ordered by regex_priority, methods, hosts with
// wildcards. Built once per snapshot; match() is const and allocation-free on the hot path.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "gateway/snapshot.h"

namespace suoke::gateway::router {

struct Match {
  const Route* route = nullptr;
  const Service* service = nullptr;  // null when the route has no service
  // The part of the request path that matched the route's path (prefix or regex match),
  // used for strip_path; data() is null when the route has no paths.
  std::string_view matched_path;
};

class Router {
 public:
  // `routes` and `services` must outlive the Router (a Snapshot owns both): matches point into
  // them. Routes of disabled services and routes without "http" in `protocols` are left out.
  // Fails naming the route on an invalid regex path or a dangling service_index.
  static Result<Router> build(const std::vector<Route>& routes,
                              const std::vector<Service>& services);

  // `host` is the Host header as received (a port suffix is ignored); `path` excludes the query.
  std::optional<Match> match(std::string_view method, std::string_view host,
                             std::string_view path) const;

  // Kong's path_handling "v0" (default) and "v1": the path sent upstream for a request path,
  // given the match. `path` excludes the query string.
  static std::string upstream_path(const Match& match, std::string_view path);

  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  ~Router();

 private:
  struct Impl;
  explicit Router(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace suoke::gateway::router
