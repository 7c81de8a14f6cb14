// The plugin interface (Kong's phases) and the per-request context plugins see. The proxy
// drives a PluginRunner; the bundled runner (chain.h) resolves, per request, which configured
// plugin instances apply (Kong's precedence) and calls them in Kong's priority order.
//
// Threading: a PluginHandler is created once per snapshot and shared by every worker
// thread, so its phase methods are const and must be thread-safe without locks on the hot
// path. Per-request scratch space lives in RequestContext::state().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <typeinfo>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "gateway/snapshot.h"
#include "http/message.h"

namespace suoke::gateway::plugins {

class PluginHandler;
struct RequestContext;

// Asynchronous access phase. A plugin whose access() must wait (e.g. for a Redis reply) calls
// ctx.suspend(), which returns a Resumer, and returns at once. The proxy then leaves the request
// alone (the worker thread serves other connections) until the Resumer is called, from any
// thread: that posts the continuation onto the request's worker io_context, where `apply` runs
// with the request's context (on the worker thread, so it may edit the context: set exit,
// headers, ...) and then the chain goes on with the next plugin. If the connection was closed
// in the meantime the continuation finds the request gone and does nothing; `apply` is then
// destroyed without running, so it must not own anything that needs the request.
//
// Call a Resumer at most once per suspension (later calls are ignored); a Resumer that is
// destroyed without being called leaves the request suspended until the connection closes,
// so a plugin bounds its own wait (e.g. with the Redis command's timeout).
class Resumer {
 public:
  using Apply = std::function<void(RequestContext&)>;
  using Post = std::function<void(Apply)>;
  Resumer() = default;
  explicit Resumer(Post post) : post_(std::move(post)) {}
  // False when the caller of the chain does not support suspension (ctx.suspend() returned it).
  explicit operator bool() const { return static_cast<bool>(post_); }
  void operator()(Apply apply = {}) const {
    if (post_) post_(std::move(apply));
  }

 private:
  Post post_;
};

// Implemented by whoever runs the access phase and can wait (the proxy session).
class Suspender {
 public:
  virtual ~Suspender() = default;
  virtual Resumer make_resumer() = 0;
};

// Read access to the request's headers as received, without copying them.
class HeaderView {
 public:
  virtual ~HeaderView() = default;
  virtual std::size_t size() const = 0;
  virtual std::string_view name(std::size_t i) const = 0;
  virtual std::string_view value(std::size_t i) const = 0;
  // First value of a header (case-insensitive); empty when absent.
  virtual std::string_view get(std::string_view name) const = 0;
};

struct RequestContext {
  const Snapshot* snapshot = nullptr;
  const Route* route = nullptr;
  const Service* service = nullptr;
  std::string_view method;
  std::string_view host;
  std::string_view path;
  std::string_view query;
  std::string_view client_ip;
  std::string_view request_id;
  const HeaderView* request_headers = nullptr;
  int64_t started_at_ms = 0;  // epoch milliseconds when the request head was complete

  // Set by an authentication plugin (jwt) in the access phase; consumer-scoped plugins that
  // run after it are then resolved for this consumer (Kong's precedence).
  const Consumer* consumer = nullptr;
  std::string credential_id;          // the credential entity's id
  std::string credential_identifier;  // e.g. the jwt `key` (Kong's X-Credential-Identifier)

  // Access phase outputs.
  std::optional<http::Response> exit;  // answer without proxying (the chain stops)
  // Set (replace) on the upstream request; an empty value removes the header, so a client
  // cannot forge identity headers such as X-Consumer-ID.
  http::HeaderList upstream_headers;
  http::HeaderList response_headers;  // set on the client response (also on exits)

  // Filled by the proxy as the request progresses, for header_filter, body_filter and log.
  int status = 0;
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
  int64_t upstream_latency_ms = -1;  // -1: the upstream was never reached
  int64_t proxy_latency_ms = 0;      // time spent in the gateway itself (Kong's "kong" latency)
  int64_t request_latency_ms = 0;    // whole request, first byte in to last byte out
  std::string upstream_uri;          // path and query sent upstream
  // Set by body_filter when the body cannot be completed correctly: if the head has not
  // reached the client yet the proxy answers 502 with `abort_message` (Kong's default message
  // when empty); otherwise it closes the connection instead of finishing the response.
  bool abort_response = false;
  std::string abort_message;
  // Set by header_filter when a plugin emits the body only once it has all of it (a JSON
  // transform): the proxy then holds the head back until the body is complete and sends it
  // with a Content-Length instead of chunked, and any failure before that is a clean 502.
  bool buffer_response_body = false;
  int tries = 0;                   // upstream connection attempts
  http::HeaderList response_head;  // the response headers as sent to the client (log phase)

  // The plugin instances resolved for this request, in execution order (filled by the
  // chain in the access phase and reused by the later phases).
  static constexpr std::size_t kMaxActivePlugins = 32;
  std::array<const PluginHandler*, kMaxActivePlugins> active_plugins{};
  std::size_t active_count = 0;

  // Async access (see Resumer). Set by the proxy; null: suspend() is not supported and returns
  // an empty Resumer (the plugin must then decide synchronously).
  Suspender* suspender = nullptr;
  // Marks the request suspended and returns its Resumer; the plugin returns from access()
  // right after. Empty (and nothing marked) when no suspender is installed.
  Resumer suspend() {
    if (!suspender) return {};
    suspended_ = true;
    return suspender->make_resumer();
  }
  bool suspended() const { return suspended_; }
  // Called by the runner of the chain when it resumes.
  void clear_suspended() { suspended_ = false; }
  // The chain's position: the index of the plan step to run next (ChainRunner).
  std::size_t next_step = 0;

