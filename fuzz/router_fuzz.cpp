// Fuzzes Router::match and Router::upstream_path with arbitrary method/host/path bytes
// against a fixed route table that exercises every kind of candidate (bucketed prefixes,
// short prefixes, regexes, hosts with wildcards and ports, methods).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/router/router.h"

namespace {

using suoke::gateway::Route;
using suoke::gateway::Service;
using suoke::gateway::router::Router;

struct Table {
  std::vector<Service> services;
  std::vector<Route> routes;
  Router router;
};

Route route(std::string name, std::vector<std::string> paths, std::size_t service) {
  Route r;
  r.id = name;
  r.name = std::move(name);
  r.paths = std::move(paths);
  r.service_index = service;
  return r;
}

Table* make_table() {
  std::vector<Service> services(3);
  services[0].path = "";
  services[1].path = "/base/";
  services[2].path = "/s";
  std::vector<Route> routes;
  routes.push_back(route("auth", {"/api/v1/auth"}, 0));
  routes.back().methods = {"GET", "POST"};
  routes.push_back(route("short", {"/a"}, 1));
  routes.push_back(route("root", {"/"}, 2));
  routes.back().strip_path = false;
  routes.push_back(route("re", {R"(~/users/(?<id>\d+)/?$)", R"(~/x(a|b)*c)"}, 1));
  routes.back().regex_priority = 3;
  routes.push_back(route("hosts", {"/h/"}, 0));
  routes.back().hosts = {"*.example.com", "example.*", "exact.com:8000"};
  routes.push_back(route("v1", {"/v1/"}, 2));
  routes.back().path_handling = "v1";
  routes.push_back(route("hostonly", {}, 2));
  routes.back().hosts = {"only.host"};
  auto built = Router::build(routes, services);
  if (!built.ok()) std::abort();
  // The router points into the vectors, so they must be moved in after building: a vector's
  // move keeps its buffer.
  return new Table{std::move(services), std::move(routes), std::move(built).value()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static Table* table = make_table();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // "method\nhost\npath"; missing parts are empty.
  std::string_view parts[3];
  for (int i = 0; i < 3; ++i) {
    std::size_t nl = i < 2 ? in.find('\n') : std::string_view::npos;
    parts[i] = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  }
  auto m = table->router.match(parts[0], parts[1], parts[2]);
  if (m) {
    if (m->route == nullptr) std::abort();
    if (m->matched_path.data() != nullptr &&
        (m->matched_path.data() < parts[2].data() ||
         m->matched_path.data() + m->matched_path.size() > parts[2].data() + parts[2].size())) {
      std::abort();  // matched_path must be a view into the request path
    }
    std::string up = Router::upstream_path(*m, parts[2]);
    if (up.empty()) std::abort();
  }
  return 0;
}
