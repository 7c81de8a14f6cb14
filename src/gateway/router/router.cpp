// Route matching with the semantics of Kong 3.x's "traditional_compatible" router flavor
// (kong/router/transform.lua + atc.lua): every (route, path) pair becomes one candidate with
// Kong's 64-bit priority, candidates are tried highest priority first, and the first whose
// method, host and path all match wins.
#include "gateway/router/router.h"

#include <algorithm>
#include <boost/regex.hpp>
#include <cstdint>
#include <exception>
#include <unordered_map>
#include <utility>

namespace suoke::gateway::router {
namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

// `pattern` is already lower case.
bool iequals_lower(std::string_view value, std::string_view pattern) {
  if (value.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (ascii_lower(value[i]) != pattern[i]) return false;
  }
  return true;
}

bool istarts_with_lower(std::string_view value, std::string_view prefix) {
  return value.size() >= prefix.size() && iequals_lower(value.substr(0, prefix.size()), prefix);
}

bool iends_with_lower(std::string_view value, std::string_view suffix) {
  return value.size() >= suffix.size() &&
         iequals_lower(value.substr(value.size() - suffix.size()), suffix);
}

// Splits "host:port" / "[v6]:port". Like Kong's split_host_port, a suffix that is not a
// number is kept as part of the host.
void split_host_port(std::string_view in, std::string_view& host, int& port) {
  host = in;
  port = -1;
  std::size_t colon = std::string_view::npos;
  if (!in.empty() && in.front() == '[') {
    std::size_t close = in.find(']');
    if (close == std::string_view::npos) return;
    if (close + 1 < in.size() && in[close + 1] == ':') colon = close + 1;
    if (colon == std::string_view::npos) return;
  } else {
    colon = in.find(':');
    if (colon == std::string_view::npos) return;
  }
  std::string_view digits = in.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return;
  int value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return;
  host = in.substr(0, colon);
  port = value;
}

// The request's first path segment ("api" for "/api/v1"), used to pick a bucket.
std::string_view first_segment(std::string_view path) {
  if (path.size() < 2 || path[0] != '/') return {};
  std::size_t end = path.find('/', 1);
  return path.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
}

struct HostPattern {
  enum Kind { kExact, kSuffix, kPrefix } kind = kExact;
  std::string text;  // lower case; without the '*'
  int port = -1;     // -1: any
};

struct Candidate {
  const Route* route = nullptr;
  const Service* service = nullptr;
  enum PathKind { kNoPath, kPrefix, kRegex } path_kind = kNoPath;
  std::string prefix;
  std::size_t regex_index = 0;  // into Impl::regexes
  std::vector<HostPattern> hosts;
  // Kong's priority fields, compared lexicographically (highest first).
  int weight = 0;
  bool plain_host_only = false;
  bool regex_url = false;
  int64_t regex_priority = 0;
  std::size_t uri_length = 0;
  // Ties: older route first, then configuration order, then path order.
  int64_t created_at = 0;
  std::size_t route_order = 0;
  std::size_t path_order = 0;
};

bool higher_priority(const Candidate& a, const Candidate& b) {
  if (a.weight != b.weight) return a.weight > b.weight;
  if (a.plain_host_only != b.plain_host_only) return a.plain_host_only;
  if (a.regex_url != b.regex_url) return a.regex_url;
  if (a.regex_priority != b.regex_priority) return a.regex_priority > b.regex_priority;
  if (a.uri_length != b.uri_length) return a.uri_length > b.uri_length;
  if (a.created_at != b.created_at) return a.created_at < b.created_at;
  if (a.route_order != b.route_order) return a.route_order < b.route_order;
  return a.path_order < b.path_order;
}

bool has_http(const Route& route) {
  return std::find(route.protocols.begin(), route.protocols.end(), "http") != route.protocols.end();
}

}  // namespace

struct Router::Impl {
  std::vector<Candidate> candidates;  // in priority order
  std::vector<boost::regex> regexes;
  // Candidates whose prefix spans a whole first segment ("/api/..."), keyed by that segment;
  // they can only match requests under it. Each list holds indexes into `candidates`, sorted.
  std::vector<std::string> bucket_keys;  // owns the keys the map's string_views point into
  std::unordered_map<std::string_view, std::vector<uint32_t>> buckets;
  // Everything else (regexes, short prefixes, no path) must be tried for every request.
  std::vector<uint32_t> general;

  bool matches(const Candidate& c, std::string_view method, std::string_view host, int port,
               std::string_view path, std::string_view& matched) const;
};

