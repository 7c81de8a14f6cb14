// Shared by the rate-limiting handler tests and the redis-policy itest: request headers, the
// plugin entity as the control plane stores it, and a handler with a runtime of its own.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/clock.h"
#include "gateway/plugins/rate_limiting/handler.h"
#include "gateway/plugins/registry.h"
#include "http/message.h"

namespace suoke::gateway::plugins::rate_limiting::test_support {

constexpr int64_t kNow = 1'700'000'000'123;  // 2023-11-14T22:13:20.123Z

class Headers final : public HeaderView {
 public:
  http::HeaderList list;
  std::size_t size() const override { return list.size(); }
  std::string_view name(std::size_t i) const override { return list[i].first; }
  std::string_view value(std::size_t i) const override { return list[i].second; }
  std::string_view get(std::string_view n) const override { return http::find_header(list, n); }
};

// A plugin entity as the control plane stores it: the config validated, Kong's defaults in.
inline gateway::Plugin entity(boost::json::object config, std::string id = "rl-1") {
  const PluginSchema* s = find_schema("rate-limiting");
  boost::json::value v = config;
  s->translate_shorthands(v.as_object());
  schema::Errors errors;
  boost::json::value out = schema::validate(*s->config, &v, {{"config", -1}}, errors);
  EXPECT_TRUE(errors.empty()) << schema::schema_violation_message(errors);
  gateway::Plugin p;
  p.id = std::move(id);
  p.name = "rate-limiting";
  p.config = out.as_object();
  return p;
}

// A handler of `config` on a clock fixed at kNow, with its own runtime: its own local
// counters, and under policy redis its own client, as one gateway process has.
struct HandlerWithRuntime {
  FakeClock clock{kNow};
  PluginRuntime runtime{clock};
  Snapshot snapshot;
  gateway::Plugin plugin;
  std::unique_ptr<PluginHandler> handler;

  explicit HandlerWithRuntime(boost::json::object config, std::string id = "rl-1")
      : plugin(entity(std::move(config), std::move(id))) {
    auto h = create(plugin, snapshot, runtime);
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
    if (h.ok()) handler = std::move(h).value();
  }
};

}  // namespace suoke::gateway::plugins::rate_limiting::test_support
