// The control plane's source of truth: every entity, changed only through atomic
// transactions. A change is applied to a copy, validated (schemas, references, router
// compilation), written to disk when a data_dir is set, and only then becomes current; a new
// immutable Snapshot is published to subscribers after each commit.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"
#include "gateway/entities/entities.h"
#include "gateway/snapshot.h"

namespace suoke::gateway::store {

struct StoreOptions {
  // Empty: memory only. Otherwise the configuration lives in data_dir/kong.json (Kong's
  // declarative format), rewritten atomically (temp file, fsync, rename, fsync dir) on every
  // change before the change is acknowledged.
  std::string data_dir;
  const Clock* clock = nullptr;  // nullptr: Clock::system()
  // Runs on every snapshot before it is committed (the gateway attaches its plugin plan
  // here). A failure rejects the change like a schema violation, so a configuration whose
  // plugins cannot be instantiated is never applied.
  std::function<Result<void>(Snapshot&)> finalize_snapshot;
};

class ConfigStore {
 public:
  // Loads data_dir/kong.json when it exists; an unreadable or invalid file is an error.
  static Result<std::unique_ptr<ConfigStore>> open(StoreOptions options);
  ~ConfigStore();
  ConfigStore(const ConfigStore&) = delete;
  ConfigStore& operator=(const ConfigStore&) = delete;

  // Never null; version 0 and an empty config before the first change.
  std::shared_ptr<const Snapshot> snapshot() const;
  // Called after every commit, in commit order, on the writer's thread.
  void on_change(std::function<void(std::shared_ptr<const Snapshot>)> callback);

  // Replaces the whole configuration (all or nothing). Errors list every violation.
  Result<void> load_declarative(std::string_view text, std::string_view source_name);
  // Same, from a parsed document; `error_lines` receives "path: message" lines on failure.
  Result<void> load_declarative_document(const boost::json::value& document,
                                         std::string_view source_name,
                                         std::vector<std::string>* error_lines);
  std::string export_declarative(bool yaml) const;

  using Mutation = std::function<entities::DbResult<boost::json::object>(entities::Config&)>;
  // Runs `mutation` on a copy of the configuration and commits the copy if it succeeds and
  // the result compiles and persists. A failed disk write is a DbError with status 500 and
  // code 8 ("database error"); the current state is then unchanged. When `changed` is false
  // after a successful mutation (e.g. deleting something absent), nothing is written.
  entities::DbResult<boost::json::object> write(const Mutation& mutation, bool* changed = nullptr);

  // A consistent copy of the current configuration.
  entities::Config config() const;
  int64_t now_s() const;

 private:
  struct Impl;
  explicit ConfigStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Builds the data plane's view of `config` (router included). Fails when the router does not
// compile.
Result<std::shared_ptr<const Snapshot>> build_snapshot(
    const entities::Config& config, uint64_t version,
    const std::function<Result<void>(Snapshot&)>& finalize = {});

}  // namespace suoke::gateway::store
