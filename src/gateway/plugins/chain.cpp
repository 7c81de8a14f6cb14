#include "gateway/plugins/chain.h"

#include <algorithm>
#include <map>

#include "core/log.h"
#include "gateway/plugins/registry.h"

namespace suoke::gateway::plugins {
namespace {

// Kong's precedence, most specific first (kong/runloop/plugins_iterator.lua).
int specificity(const gateway::Plugin& p) {
  bool r = p.route_id.has_value(), s = p.service_id.has_value(), c = p.consumer_id.has_value();
  if (r && s && c) return 0;
  if (r && c) return 1;
  if (s && c) return 2;
  if (r && s) return 3;
  if (c) return 4;
  if (r) return 5;
  if (s) return 6;
  return 7;
}

bool applies_to(const gateway::Plugin& p, const Route* route, const Service* service) {
  if (p.route_id && (!route || *p.route_id != route->id)) return false;
  if (p.service_id && (!service || *p.service_id != service->id)) return false;
  return true;
}

std::string consumer_key(std::string_view consumer_id, std::string_view name) {
  std::string key(consumer_id);
  key += '\n';
  key += name;
  return key;
}

}  // namespace

Result<std::shared_ptr<const Plan>> Plan::build(const Snapshot& snapshot, PluginRuntime& runtime) {
  auto plan = std::make_shared<Plan>();
  // Instances in snapshot order; `by_entity` maps an entity to its instance.
  std::vector<const PluginHandler*> by_entity(snapshot.plugins.size(), nullptr);
  for (std::size_t i = 0; i < snapshot.plugins.size(); ++i) {
    const gateway::Plugin& entity = snapshot.plugins[i];
    if (!entity.enabled) continue;
    PluginFactory factory = find_factory(entity.name);
    if (!factory) continue;  // a schema-only plugin: stored and validated, no behavior yet
    auto created = factory(entity, snapshot, runtime);
    if (!created.ok()) {
      return Error::make("plugin '" + entity.name + "' (" + entity.id + "): " + created.error().message, "schema");
    }
    by_entity[i] = created.value().get();
    plan->instances_.push_back(std::move(created).value());
  }

  // Consumer-scoped candidates, most specific first.
  for (std::size_t i = 0; i < snapshot.plugins.size(); ++i) {
    const gateway::Plugin& entity = snapshot.plugins[i];
    if (!by_entity[i] || !entity.consumer_id) continue;
    plan->consumer_scoped_[consumer_key(*entity.consumer_id, entity.name)].push_back(by_entity[i]);
  }
  for (auto& [key, candidates] : plan->consumer_scoped_) {
    std::stable_sort(candidates.begin(), candidates.end(), [](const PluginHandler* a, const PluginHandler* b) {
      return specificity(a->entity()) < specificity(b->entity());
    });
  }

  // Per route: for every plugin name, the most specific consumer-less config that applies.
  plan->per_route_.resize(snapshot.routes.size());
  for (std::size_t r = 0; r < snapshot.routes.size(); ++r) {
    const Route* route = &snapshot.routes[r];
    const Service* service =
        route->service_index == kNoIndex ? nullptr : &snapshot.services[route->service_index];
    std::map<std::string_view, Step> by_name;
    for (std::size_t i = 0; i < snapshot.plugins.size(); ++i) {
      const gateway::Plugin& entity = snapshot.plugins[i];
      const PluginHandler* instance = by_entity[i];
      if (!instance || !applies_to(entity, route, service)) continue;
      Step& step = by_name[entity.name];
      step.name = entity.name;
      const PluginSchema* schema = find_schema(entity.name);
      step.priority = schema ? schema->priority : 0;
      if (entity.consumer_id) {
        step.has_consumer_configs = true;
      } else if (!step.instance || specificity(entity) < specificity(step.instance->entity())) {
        step.instance = instance;
      }
    }
    auto& steps = plan->per_route_[r];
    for (auto& [name, step] : by_name) steps.push_back(step);
    std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) {
      return a.priority > b.priority;  // ties stay in name order (the map's order)
    });
    if (steps.size() > RequestContext::kMaxActivePlugins) {
      return Error::make("route " + route->id + " has more than " +
                             std::to_string(RequestContext::kMaxActivePlugins) + " plugins",
                         "schema");
    }
  }
  return std::shared_ptr<const Plan>(std::move(plan));
}

const PluginHandler* Plan::for_consumer(std::string_view name, const Consumer& consumer, const Route* route,
                                 const Service* service) const {
  auto it = consumer_scoped_.find(consumer_key(consumer.id, name));
  if (it == consumer_scoped_.end()) return nullptr;
  for (const PluginHandler* candidate : it->second) {
    if (applies_to(candidate->entity(), route, service)) return candidate;
  }
  return nullptr;
}

Result<void> attach_plan(Snapshot& snapshot, PluginRuntime& runtime) {
  auto plan = Plan::build(snapshot, runtime);
  if (!plan.ok()) return plan.error();
  snapshot.plugin_plan = std::move(plan).value();
  return Ok();
}

void ChainRunner::access(RequestContext& ctx) {
  ctx.active_count = 0;
  ctx.next_step = 0;
  ctx.clear_suspended();
  run_access(ctx);
}

void ChainRunner::resume_access(RequestContext& ctx) {
  ctx.clear_suspended();
  run_access(ctx);
}

void ChainRunner::run_access(RequestContext& ctx) {
  const Plan* plan = ctx.snapshot ? ctx.snapshot->plugin_plan.get() : nullptr;
  if (!plan || !ctx.route) return;
  std::size_t route_index = static_cast<std::size_t>(ctx.route - ctx.snapshot->routes.data());
  const auto& steps = plan->steps(route_index);
  for (std::size_t i = ctx.next_step; i < steps.size(); ++i) {
    const Plan::Step& step = steps[i];
    const PluginHandler* instance = step.instance;
    if (ctx.consumer && step.has_consumer_configs) {
      if (const PluginHandler* scoped = plan->for_consumer(step.name, *ctx.consumer, ctx.route, ctx.service)) {
        instance = scoped;
      }
    }
    if (!instance) continue;
    ctx.active_plugins[ctx.active_count++] = instance;
    // After an exit the remaining plugins do not run their access phase, but they still see
    // the response and the log (Kong runs header_filter/log for every plugin of the request).
    if (!ctx.exit) {
      instance->access(ctx);
      if (ctx.suspended()) {
        ctx.next_step = i + 1;
        return;
      }
    }
  }
  ctx.next_step = steps.size();
}

void ChainRunner::header_filter(RequestContext& ctx, ResponseHead& head) {
  for (std::size_t i = 0; i < ctx.active_count; ++i) ctx.active_plugins[i]->header_filter(ctx, head);
}

void ChainRunner::body_filter(RequestContext& ctx, std::string& chunk, bool eof) {
  for (std::size_t i = 0; i < ctx.active_count; ++i) ctx.active_plugins[i]->body_filter(ctx, chunk, eof);
}

void ChainRunner::log(const RequestContext& ctx) {
  for (std::size_t i = 0; i < ctx.active_count; ++i) ctx.active_plugins[i]->log(ctx);
}

}  // namespace suoke::gateway::plugins