bool Router::Impl::matches(const Candidate& c, std::string_view method, std::string_view host,
                           int port, std::string_view path, std::string_view& matched) const {
  const Route& route = *c.route;
  if (!route.methods.empty()) {
    bool ok = false;
    for (const auto& m : route.methods) {
      if (m == method) {
        ok = true;
        break;
      }
    }
    if (!ok) return false;
  }
  if (!c.hosts.empty()) {
    bool ok = false;
    for (const auto& h : c.hosts) {
      if (h.port >= 0 && h.port != port) continue;
      switch (h.kind) {
        case HostPattern::kExact:
          ok = iequals_lower(host, h.text);
          break;
        case HostPattern::kSuffix:
          ok = iends_with_lower(host, h.text);
          break;
        case HostPattern::kPrefix:
          ok = istarts_with_lower(host, h.text);
          break;
      }
      if (ok) break;
    }
    if (!ok) return false;
  }
  switch (c.path_kind) {
    case Candidate::kNoPath:
      matched = {};
      return true;
    case Candidate::kPrefix:
      if (path.size() < c.prefix.size() || path.compare(0, c.prefix.size(), c.prefix) != 0) {
        return false;
      }
      matched = path.substr(0, c.prefix.size());
      return true;
    case Candidate::kRegex: {
      // Reused per thread so the match vector keeps its capacity across requests.
      thread_local boost::cmatch m;
      try {
        if (!boost::regex_search(path.data(), path.data() + path.size(), m, regexes[c.regex_index],
                                 boost::match_continuous | boost::match_not_dot_newline)) {
          return false;
        }
      } catch (const std::exception&) {
        // Boost gives up on pathological backtracking; treat it as no match, never a crash.
        return false;
      }
      matched = path.substr(0, static_cast<std::size_t>(m.length(0)));
      if (matched.data() == nullptr) matched = path.substr(0, 0);
      return true;
    }
  }
  return false;
}

