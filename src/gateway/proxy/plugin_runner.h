// The seam where plugins attach to the proxy (Kong's phases). The proxy calls a runner, when
// one is installed, in this order for each request: access() before the upstream is
// contacted (it may answer the request itself), header_filter() on the upstream response
// head, body_filter() on each piece of the response body as it streams, log() once the
// response is complete. With no runner installed the proxy skips every call.
// The types live in the plugins component (the proxy depends on it, never the reverse).
#pragma once

#include "gateway/plugins/plugin.h"

namespace suoke::gateway::proxy {

using HeaderView = plugins::HeaderView;
using ProxyContext = plugins::RequestContext;
using ResponseHead = plugins::ResponseHead;
using PluginRunner = plugins::PluginRunner;

}  // namespace suoke::gateway::proxy
