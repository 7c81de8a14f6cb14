// Kong's file-log plugin: one JSON object per line with the fields of Kong's log serializer
// (kong/pdk/log.lua serialize()), appended to `config.path` by a background writer shared
// through the PluginRuntime, so a configuration change does not reopen the file.
#pragma once

#include <memory>
#include <string>

#include "gateway/plugins/file_log/writer.h"
#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins::file_log {

// The parts of the record that depend only on the snapshot (the route, service, try and
// consumer objects), serialized once per snapshot instead of once per request.
struct SnapshotFragments;
std::shared_ptr<const SnapshotFragments> build_fragments(const Snapshot& snapshot);

// The record Kong's serializer produces for this request (no trailing newline). `fragments`
// (optional) must come from build_fragments(*ctx.snapshot) to be used; the text is the same
// with or without them.
std::string serialize(const RequestContext& ctx, const SnapshotFragments* fragments = nullptr);
// The same, appended to `out`.
void serialize_into(std::string& out, const RequestContext& ctx, const SnapshotFragments* fragments);

class Handler final : public PluginHandler {
 public:
  Handler(const gateway::Plugin& entity, std::shared_ptr<LogWriter> writer,
          std::shared_ptr<const SnapshotFragments> fragments = nullptr);
  void log(const RequestContext& ctx) const override;

 private:
  std::shared_ptr<LogWriter> writer_;
  std::shared_ptr<const SnapshotFragments> fragments_;  // for the handler's own snapshot
};

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity, const Snapshot& snapshot,
                                                    PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins::file_log
