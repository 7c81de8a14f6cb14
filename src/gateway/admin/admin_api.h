// Kong's Admin API as a pure request handler: no sockets, no threads of its own. The process
// wiring feeds it requests from whatever listener it runs; handle() may be called from
// several threads at once (writes are serialized by the ConfigStore).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>

#include "gateway/store/config_store.h"
#include "http/message.h"

namespace suoke::gateway::admin {

// Returns /status's "server" section: connections_accepted, connections_active,
// connections_handled, connections_reading, connections_waiting, connections_writing,
// total_requests.
using StatusProvider = std::function<boost::json::object()>;

class AdminApi {
 public:
  AdminApi(store::ConfigStore& store, StatusProvider status);
  ~AdminApi();
  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

  http::Response handle(const http::Request& request);

  // Merged into GET /'s "configuration" section (listeners, data dir, ...). Call before
  // serving.
  void set_configuration(boost::json::object configuration);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace suoke::gateway::admin
