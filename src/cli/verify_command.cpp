// `suoke verify --from URL --to URL`: compares two Redis deployments key by key (see
// src/migrate/verify.h for what is compared). This file parses flags and prints.
// Exit codes: 0 clean, 1 mismatches found, 2 usage error or a server unreachable.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "migrate/checkpoint.h"  // url_without_credentials
#include "migrate/migrate.h"
#include "migrate/verify.h"
#include "redis/client.h"
#include "redis/url.h"

namespace suoke::cli {
namespace {

constexpr const char* kVerifySummary =
    "Compares the keys of a source Redis (standalone or cluster) with a target, read with SCAN\n"
    "(never KEYS): existence, TYPE, the full value (strings, hashes, lists, sets, sorted sets,\n"
    "streams with their consumer groups; big keys in chunks) and the TTL (within --ttl-tolerance).\n"
    "With --both-ways, keys only the target has are reported too. A mismatch is reported only if\n"
    "it persists over --rounds comparisons --round-interval apart, so keys that change or expire\n"
    "during the check are not false alarms.\n"
    "--db all compares every database of the source that has keys, each under its --key-prefix\n"
    "(as suoke migrate --db all --key-prefix 'db{db}:' wrote them).\n"
    "URLs: redis://[user:pass@]host:port[/db] or redis-cluster://host:port[,host:port...]\n"
    "Exit code: 0 clean, 1 mismatches found, 2 usage error or a server unreachable.";

const std::vector<FlagSpec>& verify_flags() {
  static const std::vector<FlagSpec> flags = {
      {"from", true, "source URL (required)", ""},
      {"to", true, "target URL (required)", ""},
      {"match", true, "only keys matching this SCAN MATCH pattern", "*"},
      {"batch", true, "SCAN COUNT and keys compared per pipeline", "500"},
      {"ttl-tolerance", true, "largest accepted difference of two keys' PTTL, in ms", "1000"},
      {"both-ways", false, "also scan the target for keys missing in the source", ""},
      {"examples", true, "example keys printed per category", "10"},
      {"rounds", true, "comparisons a mismatch must survive before it is reported", "3"},
      {"round-interval", true, "ms between re-check rounds", "200"},
      {"db", true, "source database number, or all (each compared with its --key-prefix)", "from the URL"},
      {"key-prefix", true, "the target holds each key under this prefix; {db} becomes the source database", ""},
      {"json", false, "print a JSON report", ""},
      {"help", false, "show this help", ""},
  };
  return flags;
}

}  // namespace

int run_verify(const std::vector<std::string>& args) {
  const auto& flags = verify_flags();
  auto parsed = parse_args(args, flags);
  if (!parsed) {
    std::fprintf(stderr, "suoke verify: %s (see --help)\n", parsed.error().message.c_str());
    return 2;
  }
  if (parsed->has("help")) {
    std::printf("%s", format_help("suoke verify --from URL --to URL [flags]", kVerifySummary, flags).c_str());
    return 0;
  }
  if (!parsed->positional.empty()) {
    std::fprintf(stderr, "suoke verify: unexpected argument '%s' (see --help)\n", parsed->positional[0].c_str());
    return 2;
  }
  std::string from = parsed->get("from"), to = parsed->get("to");
  if (from.empty() || to.empty()) {
    std::fprintf(stderr, "suoke verify: --from URL and --to URL are required (see --help)\n");
    return 2;
  }
  migrate::VerifyOptions options;
  long batch = 500, tolerance = 1000, examples = 10, rounds = 3, interval = 200;
  if (!int_flag(*parsed, "verify", "batch", 1, 100000, &batch) || !int_flag(*parsed, "verify", "ttl-tolerance", 0, 86400000, &tolerance) ||
      !int_flag(*parsed, "verify", "examples", 0, 1000000, &examples) || !int_flag(*parsed, "verify", "rounds", 1, 100, &rounds) ||
      !int_flag(*parsed, "verify", "round-interval", 0, 600000, &interval)) {
    return 2;
  }
  options.match = parsed->get("match", "*");
  options.batch = static_cast<std::size_t>(batch);
  options.ttl_tolerance = std::chrono::milliseconds(tolerance);
  options.both_ways = parsed->has("both-ways");
  options.examples = static_cast<std::size_t>(examples);
  options.rounds = static_cast<int>(rounds);
  options.round_interval = std::chrono::milliseconds(interval);

  const std::string key_prefix = parsed->get("key-prefix");
  std::vector<int> databases;  // empty: the URL's database
  if (parsed->get("db") == "all") {
    auto probe = redis::Client::connect(from);
    if (!probe) {
      std::fprintf(stderr, "suoke verify: source %s: %s\n", migrate::url_without_credentials(from).c_str(), probe.error().message.c_str());
      return 2;
    }
    if (!(*probe)->is_cluster()) {
      auto dbs = migrate::databases_with_keys(**probe);
      if (!dbs) {
        std::fprintf(stderr, "suoke verify: source: %s\n", dbs.error().message.c_str());
        return 2;
      }
      databases = *dbs;
      if (databases.size() > 1 && key_prefix.empty()) {
        std::string names;
        for (int d : databases) names += (names.empty() ? "" : ", ") + std::to_string(d);
        std::fprintf(stderr, "suoke verify: the source has keys in databases %s; --db all needs the --key-prefix "
                             "they were migrated with (e.g. 'db{db}:')\n", names.c_str());
        return 2;
      }
    }
  } else if (parsed->has("db")) {
    long db = 0;
    if (!int_flag(*parsed, "verify", "db", 0, 1 << 20, &db)) return 2;
    databases = {static_cast<int>(db)};
  }
  if (databases.empty() && !key_prefix.empty()) {
    auto url = redis::parse_redis_url(from);
    databases = {url ? url->db : 0};
  }

  auto target = redis::Client::connect(to);
  if (!target) {
    std::fprintf(stderr, "suoke verify: target %s: %s\n", migrate::url_without_credentials(to).c_str(), target.error().message.c_str());
    return 2;
  }
  migrate::VerifyReport total;
  const std::vector<int> runs = databases.empty() ? std::vector<int>{-1} : databases;
  for (int db : runs) {
    std::string url = from;
    if (db >= 0 && parsed->has("db")) {
      auto u = migrate::url_with_db(from, db);
      if (!u) {
        std::fprintf(stderr, "suoke verify: --from: %s\n", u.error().message.c_str());
        return 2;
      }
      url = *u;
    }
    auto source = redis::Client::connect(url);
    if (!source) {
      std::fprintf(stderr, "suoke verify: source %s: %s\n", migrate::url_without_credentials(url).c_str(), source.error().message.c_str());
      return 2;
    }
    options.target_key_prefix = db >= 0 ? migrate::expand_key_prefix(key_prefix, db) : key_prefix;
    auto report = migrate::verify(**source, **target, options);
    if (!report) {
      std::fprintf(stderr, "suoke verify: %s\n", report.error().message.c_str());
      return 2;
    }
    total.checked += report->checked;
    total.target_scanned += report->target_scanned;
    total.seconds += report->seconds;
    for (std::size_t c = 0; c < migrate::kCategoryCount; ++c) {
      total.counts[c] += report->counts[c];
      for (auto& k : report->examples[c]) {
        if (total.examples[c].size() < options.examples) total.examples[c].push_back(std::move(k));
      }
    }
  }
  const migrate::VerifyReport* report = &total;

  const auto& r = *report;
  // Nothing compared proves nothing: an empty source is more often a wrong URL or --db than an
  // empty deployment. Still clean (the two agree), but said on stderr.
  if (r.checked == 0) {
    std::fprintf(stderr, "suoke verify: warning: no source key was compared (empty source%s; check the URL and --db)\n",
                 options.both_ways ? "" : ", and without --both-ways the target was not scanned");
  }
  if (parsed->has("json")) {
    boost::json::object o;
    o["clean"] = r.clean();
    o["checked"] = r.checked;
    if (options.both_ways) o["target_scanned"] = r.target_scanned;
    boost::json::object ex;
    for (std::size_t c = 0; c < migrate::kCategoryCount; ++c) {
      const char* name = migrate::category_name(static_cast<migrate::Category>(c));
      o[name] = r.counts[c];
      boost::json::array keys;
      for (const auto& k : r.examples[c]) keys.push_back(boost::json::string(migrate::printable_key(k)));
      ex[name] = std::move(keys);
    }
    o["mismatches"] = r.mismatches();
    o["examples"] = std::move(ex);
    o["seconds"] = r.seconds;
    std::printf("%s\n", boost::json::serialize(o).c_str());
  } else {
    std::printf("%-18s %llu\n", "checked", static_cast<unsigned long long>(r.checked));
    if (options.both_ways) {
      std::printf("%-18s %llu\n", "target_scanned", static_cast<unsigned long long>(r.target_scanned));
    }
    for (std::size_t c = 0; c < migrate::kCategoryCount; ++c) {
      std::printf("%-18s %llu\n", migrate::category_name(static_cast<migrate::Category>(c)),
                  static_cast<unsigned long long>(r.counts[c]));
    }
    for (std::size_t c = 0; c < migrate::kCategoryCount; ++c) {
      if (r.examples[c].empty()) continue;
      std::printf("\n%s (%zu of %llu):\n", migrate::category_name(static_cast<migrate::Category>(c)),
                  r.examples[c].size(), static_cast<unsigned long long>(r.counts[c]));
      for (const auto& k : r.examples[c]) std::printf("  \"%s\"\n", migrate::printable_key(k).c_str());
    }
    if (r.clean()) {
      std::printf("\nclean: %llu keys match (%.2f s)\n", static_cast<unsigned long long>(r.checked), r.seconds);
    } else {
      std::printf("\nMISMATCH: %llu keys differ (%.2f s)\n", static_cast<unsigned long long>(r.mismatches()),
                  r.seconds);
    }
  }
  return r.clean() ? 0 : 1;
}

}  // namespace suoke::cli
