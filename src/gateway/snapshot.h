// The gateway's configuration as the data plane sees it: an immutable snapshot, compiled off
// the request path from the entity store and swapped atomically. In-flight requests keep the
// snapshot they started with (they hold a shared_ptr to it).
#pragma once

#include <boost/json/object.hpp>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace suoke::gateway {

namespace router {
class Router;
}
namespace plugins {
class Plan;
}

inline constexpr std::size_t kNoIndex = std::numeric_limits<std::size_t>::max();

// Kong's Service entity, with `url` already split into its parts.
struct Service {
  std::string id;
  std::string name;  // may be empty
  std::string protocol = "http";
  std::string host;
  uint16_t port = 80;
  std::string path;  // empty when the service has none
  int connect_timeout_ms = 60000;
  int write_timeout_ms = 60000;
  int read_timeout_ms = 60000;
  int retries = 5;
  bool enabled = true;
};

// Kong's Route entity.
struct Route {
  std::string id;
  std::string name;
  std::vector<std::string> protocols{"http", "https"};
  std::vector<std::string> methods;  // empty: any method
  std::vector<std::string> hosts;    // empty: any host; "*.example.com" and "example.*" wildcards
  std::vector<std::string> paths;    // prefixes; "~" starts a regex
  int regex_priority = 0;
  bool strip_path = true;
  bool preserve_host = false;
  std::string path_handling = "v0";
  int64_t created_at = 0;
  std::size_t service_index = kNoIndex;  // into Snapshot::services
};

// Kong's Plugin entity. `config` holds the full config with Kong's defaults filled in.
struct Plugin {
  std::string id;
  std::string name;
  bool enabled = true;
  std::optional<std::string> service_id;
  std::optional<std::string> route_id;
  std::optional<std::string> consumer_id;
  boost::json::object config;
};

struct Consumer {
  std::string id;
  std::string username;
  std::string custom_id;
};

struct JwtCredential {
  std::string id;
  std::string consumer_id;
  std::string key;
  std::string secret;
  std::string algorithm = "HS256";
  std::string rsa_public_key;
};

struct Snapshot {
  uint64_t version = 0;
  // Kong's /status `configuration_hash`: 32 hex chars, "00000000000000000000000000000000" when empty.
  std::string configuration_hash;
  std::vector<Service> services;
  std::vector<Route> routes;
  std::vector<Plugin> plugins;
  std::vector<Consumer> consumers;
  std::vector<JwtCredential> jwt_credentials;
  // Built from `routes` by compile_router(); never null in a published snapshot.
  std::shared_ptr<const router::Router> router;

  // The plugin instances for this snapshot, attached by the gateway before publishing (null
  // when no plugin runtime is wired, e.g. in control-plane-only tools).
  std::shared_ptr<const plugins::Plan> plugin_plan;

  // Builds `router` from `routes` and `services`. Fails on an invalid route (e.g. a bad regex).
  Result<void> compile_router();
};

// Publishes snapshots to the workers. publish() is rare and may lock; the hot path uses a
// Reader, which only does an atomic load of the generation unless a new snapshot arrived.
class SnapshotHolder {
 public:
  explicit SnapshotHolder(std::shared_ptr<const Snapshot> initial);

  void publish(std::shared_ptr<const Snapshot> next);
  std::shared_ptr<const Snapshot> latest() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // One per worker thread; not thread-safe itself.
  class Reader {
   public:
    explicit Reader(const SnapshotHolder& holder) : holder_(&holder) {}
    const std::shared_ptr<const Snapshot>& current() {
      uint64_t gen = holder_->generation();
      if (gen != cached_generation_ || !cached_) {
        cached_ = holder_->latest();
        cached_generation_ = gen;
      }
      return cached_;
    }

   private:
    const SnapshotHolder* holder_;
    uint64_t cached_generation_ = 0;
    std::shared_ptr<const Snapshot> cached_;
  };

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> latest_;
  std::atomic<uint64_t> generation_{1};
};

}  // namespace suoke::gateway
