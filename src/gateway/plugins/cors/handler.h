// The cors plugin (Kong 3.x kong/plugins/cors/handler.lua, priority 2000).
//
// Preflight (OPTIONS with Origin and Access-Control-Request-Method) is answered by the
// gateway with 200 and the Access-Control-Allow-* headers, unless preflight_continue hands
// it to the upstream (then no CORS header is added, as in Kong). Other requests with an
// Origin get Access-Control-Allow-Origin / -Credentials / -Expose-Headers in header_filter,
// which also runs on exit responses (a jwt 401 stays readable by the browser).
//
// Origins, as Kong matches them:
//   - none, or just "*": Access-Control-Allow-Origin: * (no Vary, the answer is the same
//     for everyone); with credentials the request's origin is echoed instead, plus Vary;
//   - a single entry made only of [A-Za-z0-9.:/-]: sent as is, whatever the request's
//     origin (the browser enforces the match);
//   - otherwise each entry is compared with the request's origin normalized to
//     scheme://host[:port] (default ports dropped): an entry with any other character is a
//     regex, anchored at both ends, matched against the origin's host when the entry has no
//     ':' and against the normalized origin otherwise; other entries compare exactly.
//     The matched, normalized origin is echoed; no match removes the header.
// `Vary: Origin` is sent whenever the answer depends on the origin.
#pragma once

#include <boost/regex.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins::cors {

// scheme://host[:port] without path and default port, or the input itself when it has no
// host (LuaSocket's url.parse as Kong's normalize_origin uses it).
struct NormalizedOrigin {
  std::string domain;
  std::string host;
};
NormalizedOrigin normalize_origin(std::string_view origin);

class Handler final : public PluginHandler {
 public:
  struct OriginRule {
    bool any = false;                   // "*"
    std::optional<boost::regex> regex;  // anchored
    bool by_host = false;               // regex applies to the host only
    std::string domain;                 // exact entries, normalized
  };

  Handler(const gateway::Plugin& entity, std::vector<OriginRule> rules);

  void access(RequestContext& ctx) const override;
  void header_filter(RequestContext& ctx, ResponseHead& head) const override;

 private:
  enum class HeaderMode { kSet, kAdd };
  // Returns true when every origin is allowed ("*").
  bool configure_origin(http::HeaderList& headers, bool in_header_filter,
                        std::string_view req_origin) const;
  void configure_credentials(http::HeaderList& headers, bool allow_all, bool in_header_filter,
                             std::string_view req_origin) const;

  std::vector<OriginRule> rules_;
  std::size_t configured_origins_ = 0;
  bool single_star_ = false;
  std::optional<std::string> single_literal_;  // one origin with no regex characters
  std::string allow_headers_;                  // joined; empty: echo the request's
  std::string allow_methods_;
  std::string expose_headers_;
  std::optional<std::string> max_age_;
  bool credentials_ = false;
  bool private_network_ = false;
  bool preflight_continue_ = false;
};

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins::cors
