// Kong's file-log plugin: one JSON object per line with the fields of Kong's log serializer
// (kong/pdk/log.lua serialize()), appended to `config.path` by a background writer shared
// through the PluginRuntime, so a configuration change does not reopen the file.
#pragma once

#include <memory>
#include <string>

#include "gateway/plugins/file_log/writer.h"
#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins::file_log {

// The record Kong's serializer produces for this request (no trailing newline).
std::string serialize(const RequestContext& ctx);

class Handler final : public PluginHandler {
 public:
  Handler(const gateway::Plugin& entity, std::shared_ptr<LogWriter> writer);
  void log(const RequestContext& ctx) const override;

 private:
  std::shared_ptr<LogWriter> writer_;
};

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity, const Snapshot& snapshot,
                                                    PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins::file_log
