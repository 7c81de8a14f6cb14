#include "redis/url.h"

#include <charconv>

namespace suoke::redis {

std::string Endpoint::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {

Error url_error(const std::string& message) { return Error::make("invalid redis URL: " + message, "config"); }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percent_decode(std::string_view s, const char* what) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) {
      return url_error(std::string("truncated percent escape in the ") + what);
    }
    int hi = hex_digit(s[i + 1]);
    int lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return url_error(std::string("bad percent escape in the ") + what);
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<Endpoint> parse_host_port(std::string_view s, bool port_required) {
  if (s.empty()) return url_error("missing host");
  Endpoint ep;
  std::string_view port_text;
  if (s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos) return url_error("unterminated '[' in host '" + std::string(s) + "'");
    ep.host = std::string(s.substr(1, close - 1));
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return url_error("expected ':' after ']' in '" + std::string(s) + "'");
      port_text = rest.substr(1);
    }
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      ep.host = std::string(s);
    } else {
      ep.host = std::string(s.substr(0, colon));
      port_text = s.substr(colon + 1);
      if (port_text.empty()) return url_error("empty port in '" + std::string(s) + "'");
    }
    if (ep.host.find_first_of("/?#@ ") != std::string::npos) {
      return url_error("bad host '" + ep.host + "'");
    }
  }
  if (ep.host.empty()) return url_error("missing host in '" + std::string(s) + "'");
  if (port_text.empty()) {
    if (port_required) return url_error("missing port in '" + std::string(s) + "'");
    ep.port = 6379;
    return ep;
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return url_error("bad port '" + std::string(port_text) + "'");
  }
  ep.port = static_cast<uint16_t>(port);
  return ep;
}

}  // namespace

Result<RedisUrl> parse_redis_url(std::string_view url) {
  RedisUrl out;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    return url_error("expected redis://, rediss:// or redis-cluster://, got '" + std::string(url.substr(0, 40)) + "'");
  }
  std::string_view scheme = url.substr(0, sep);
  if (scheme == "redis") {
    out.scheme = RedisUrl::Scheme::kRedis;
  } else if (scheme == "rediss") {
    out.scheme = RedisUrl::Scheme::kRediss;
  } else if (scheme == "redis-cluster") {
    out.scheme = RedisUrl::Scheme::kCluster;
  } else {
    return url_error("unknown scheme '" + std::string(scheme) + "' (expected redis, rediss or redis-cluster)");
  }
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return url_error("query parameters and fragments are not supported");
  }
  // userinfo ends at the last '@' so that a password may contain an unescaped '@'.
  auto at = rest.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      auto pass = percent_decode(userinfo, "password");
      if (!pass.ok()) return pass.error();
      out.password = std::move(*pass);
    } else {
      auto user = percent_decode(userinfo.substr(0, colon), "user name");
      if (!user.ok()) return user.error();
      auto pass = percent_decode(userinfo.substr(colon + 1), "password");
      if (!pass.ok()) return pass.error();
      out.username = std::move(*user);
      out.password = std::move(*pass);
    }
    if (!out.username.empty() && out.password.empty()) {
      return url_error("user '" + out.username + "' given without a password");
    }
  }
  std::string_view hosts = rest;
  auto slash = rest.find('/');
  if (slash != std::string_view::npos) {
    hosts = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) {
      int n = 0;
      auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), n);
      if (ec != std::errc() || end != db.data() + db.size() || n < 0) {
        return url_error("database must be a non-negative number, got '" + std::string(db) + "'");
      }
      out.db = n;
    }
  }
  if (out.scheme == RedisUrl::Scheme::kCluster) {
    if (out.db != 0) return url_error("a cluster has only database 0");
    std::size_t start = 0;
    for (;;) {
      auto comma = hosts.find(',', start);
      std::string_view one = hosts.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      auto ep = parse_host_port(one, false);
      if (!ep.ok()) return ep.error();
      out.endpoints.push_back(std::move(*ep));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  } else {
    if (hosts.find(',') != std::string_view::npos) {
      return url_error("several hosts need redis-cluster://");
    }
    auto ep = parse_host_port(hosts, false);
    if (!ep.ok()) return ep.error();
    out.endpoints.push_back(std::move(*ep));
  }
  return out;
}

}  // namespace suoke::redis
