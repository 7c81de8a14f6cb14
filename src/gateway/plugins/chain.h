// Resolves which configured plugins run for a request and runs them in Kong's order.
//
// Precedence (Kong 3.x): for each plugin name, the most specific configuration wins:
// route+service+consumer, route+consumer, service+consumer, route+service, consumer, route,
// service, global. One instance of a plugin runs per request. Plugins run in descending
// priority (cors 2000, jwt 1450, rate-limiting 910, response-transformer 800, prometheus 13,
// file-log 9), ties by name.
//
// The Plan is compiled once per snapshot (control plane) and owns every plugin instance; the
// Runner is stateless and reads the plan from the request's snapshot, so no lock is taken
// on the request path.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins {

class Plan {
 public:
  struct Step {
    std::string_view name;
    int priority = 0;
    // The instance that applies when no consumer is identified (or none is configured
    // for the consumer); may be null when only consumer-scoped configs exist.
    const PluginHandler* instance = nullptr;
    bool has_consumer_configs = false;
  };

  // Creates every enabled plugin instance of `snapshot` (which must outlive the plan).
  static Result<std::shared_ptr<const Plan>> build(const Snapshot& snapshot, PluginRuntime& runtime);

  // The steps for requests matched by routes[route_index], in execution order.
  const std::vector<Step>& steps(std::size_t route_index) const { return per_route_[route_index]; }
  // The most specific consumer-scoped instance of `name` for this consumer, route and
  // service; null when none applies.
  const PluginHandler* for_consumer(std::string_view name, const Consumer& consumer, const Route* route,
                             const Service* service) const;
  std::size_t instance_count() const { return instances_.size(); }

 private:
  std::vector<std::unique_ptr<PluginHandler>> instances_;
  std::vector<std::vector<Step>> per_route_;
  // consumer id + '\n' + plugin name -> candidates (any route/service scoping).
  std::unordered_map<std::string, std::vector<const PluginHandler*>> consumer_scoped_;
};

// Finds a bundled plugin's factory; null for names without logic yet.
PluginFactory find_factory(std::string_view name);

class ChainRunner final : public PluginRunner {
 public:
  void access(RequestContext& ctx) override;
  // Continues after a suspension with the step after the one that suspended.
  void resume_access(RequestContext& ctx) override;
  void header_filter(RequestContext& ctx, ResponseHead& head) override;
  void body_filter(RequestContext& ctx, std::string& chunk, bool eof) override;
  void log(const RequestContext& ctx) override;

 private:
  static void run_access(RequestContext& ctx);
};

// Attaches a Plan to a freshly built snapshot (the store's finalize hook).
Result<void> attach_plan(Snapshot& snapshot, PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins
