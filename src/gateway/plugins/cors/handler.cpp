#include "gateway/plugins/cors/handler.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "core/log.h"

namespace suoke::gateway::plugins::cors {
namespace {

namespace json = boost::json;

constexpr std::string_view kDefaultMethods = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT";

// Kong: an origin made only of these characters is a plain origin, anything else a regex.
bool is_plain_origin_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == ':' || c == '/' ||
         c == '-';
}
bool looks_like_regex(std::string_view entry) {
  for (char c : entry) {
    if (!is_plain_origin_char(c)) return true;
  }
  return false;
}

void set_header(http::HeaderList& headers, std::string_view name, std::string_view value) {
  bool placed = false;
  std::erase_if(headers, [&](auto& h) {
    if (!http::iequals(h.first, name)) return false;
    if (placed) return true;
    h.second.assign(value);
    placed = true;
    return false;
  });
  if (!placed) headers.emplace_back(std::string(name), std::string(value));
}

void clear_header(http::HeaderList& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return http::iequals(h.first, name); });
}

// True when a Vary value already covers Origin (listed, or "*").
bool vary_covers_origin(std::string_view value) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view token = value.substr(0, comma);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token == "*" || http::iequals(token, "origin")) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

void add_vary(http::HeaderList& headers, bool in_header_filter) {
  if (!in_header_filter) return set_header(headers, "Vary", "Origin");
  // Kong adds another Vary header; one that already names Origin makes that redundant.
  for (const auto& h : headers) {
    if (http::iequals(h.first, "vary") && vary_covers_origin(h.second)) return;
  }
  headers.emplace_back("Vary", "Origin");
}

std::string join(const json::value* list) {
  std::string out;
  if (!list || !list->is_array()) return out;
  for (const auto& v : list->get_array()) {
    if (!v.is_string()) continue;
    if (!out.empty()) out.push_back(',');
    out.append(v.get_string());
  }
  return out;
}

bool flag(const json::object& config, std::string_view name) {
  const json::value* v = config.if_contains(name);
  return v && v->is_bool() && v->get_bool();
}

bool is_preflight(const RequestContext& ctx) {
  return ctx.method == "OPTIONS" && ctx.request_headers &&
         !ctx.request_headers->get("origin").empty() &&
         !ctx.request_headers->get("access-control-request-method").empty();
}

}  // namespace

NormalizedOrigin normalize_origin(std::string_view origin) {
  // LuaSocket's url.parse, reduced to what normalize_origin reads.
  std::string_view rest = origin;
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  std::string_view scheme;
  if (!rest.empty() && std::isalnum(static_cast<unsigned char>(rest[0]))) {
    std::size_t i = 1;
    while (i < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[i])) ||
                               rest[i] == '+' || rest[i] == '-' || rest[i] == '.')) {
      ++i;
    }
    if (i < rest.size() && rest[i] == ':') {
      scheme = rest.substr(0, i);
      rest.remove_prefix(i + 1);
    }
  }
  if (rest.substr(0, 2) != "//") return {std::string(origin), std::string(origin)};
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find('/'));
  if (auto at = authority.find('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::optional<std::string_view> port;
  if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    std::string_view p = authority.substr(colon + 1);
    if (p.find(']') == std::string_view::npos) {
      port = p;
      authority = authority.substr(0, colon);
    }
  }
  if (authority.empty()) return {std::string(origin), std::string(origin)};
  std::string_view host = authority;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if ((scheme == "http" && port == std::string_view("80")) ||
      (scheme == "https" && port == std::string_view("443"))) {
    port.reset();
  }
  NormalizedOrigin out;
  if (!scheme.empty()) {
    out.domain.append(scheme);
    out.domain.append("://");
  }
  out.domain.append(host);
  if (port) {
    out.domain.push_back(':');
    out.domain.append(*port);
  }
  out.host.assign(host);
  return out;
}

Handler::Handler(const gateway::Plugin& entity, std::vector<OriginRule> rules)
    : PluginHandler(entity), rules_(std::move(rules)) {
  const json::object& c = entity.config;
  const json::value* origins = c.if_contains("origins");
  if (origins && origins->is_array()) {
    const json::array& list = origins->get_array();
    configured_origins_ = list.size();
    if (list.size() == 1 && list[0].is_string()) {
      std::string_view only = list[0].get_string();
      if (only == "*") {
        single_star_ = true;
      } else if (!only.empty() && !looks_like_regex(only)) {
        single_literal_.emplace(only);
      }
    }
  }
  allow_headers_ = join(c.if_contains("headers"));
  const json::value* methods = c.if_contains("methods");
  allow_methods_ = methods && methods->is_array() ? join(methods) : std::string(kDefaultMethods);
  expose_headers_ = join(c.if_contains("exposed_headers"));
  if (const json::value* m = c.if_contains("max_age"); m && m->is_number()) {
    double d = m->to_number<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      max_age_ = std::to_string(static_cast<int64_t>(d));
    } else {
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      max_age_ = std::string(buf, r.ptr);  // Lua's tostring: 1.5, not Boost's 1.5E0
    }
  }
  credentials_ = flag(c, "credentials");
  private_network_ = flag(c, "private_network");
  preflight_continue_ = flag(c, "preflight_continue");
}

bool Handler::configure_origin(http::HeaderList& headers, bool in_header_filter,
                               std::string_view req_origin) const {
  if (configured_origins_ == 0 || single_star_) {
    set_header(headers, "Access-Control-Allow-Origin", "*");
    return true;
  }
  // Always set when the answer depends on the origin (caches key on it).
  add_vary(headers, in_header_filter);
  if (single_literal_) {
    set_header(headers, "Access-Control-Allow-Origin", *single_literal_);
    return false;
  }
  if (!req_origin.empty()) {
    NormalizedOrigin normalized;
    bool normalized_done = false;
    for (const OriginRule& rule : rules_) {
      if (rule.any) {
        set_header(headers, "Access-Control-Allow-Origin", "*");
        return true;
      }
      if (!normalized_done) {
        normalized = normalize_origin(req_origin);
        normalized_done = true;
      }
      bool found;
      if (rule.regex) {
        const std::string& subject = rule.by_host ? normalized.host : normalized.domain;
        try {
          found = boost::regex_search(subject, *rule.regex, boost::match_continuous);
        } catch (const std::exception& e) {
          // Boost.Regex gives up on pathological backtracking; a client's origin must not
          // take the request down with it.
          log::warn("cors: origin regex failed",
                    {{"origin", std::string(req_origin)}, {"error", e.what()}});
          found = false;
        }
      } else {
        found = normalized.domain == rule.domain;
      }
      if (found) {
        set_header(headers, "Access-Control-Allow-Origin", normalized.domain);
        return false;
      }
    }
  }
  clear_header(headers, "Access-Control-Allow-Origin");
  return false;
}

void Handler::configure_credentials(http::HeaderList& headers, bool allow_all,
                                    bool in_header_filter, std::string_view req_origin) const {
  if (!credentials_) return;
  if (!allow_all) {
    set_header(headers, "Access-Control-Allow-Credentials", "true");
    return;
  }
  // Browsers refuse credentials with "*": echo the origin instead, which then varies.
  if (!req_origin.empty()) {
    add_vary(headers, in_header_filter);
    set_header(headers, "Access-Control-Allow-Origin", req_origin);
    set_header(headers, "Access-Control-Allow-Credentials", "true");
  }
}

void Handler::access(RequestContext& ctx) const {
  if (!is_preflight(ctx) || preflight_continue_) return;
  std::string_view req_origin = ctx.request_headers->get("origin");
  http::Response& res = ctx.exit.emplace();
  res.status = 200;
  http::HeaderList& h = res.headers;
  bool allow_all = configure_origin(h, false, req_origin);
  configure_credentials(h, allow_all, false, req_origin);
  if (!allow_headers_.empty()) {
    set_header(h, "Access-Control-Allow-Headers", allow_headers_);
  } else if (std::string_view acrh = ctx.request_headers->get("access-control-request-headers");
             !acrh.empty()) {
    set_header(h, "Access-Control-Allow-Headers", acrh);
  }
  set_header(h, "Access-Control-Allow-Methods", allow_methods_);
  if (max_age_) set_header(h, "Access-Control-Max-Age", *max_age_);
  if (private_network_ &&
      ctx.request_headers->get("access-control-request-private-network") == "true") {
    set_header(h, "Access-Control-Allow-Private-Network", "true");
  }
}

void Handler::header_filter(RequestContext& ctx, ResponseHead& head) const {
  // A preflight was answered in access with every header already, or was handed to the
  // upstream (preflight_continue), whose answer Kong leaves alone.
  if (!ctx.request_headers || is_preflight(ctx)) return;
  std::string_view req_origin = ctx.request_headers->get("origin");
  if (req_origin.empty()) return;
  bool allow_all = configure_origin(head.headers, true, req_origin);
  configure_credentials(head.headers, allow_all, true, req_origin);
  if (!expose_headers_.empty())
    set_header(head.headers, "Access-Control-Expose-Headers", expose_headers_);
}

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime) {
  std::vector<Handler::OriginRule> rules;
  const json::value* origins = entity.config.if_contains("origins");
  if (origins && origins->is_array()) {
    for (const auto& v : origins->get_array()) {
      if (!v.is_string()) continue;
      std::string entry(v.get_string());
      Handler::OriginRule rule;
      if (entry == "*") {
        rule.any = true;
      } else if (looks_like_regex(entry)) {
        rule.by_host = entry.find(':') == std::string::npos;
        // Kong anchors at both ends, keeping an anchor the user wrote.
        if (entry.empty() || entry.back() != '$') entry.push_back('$');
        if (entry.front() == '^') entry.erase(0, 1);
        try {
          rule.regex.emplace(entry, boost::regex::perl);
        } catch (const std::exception& e) {
          // The schema validated the pattern already; keep failures out of the request path.
          return Error::make(
              "origins: '" + std::string(v.get_string()) + "' is not a valid regex: " + e.what(),
              "schema");
        }
      } else {
        rule.domain = normalize_origin(entry).domain;
      }
      rules.push_back(std::move(rule));
    }
  }
  return std::unique_ptr<PluginHandler>(std::make_unique<Handler>(entity, std::move(rules)));
}

}  // namespace suoke::gateway::plugins::cors
