// The seam where plugins attach to the proxy (Kong's phases). The proxy calls a runner, when
// one is installed, in this order for each request: access() before the upstream is
// contacted (it may answer the request itself), header_filter() on the upstream response
// head, body_filter() on each piece of the response body as it streams, log() once the
// response is complete. With no runner installed the proxy skips every call.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/snapshot.h"
#include "http/message.h"

namespace suoke::gateway::proxy {

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

struct ProxyContext {
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

  // Access phase outputs.
  std::optional<http::Response> exit;  // answer without proxying
  http::HeaderList upstream_headers;   // set (replace) on the upstream request
  http::HeaderList response_headers;   // set on the client response

  // Filled as the request progresses, for header_filter/log.
  int status = 0;
  uint64_t request_body_bytes = 0;
  uint64_t response_body_bytes = 0;
  int64_t upstream_latency_ms = -1;
  int64_t proxy_latency_ms = 0;
};

// The upstream response head as the client will receive it; header_filter may edit it.
struct ResponseHead {
  int status = 0;
  http::HeaderList headers;  // hop-by-hop and framing headers already removed
};

class PluginRunner {
 public:
  virtual ~PluginRunner() = default;
  virtual void access(ProxyContext& ctx) = 0;
  virtual void header_filter(ProxyContext& ctx, ResponseHead& head) = 0;
  // `chunk` may be rewritten; `eof` marks the last call for this response.
  virtual void body_filter(ProxyContext& ctx, std::string& chunk, bool eof) = 0;
  virtual void log(const ProxyContext& ctx) = 0;
};

}  // namespace suoke::gateway::proxy
