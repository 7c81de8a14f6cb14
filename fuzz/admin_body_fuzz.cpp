// Arbitrary bytes as Admin API bodies (JSON and form-encoded) for POST /services, /routes and
// /plugins on a memory-only store. Must never crash; every answer must be a Kong-style status.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "gateway/admin/admin_api.h"
#include "gateway/store/config_store.h"

namespace {

struct Harness {
  suoke::FakeClock clock;
  std::unique_ptr<suoke::gateway::store::ConfigStore> store;
  std::unique_ptr<suoke::gateway::admin::AdminApi> api;
  Harness() {
    suoke::gateway::store::StoreOptions options;
    options.clock = &clock;
    store = std::move(suoke::gateway::store::ConfigStore::open(options).value());
    api = std::make_unique<suoke::gateway::admin::AdminApi>(*store, nullptr);
    // A service to reference, so foreign-key paths are exercised too.
    suoke::http::Request req;
    req.method = "POST";
    req.target = "/services";
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = R"({"name":"s","url":"http://s.local"})";
    api->handle(req);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  static const char* kTargets[] = {"/services", "/routes", "/plugins", "/services/s/routes",
                                   "/consumers"};
  static const char* kTypes[] = {"application/json", "application/x-www-form-urlencoded"};
  if (size == 0) return 0;
  std::string body(reinterpret_cast<const char*>(data) + 1, size - 1);
  uint8_t selector = data[0];
  suoke::http::Request req;
  req.method = (selector & 0x80) ? "PATCH" : "POST";
  req.target = kTargets[selector % 5];
  if (req.method == "PATCH") req.target = "/services/s";
  req.headers.emplace_back("Content-Type", kTypes[(selector >> 3) & 1]);
  req.body = std::move(body);
  auto resp = h.api->handle(req);
  if (resp.status != 200 && resp.status != 201 && resp.status != 400 && resp.status != 404 &&
      resp.status != 409) {
    std::abort();
  }
  // Keep the store small so the fuzzer stays fast.
  if (h.store->snapshot()->services.size() + h.store->snapshot()->routes.size() > 50) {
    h.store->load_declarative(
        "_format_version: \"3.0\"\nservices:\n- name: s\n  url: http://s.local\n", "reset");
  }
  return 0;
}