  // Makes this context what a default-constructed one is, except that the containers every
  // proxied request fills keep their memory (the proxy reuses one context per connection
  // instead of allocating and freeing these for every request). Built from a fresh context,
  // so a field added later cannot leak from one request into the next.
  void recycle() {
    RequestContext fresh;
    auto keep = [](auto& from, auto& to) {
      from.clear();
      to.swap(from);
    };
    keep(upstream_headers, fresh.upstream_headers);
    keep(response_headers, fresh.response_headers);
    keep(response_head, fresh.response_head);
    keep(credential_id, fresh.credential_id);
    keep(credential_identifier, fresh.credential_identifier);
    keep(upstream_uri, fresh.upstream_uri);
    // States stay allocated for the next request's plugins; state() resets them on first use.
    for (auto& slot : states_) slot.live = false;
    fresh.states_.swap(states_);
    *this = std::move(fresh);
  }

  // Per-request, per-plugin scratch state, value-initialized on first use in each request.
  // The memory is kept across recycle(); the type is checked with the owner because a
  // handler of a newer snapshot may live at a dead handler's address.
  template <class T>
  T& state(const void* owner) {
    static constexpr char kTypeTag = 0;
    for (auto& slot : states_) {
      if (slot.owner != owner || slot.type != &kTypeTag) continue;
      T& value = *static_cast<T*>(slot.value.get());
      if (!slot.live) {
        value = T();
        slot.live = true;
      }
      return value;
    }
    // Unused slots of other owners or types are dropped before a new one is added, so
    // contexts moving between routes do not accumulate states.
    std::erase_if(states_, [](const Slot& slot) { return !slot.live; });
    states_.push_back({owner, &kTypeTag, std::shared_ptr<void>(std::make_shared<T>()), true});
    return *static_cast<T*>(states_.back().value.get());
  }

 private:
  struct Slot {
    const void* owner;
    const char* type;  // one address per state type T
    std::shared_ptr<void> value;
    bool live;  // created or reset for the current request
  };
  std::vector<Slot> states_;
  bool suspended_ = false;
};

// The upstream response head as the client will receive it; header_filter may edit it.
// A plugin that changes the body length must drop Content-Length here (the proxy then
// frames the body itself: with a Content-Length when RequestContext::buffer_response_body
// is set, else chunked).
struct ResponseHead {
  int status = 0;
  http::HeaderList headers;  // hop-by-hop and framing headers already removed
};

// The behavior of one configured plugin entity (Kong's handler.lua), ready to run.
class PluginHandler {
 public:
  explicit PluginHandler(const gateway::Plugin& entity) : entity_(&entity) {}
  virtual ~PluginHandler() = default;

  const gateway::Plugin& entity() const { return *entity_; }

  virtual void access(RequestContext& ctx) const {}
  virtual void header_filter(RequestContext& ctx, ResponseHead& head) const {}
  // Called with each piece of the response body as it streams; `chunk` may be rewritten
  // (a plugin may also hold data back and emit it on eof). `eof` marks the last call.
  virtual void body_filter(RequestContext& ctx, std::string& chunk, bool eof) const {}
  // After the response is complete. Must not block: hand slow work to a background thread.
  virtual void log(const RequestContext& ctx) const {}

 private:
  const gateway::Plugin* entity_;
};

// State that outlives snapshots (rate-limit counters, log writers, metrics): plugins obtain
// it by key when they are created, so a config change does not reset a counter or reopen a
// file. Created once per gateway process.
class PluginRuntime {
 public:
  explicit PluginRuntime(const Clock& clock = Clock::system()) : clock_(&clock) {}
  const Clock& clock() const { return *clock_; }

  // Returns the object stored under (T, key), creating it with `make` the first time.
  // Called when plugins are created (control plane), never on the request path.
  template <class T, class Make>
  std::shared_ptr<T> shared(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& e : entries_) {
      if (e.type == std::type_index(typeid(T)) && e.key == key)
        return std::static_pointer_cast<T>(e.value);
    }
    std::shared_ptr<T> created = make();
    entries_.push_back({std::type_index(typeid(T)), key, created});
    return created;
  }

  // Every stored object of type T (e.g. for /metrics rendering).
  template <class T>
  std::vector<std::shared_ptr<T>> all() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::shared_ptr<T>> out;
    for (auto& e : entries_) {
      if (e.type == std::type_index(typeid(T))) out.push_back(std::static_pointer_cast<T>(e.value));
    }
    return out;
  }

 private:
  struct Entry {
    std::type_index type;
    std::string key;
    std::shared_ptr<void> value;
  };
  const Clock* clock_;
  std::mutex mutex_;
  std::vector<Entry> entries_;
};

// Creates an instance for a validated plugin entity (its config has Kong's defaults filled).
using PluginFactory = Result<std::unique_ptr<PluginHandler>> (*)(const gateway::Plugin& entity,
                                                                 const Snapshot& snapshot,
                                                                 PluginRuntime& runtime);

// What the proxy calls; see chain.h for the bundled implementation.
class PluginRunner {
 public:
  virtual ~PluginRunner() = default;
  // Runs the access phase. If it returns with ctx.suspended(), the caller waits for the
  // Resumer, then (on the request's thread, after the Resumer's apply) calls resume_access,
  // which may suspend again.
  virtual void access(RequestContext& ctx) = 0;
  virtual void resume_access(RequestContext& ctx) {}
  virtual void header_filter(RequestContext& ctx, ResponseHead& head) = 0;
  virtual void body_filter(RequestContext& ctx, std::string& chunk, bool eof) = 0;
  virtual void log(const RequestContext& ctx) = 0;
};

}  // namespace suoke::gateway::plugins