Router::Router(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;
Router::~Router() = default;

Result<Router> Router::build(const std::vector<Route>& routes,
                             const std::vector<Service>& services) {
  auto impl = std::make_unique<Impl>();
  std::vector<Candidate> candidates;
  for (std::size_t ri = 0; ri < routes.size(); ++ri) {
    const Route& route = routes[ri];
    const std::string route_label = route.name.empty() ? route.id : route.name;
    const Service* service = nullptr;
    if (route.service_index != kNoIndex) {
      if (route.service_index >= services.size()) {
        return Error::make("route '" + route_label + "' refers to a missing service", "schema");
      }
      service = &services[route.service_index];
      // Kong leaves routes of disabled services out of the router.
      if (!service->enabled) continue;
    }
    if (!has_http(route)) continue;

    Candidate base;
    base.route = &route;
    base.service = service;
    base.created_at = route.created_at;
    base.route_order = ri;
    base.plain_host_only = !route.hosts.empty();
    for (const auto& h : route.hosts) {
      HostPattern p;
      std::string_view host_part;
      split_host_port(h, host_part, p.port);
      if (host_part.find('*') != std::string_view::npos) base.plain_host_only = false;
      if (!host_part.empty() && host_part.front() == '*') {
        p.kind = HostPattern::kSuffix;
        host_part.remove_prefix(1);
      } else if (!host_part.empty() && host_part.back() == '*') {
        p.kind = HostPattern::kPrefix;
        host_part.remove_suffix(1);
      }
      p.text = lower(host_part);
      base.hosts.push_back(std::move(p));
    }
    base.weight = (route.methods.empty() ? 0 : 1) + (route.hosts.empty() ? 0 : 1) +
                  (route.paths.empty() ? 0 : 1);

    if (route.paths.empty()) {
      candidates.push_back(std::move(base));
      continue;
    }
    for (std::size_t pi = 0; pi < route.paths.size(); ++pi) {
      const std::string& p = route.paths[pi];
      Candidate c = base;
      c.path_order = pi;
      if (!p.empty() && p[0] == '~') {
        c.path_kind = Candidate::kRegex;
        c.regex_url = true;
        c.regex_priority = route.regex_priority;
        try {
          impl->regexes.emplace_back(p.substr(1), boost::regex::perl);
        } catch (const std::exception& e) {
          return Error::make(
              "route '" + route_label + "': invalid regex path '" + p + "': " + e.what(), "schema");
        }
        c.regex_index = impl->regexes.size() - 1;
      } else {
        c.path_kind = Candidate::kPrefix;
        c.prefix = p;
        c.uri_length = p.size();
      }
      candidates.push_back(std::move(c));
    }
  }

  std::stable_sort(candidates.begin(), candidates.end(), higher_priority);
  impl->candidates = std::move(candidates);

  // Bucket keys must outlive the map's string_views and never move: size the vector first.
  std::vector<std::pair<std::string, uint32_t>> keyed;
  for (uint32_t i = 0; i < impl->candidates.size(); ++i) {
    const Candidate& c = impl->candidates[i];
    if (c.path_kind == Candidate::kPrefix && c.prefix.size() > 1 && c.prefix[0] == '/') {
      std::size_t slash = c.prefix.find('/', 1);
      if (slash != std::string::npos && slash > 1) {
        keyed.emplace_back(c.prefix.substr(1, slash - 1), i);
        continue;
      }
    }
    impl->general.push_back(i);
  }
  {
    std::vector<std::string> keys;
    for (const auto& [k, _] : keyed) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    impl->bucket_keys = std::move(keys);
  }
  for (const auto& [k, index] : keyed) {
    auto it = std::lower_bound(impl->bucket_keys.begin(), impl->bucket_keys.end(), k);
    impl->buckets[std::string_view(*it)].push_back(index);
  }
  return Router(std::move(impl));
}

std::optional<Match> Router::match(std::string_view method, std::string_view host,
                                   std::string_view path) const {
  const Impl& impl = *impl_;
  std::string_view host_only;
  int port = -1;
  split_host_port(host, host_only, port);

  static const std::vector<uint32_t> kEmpty;
  const std::vector<uint32_t>* bucket = &kEmpty;
  std::string_view segment = first_segment(path);
  if (!segment.empty() && !impl.buckets.empty()) {
    auto it = impl.buckets.find(segment);
    if (it != impl.buckets.end()) bucket = &it->second;
  }

  // Both lists are in global priority order; walk them as one merged list.
  const std::vector<uint32_t>& general = impl.general;
  std::size_t gi = 0, bi = 0;
  std::string_view matched;
  while (gi < general.size() || bi < bucket->size()) {
    uint32_t index;
    if (bi >= bucket->size() || (gi < general.size() && general[gi] < (*bucket)[bi])) {
      index = general[gi++];
    } else {
      index = (*bucket)[bi++];
    }
    const Candidate& c = impl.candidates[index];
    if (impl.matches(c, method, host_only, port, path, matched)) {
      return Match{c.route, c.service, matched};
    }
  }
  return std::nullopt;
}

std::string Router::upstream_path(const Match& match, std::string_view req_uri) {
  if (match.route == nullptr || match.service == nullptr) return std::string(req_uri);
  const Route& route = *match.route;
  std::string_view base = match.service->path;
  if (base.empty()) base = "/";
  if (req_uri.empty()) req_uri = "/";

  // Kong: with strip_path and a path match, the postfix is what follows the matched part;
  // otherwise the request path without its leading slash.
  const bool path_matched = match.matched_path.data() != nullptr;
  std::string_view postfix;
  if (route.strip_path && path_matched) {
    postfix = req_uri.substr(std::min(match.matched_path.size(), req_uri.size()));
  } else {
    postfix = req_uri.substr(1);
  }
  // kong.router.utils.sanitize_uri_postfix
  if (postfix == "." || postfix == "..") {
    postfix = {};
  } else if (postfix.substr(0, 2) == "./") {
    postfix.remove_prefix(2);
  } else if (postfix.substr(0, 3) == "../") {
    postfix.remove_prefix(3);
  }

  auto cat = [](std::string_view a, std::string_view b) {
    std::string out;
    out.reserve(a.size() + b.size());
    out.append(a);
    out.append(b);
    return out;
  };
  const bool base_slash = base.back() == '/';

  if (route.path_handling == "v1") {
    if (route.strip_path) {
      if (base_slash && !postfix.empty() && postfix.front() == '/') {
        return cat(base.substr(0, base.size() - 1), postfix);
      }
      return cat(base, postfix);
    }
    return cat(base, req_uri.substr(1));
  }

  // v0: kong.router.utils.get_upstream_uri
  if (base_slash) {
    if (!route.strip_path) return cat(base, req_uri.substr(1));
    if (postfix.empty()) {
      if (base == "/") return "/";
      if (req_uri.back() == '/') return std::string(base);
      return std::string(base.substr(0, base.size() - 1));
    }
    if (postfix.front() == '/') return cat(base.substr(0, base.size() - 1), postfix);
    return cat(base, postfix);
  }
  if (!route.strip_path) {
    if (req_uri == "/") return std::string(base);
    return cat(base, req_uri);
  }
  if (postfix.empty()) {
    if (req_uri.size() > 1 && req_uri.back() == '/') return cat(base, "/");
    return std::string(base);
  }
  if (postfix.front() == '/') return cat(base, postfix);
  std::string out(base);
  out.push_back('/');
  out.append(postfix);
  return out;
}

}  // namespace suoke::gateway::router
