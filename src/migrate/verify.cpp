#include "migrate/verify.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <thread>
#include <utility>

namespace suoke::migrate {

using redis::Client;
using redis::Command;
using redis::Value;

const char* category_name(Category c) {
  switch (c) {
    case Category::kMissingInTarget: return "missing_in_target";
    case Category::kExtraInTarget: return "extra_in_target";
    case Category::kTypeMismatch: return "type_mismatch";
    case Category::kValueMismatch: return "value_mismatch";
    case Category::kTtlMismatch: return "ttl_mismatch";
    case Category::kMissingTtl: return "missing_ttl";
  }
  return "unknown";
}

uint64_t VerifyReport::mismatches() const {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  return n;
}

std::string printable_key(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (unsigned char ch : key) {
    if (ch == '\\' || ch == '"') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch >= 0x20 && ch < 0x7f) {
      out += static_cast<char>(ch);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
    }
  }
  return out;
}

namespace {

enum class Verdict { kEqual, kVanished, kMismatch };
struct Outcome {
  Verdict verdict = Verdict::kEqual;
  Category category = Category::kValueMismatch;
};
Outcome vanished() { return {Verdict::kVanished, Category::kValueMismatch}; }
Outcome mismatch(Category c) { return {Verdict::kMismatch, c}; }

// All replies of a pipeline, or the first transport failure.
Result<std::vector<Value>> run(Client& client, std::vector<Command> commands) {
  std::vector<Value> out;
  if (commands.empty()) return out;
  out.reserve(commands.size());
  for (auto& r : client.exec_pipeline(std::move(commands))) {
    if (!r) return r.error();
    out.push_back(std::move(r.value()));
  }
  return out;
}

Result<Value> run1(Client& client, Command command) {
  auto r = client.exec(std::move(command));
  if (!r) return r.error();
  return std::move(r.value());
}

// A canonical, unambiguous byte string for a reply (type tag + length-prefixed parts), so
// nested replies (XRANGE, XINFO) compare with ==.
void serialize(const Value& v, std::string& out) {
  out += static_cast<char>('A' + static_cast<int>(v.type));
  switch (v.type) {
    case Value::Type::kInteger:
    case Value::Type::kBoolean:
      out += std::to_string(v.integer);
      out += ';';
      return;
    default:
      break;
  }
  out += std::to_string(v.str.size());
  out += ':';
  out += v.str;
  out += std::to_string(v.elements.size());
  out += '[';
  for (const auto& e : v.elements) serialize(e, out);
  out += ']';
}

std::string canon(const Value& v) {
  std::string out;
  serialize(v, out);
  return out;
}

// Elements of an array (or map) reply as strings; flat.
std::vector<std::string> strings_of(const Value& v) {
  std::vector<std::string> out;
  out.reserve(v.elements.size());
  for (const auto& e : v.elements) out.push_back(e.type == Value::Type::kInteger ? std::to_string(e.integer) : e.str);
  return out;
}

// HGETALL as sorted (field, value) pairs.
std::vector<std::pair<std::string, std::string>> pairs_of(const Value& v) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) out.emplace_back(v.elements[i].str, v.elements[i + 1].str);
  std::sort(out.begin(), out.end());
  return out;
}

// XINFO GROUPS reduced to (name, "last-delivered-id pending consumers") per group, sorted:
// the fields every Redis version reports and a copy must keep (a group whose pending entries
// were lost has the same last-delivered id).
std::vector<std::pair<std::string, std::string>> groups_of(const Value& v) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& g : v.elements) {
    std::string name, last, pending, consumers;
    for (std::size_t i = 0; i + 1 < g.elements.size(); i += 2) {
      const std::string& field = g.elements[i].str;
      const Value& value = g.elements[i + 1];
      if (field == "name") name = value.str;
      if (field == "last-delivered-id") last = value.str;
      if (field == "pending") pending = std::to_string(value.integer);
      if (field == "consumers") consumers = std::to_string(value.integer);
    }
    out.emplace_back(std::move(name), last + " " + pending + " " + consumers);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The command giving a key's size for its type ("" type: unknown, compared by DUMP).
std::optional<Command> size_command(const std::string& type, const std::string& key) {
  if (type == "string") return Command{"STRLEN", key};
  if (type == "hash") return Command{"HLEN", key};
  if (type == "list") return Command{"LLEN", key};
  if (type == "set") return Command{"SCARD", key};
  if (type == "zset") return Command{"ZCARD", key};
  if (type == "stream") return Command{"XLEN", key};
  return std::nullopt;
}

// The commands fetching a small key whole (the same on both sides).
std::vector<Command> fetch_commands(const std::string& type, const std::string& key) {
  if (type == "string") return {{"GET", key}};
  if (type == "hash") return {{"HGETALL", key}};
  if (type == "list") return {{"LRANGE", key, "0", "-1"}};
  if (type == "set") return {{"SMEMBERS", key}};
  if (type == "zset") return {{"ZRANGE", key, "0", "-1", "WITHSCORES"}};
  if (type == "stream") return {{"XRANGE", key, "-", "+"}, {"XINFO", "GROUPS", key}, {"XINFO", "STREAM", key}};
  return {{"DUMP", key}};
}

// XINFO STREAM's last-generated-id on both sides (entries deleted at the end leave it above
// the last entry; a copy that lost it lets new entries reuse ids consumers have seen).
bool same_last_generated_id(const Value& a, const Value& b) {
  auto last_id = [](const Value& info) -> std::optional<std::string> {
    for (std::size_t i = 0; i + 1 < info.elements.size(); i += 2) {
      if (info.elements[i].str == "last-generated-id") return info.elements[i + 1].str;
    }
    return std::nullopt;
  };
  auto x = last_id(a);
  return x && x == last_id(b);
}

// Whether the fetched replies (fetch_commands order) are equal as values of `type`.
bool same_value(const std::string& type, const Value* a, const Value* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i].is_error() || b[i].is_error()) return false;
  }
  if (type == "hash") return pairs_of(a[0]) == pairs_of(b[0]);
  if (type == "set") {
    auto x = strings_of(a[0]), y = strings_of(b[0]);
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    return x == y;
  }
  if (type == "stream") {
    return canon(a[0]) == canon(b[0]) && groups_of(a[1]) == groups_of(b[1]) && same_last_generated_id(a[2], b[2]);
  }
  return canon(a[0]) == canon(b[0]);
}

// Small keys are fetched whole in pipelines of at most this many estimated bytes per side;
// a collection's element counts as kEstimatedElementBytes (its size is not known without
// reading it; collections of huge elements are the case this estimate misses).
constexpr std::size_t kSmallFetchBudget = 8u << 20;
constexpr std::size_t kEstimatedElementBytes = 64;

class Comparer {
 public:
  Comparer(Client& source, Client& target, const VerifyOptions& options)
      : src_(source), tgt_(target), opt_(options) {}

  // Compares each key; outcomes in the same order.
  Result<std::vector<Outcome>> compare(const std::vector<std::string>& keys) {
    const std::size_t n = keys.size();
    std::vector<Outcome> out(n);
    // 1. TYPE and PTTL on both sides.
    std::vector<Command> meta;
    meta.reserve(2 * n);
    for (const auto& k : keys) {
      meta.push_back({"TYPE", k});
      meta.push_back({"PTTL", k});
    }
    auto sm = run(src_, meta);
    if (!sm) return sm.error();
    auto tm = run(tgt_, std::move(meta));
    if (!tm) return tm.error();
    std::vector<std::string> type(n);
    std::vector<std::size_t> live;  // same type on both sides: values to compare
    for (std::size_t i = 0; i < n; ++i) {
      const Value& st = (*sm)[2 * i];
      const Value& tt = (*tm)[2 * i];
      if (st.is_error() || tt.is_error()) {
        out[i] = mismatch(Category::kValueMismatch);
        continue;
      }
      if (st.str == "none") {
        out[i] = vanished();
        continue;
      }
      if (tt.str == "none") {
        out[i] = mismatch(Category::kMissingInTarget);
        continue;
      }
      if (st.str != tt.str) {
        out[i] = mismatch(Category::kTypeMismatch);
        continue;
      }
      type[i] = st.str;
      live.push_back(i);
    }

    // 2. Sizes; equal sizes of small keys are fetched whole, big ones compared in chunks.
    std::vector<Command> sizes;
    std::vector<std::size_t> sized, unsized;
    for (std::size_t i : live) {
      if (auto c = size_command(type[i], keys[i])) {
        sizes.push_back(std::move(*c));
        sized.push_back(i);
      } else {
        unsized.push_back(i);
      }
    }
    auto ss = run(src_, sizes);
    if (!ss) return ss.error();
    auto ts = run(tgt_, std::move(sizes));
    if (!ts) return ts.error();
    std::vector<std::size_t> small = unsized, big;
    std::vector<int64_t> length(n, 0);
    for (std::size_t j = 0; j < sized.size(); ++j) {
      std::size_t i = sized[j];
      const Value& a = (*ss)[j];
      const Value& b = (*ts)[j];
      if (a.is_error() || b.is_error() || a.integer != b.integer) {
        out[i] = mismatch(Category::kValueMismatch);
        continue;
      }
      length[i] = a.integer;
      std::size_t limit = type[i] == "string" ? opt_.big_string_bytes : opt_.big_key_elements;
      (static_cast<std::size_t>(a.integer) > limit ? big : small).push_back(i);
    }

    // 3. Small keys: pipelines of at most kSmallFetchBudget estimated bytes per side, so a
    // batch of keys each just under the big-key limits (500 strings of 1 MiB) is not held
    // at once.
    std::vector<std::size_t> group;
    std::size_t group_cost = 0;
    for (std::size_t s = 0; s <= small.size(); ++s) {
      if (s < small.size()) {
        std::size_t i = small[s];
        const auto units = static_cast<std::size_t>(std::max<int64_t>(length[i], 0));
        const std::size_t cost = type[i] == "string" ? units : units * kEstimatedElementBytes;
        if (group.empty() || group_cost + cost <= kSmallFetchBudget) {
          group.push_back(i);
          group_cost += cost;
          continue;
        }
      }
      if (auto compared = compare_small(group, keys, type, out); !compared) return compared.error();
      group.clear();
      group_cost = 0;
      if (s < small.size()) {
        group.push_back(small[s]);
        const auto units = static_cast<std::size_t>(std::max<int64_t>(length[small[s]], 0));
        group_cost = type[small[s]] == "string" ? units : units * kEstimatedElementBytes;
      }
    }

    // 4. Big keys, one at a time in chunks.
    for (std::size_t i : big) {
      auto same = compare_big(type[i], keys[i], length[i]);
      if (!same) return same.error();
      if (!*same) out[i] = mismatch(Category::kValueMismatch);
    }

    // 5. TTLs of the keys whose values match.
    for (std::size_t i : live) {
      if (out[i].verdict != Verdict::kEqual) continue;
      const Value& sp = (*sm)[2 * i + 1];
      const Value& tp = (*tm)[2 * i + 1];
      if (sp.integer == -2) {  // expired between TYPE and PTTL
        out[i] = vanished();
      } else if (tp.integer == -2) {
        out[i] = mismatch(Category::kMissingInTarget);
      } else if (sp.integer >= 0 && tp.integer < 0) {
        out[i] = mismatch(Category::kMissingTtl);
      } else if (sp.integer < 0 && tp.integer >= 0) {
        out[i] = mismatch(Category::kTtlMismatch);
      } else if (sp.integer >= 0 && std::llabs(sp.integer - tp.integer) > opt_.ttl_tolerance.count()) {
        out[i] = mismatch(Category::kTtlMismatch);
      }
    }
    return out;
  }

 private:
  // Both sides' replies to the same command; nullopt-like false on error replies.
  Result<std::pair<Value, Value>> both(const Command& c) {
    auto a = run1(src_, c);
    if (!a) return a.error();
    auto b = run1(tgt_, c);
    if (!b) return b.error();
    return std::make_pair(std::move(*a), std::move(*b));
  }

  // Fetches `group`'s values whole, one pipeline per side, and records mismatches in `out`.
  Result<void> compare_small(const std::vector<std::size_t>& group, const std::vector<std::string>& keys,
                             const std::vector<std::string>& type, std::vector<Outcome>& out) {
    if (group.empty()) return Ok();
    std::vector<Command> fetch;
    std::vector<std::pair<std::size_t, std::size_t>> spans;  // key index, first reply
    for (std::size_t i : group) {
      spans.emplace_back(i, fetch.size());
      for (auto& c : fetch_commands(type[i], keys[i])) fetch.push_back(std::move(c));
    }
    std::size_t total = fetch.size();
    auto sf = run(src_, fetch);
    if (!sf) return sf.error();
    auto tf = run(tgt_, std::move(fetch));
    if (!tf) return tf.error();
    for (std::size_t s = 0; s < spans.size(); ++s) {
      auto [i, first] = spans[s];
      std::size_t count = (s + 1 < spans.size() ? spans[s + 1].second : total) - first;
      if (!same_value(type[i], &(*sf)[first], &(*tf)[first], count)) out[i] = mismatch(Category::kValueMismatch);
    }
    return Ok();
  }

  Result<bool> compare_big(const std::string& type, const std::string& key, int64_t length) {
    const auto chunk = static_cast<int64_t>(std::max<std::size_t>(opt_.chunk, 1));
    if (type == "string") {
      const auto step = static_cast<int64_t>(std::max<std::size_t>(opt_.big_string_bytes, 1));
      for (int64_t off = 0; off < length; off += step) {
        auto r = both({"GETRANGE", key, std::to_string(off), std::to_string(off + step - 1)});
        if (!r) return r.error();
        if (r->first.is_error() || r->second.is_error() || r->first.str != r->second.str) return false;
      }
      return true;
    }
    if (type == "list" || type == "zset") {
      for (int64_t off = 0; off < length; off += chunk) {
        Command c = {type == "list" ? "LRANGE" : "ZRANGE", key, std::to_string(off), std::to_string(off + chunk - 1)};
        if (type == "zset") c.push_back("WITHSCORES");
        auto r = both(c);
        if (!r) return r.error();
        if (r->first.is_error() || canon(r->first) != canon(r->second)) return false;
      }
      return true;
    }
    if (type == "stream") {
      std::string start = "-";
      for (;;) {
        auto r = both({"XRANGE", key, start, "+", "COUNT", std::to_string(chunk)});
        if (!r) return r.error();
        if (r->first.is_error() || canon(r->first) != canon(r->second)) return false;
        if (r->first.elements.size() < static_cast<std::size_t>(chunk)) break;
        const Value& last = r->first.elements.back();
        if (last.elements.empty()) return false;
        start = "(" + last.elements[0].str;
      }
      auto g = both({"XINFO", "GROUPS", key});
      if (!g) return g.error();
      auto info = both({"XINFO", "STREAM", key});
      if (!info) return info.error();
      return !g->first.is_error() && !g->second.is_error() && groups_of(g->first) == groups_of(g->second) &&
             same_last_generated_id(info->first, info->second);
    }
    if (type == "hash" || type == "set") {
      // Every source element is in the target with the same value, and the sizes are equal
      // (checked before): the contents are equal.
      std::string cursor = "0";
      do {
        auto page = run1(src_, {type == "hash" ? "HSCAN" : "SSCAN", key, cursor, "COUNT", std::to_string(chunk)});
        if (!page) return page.error();
        if (page->is_error() || page->elements.size() != 2) return false;
        cursor = page->elements[0].str;
        const auto& items = page->elements[1].elements;
        if (items.empty()) continue;
        Command probe = {type == "hash" ? "HMGET" : "SMISMEMBER", key};
        if (type == "hash") {
          for (std::size_t i = 0; i < items.size(); i += 2) probe.push_back(items[i].str);
        } else {
          for (const auto& m : items) probe.push_back(m.str);
        }
        auto got = run1(tgt_, std::move(probe));
        if (!got) return got.error();
        if (got->is_error()) return false;
        for (std::size_t j = 0; j < got->elements.size(); ++j) {
          const Value& v = got->elements[j];
          if (type == "hash") {
            if (v.is_null() || 2 * j + 1 >= items.size() || v.str != items[2 * j + 1].str) return false;
          } else if (v.integer != 1) {
            return false;
          }
        }
      } while (cursor != "0");
      return true;
    }
    return false;
  }

  Client& src_;
  Client& tgt_;
  const VerifyOptions& opt_;
};

// Keys present in `in` but not in `other`: still extra after a re-check?
// The target seen through a key prefix: every command's key gets it, SCAN looks only under it
// and returns keys without it. Covers the commands the comparison sends (key first, or
// second for XINFO GROUPS).
class PrefixedTarget final : public Client {
 public:
  PrefixedTarget(Client& inner, std::string prefix) : inner_(inner), prefix_(std::move(prefix)) {}

  void exec_async(Command command, redis::Callback done, redis::CommandOptions options) override {
    const std::size_t at = command.size() > 2 && command[0] == "XINFO" ? 2 : 1;
    if (command.size() > at) command[at] = prefix_ + command[at];
    inner_.exec_async(std::move(command), std::move(done), options);
  }
  bool is_cluster() const override { return inner_.is_cluster(); }
  Result<void> scan_from(const redis::ScanFilter& filter, redis::ScanPosition position,
                         const redis::ScanBatchFn& on_batch) override {
    redis::ScanFilter prefixed = filter;
    prefixed.match.clear();
    for (char ch : prefix_) {  // the prefix literally, not as a pattern
      if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') prefixed.match += '\\';
      prefixed.match += ch;
    }
    prefixed.match += filter.match.empty() ? "*" : filter.match;
    return inner_.scan_from(prefixed, std::move(position),
                            [&](const std::vector<std::string>& keys, const redis::ScanPosition& after) {
                              std::vector<std::string> stripped;
                              stripped.reserve(keys.size());
                              for (const auto& k : keys) stripped.push_back(k.substr(prefix_.size()));
                              return on_batch(stripped, after);
                            });
  }

 private:
  Client& inner_;
  const std::string prefix_;
};

Result<std::vector<bool>> extra(Client& in, Client& other, const std::vector<std::string>& keys) {
  std::vector<Command> exists;
  for (const auto& k : keys) exists.push_back({"EXISTS", k});
  auto here = run(in, exists);
  if (!here) return here.error();
  auto there = run(other, std::move(exists));
  if (!there) return there.error();
  std::vector<bool> out(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) out[i] = (*here)[i].integer == 1 && (*there)[i].integer == 0;
  return out;
}

}  // namespace

Result<VerifyReport> verify(Client& source, Client& real_target, const VerifyOptions& options) {
  std::optional<PrefixedTarget> prefixed;
  if (!options.target_key_prefix.empty()) prefixed.emplace(real_target, options.target_key_prefix);
  Client& target = prefixed ? static_cast<Client&>(*prefixed) : real_target;
  auto started = std::chrono::steady_clock::now();
  VerifyReport report;
  Comparer comparer(source, target, options);
  const std::size_t batch = std::max<std::size_t>(options.batch, 1);

  // Mismatch candidates (sorted: examples are the first keys in byte order).
  std::map<std::string, Category> candidates;
  std::map<std::string, Category> extras;
  std::optional<Error> failure;

  auto scanned = source.scan(options.match, batch, [&](const std::vector<std::string>& keys) {
    auto outcomes = comparer.compare(keys);
    if (!outcomes) {
      failure = outcomes.error();
      return false;
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const Outcome& o = (*outcomes)[i];
      if (o.verdict == Verdict::kVanished) continue;
      ++report.checked;
      if (o.verdict == Verdict::kMismatch) candidates[keys[i]] = o.category;
    }
    return true;
  });
  if (failure) return *failure;
  if (!scanned) return Error::make("scanning the source: " + scanned.error().message, scanned.error().kind);

  if (options.both_ways) {
    auto t = target.scan(options.match, batch, [&](const std::vector<std::string>& keys) {
      report.target_scanned += keys.size();
      auto flags = extra(target, source, keys);
      if (!flags) {
        failure = flags.error();
        return false;
      }
      for (std::size_t i = 0; i < keys.size(); ++i) {
        if ((*flags)[i]) extras[keys[i]] = Category::kExtraInTarget;
      }
      return true;
    });
    if (failure) return *failure;
    if (!t) return Error::make("scanning the target: " + t.error().message, t.error().kind);
  }

  // Re-check the candidates: only what persists over every round is reported.
  for (int round = 1; round < options.rounds && (!candidates.empty() || !extras.empty()); ++round) {
    std::this_thread::sleep_for(options.round_interval);
    std::vector<std::string> keys;
    for (const auto& [k, c] : candidates) keys.push_back(k);
    for (std::size_t from = 0; from < keys.size(); from += batch) {
      std::vector<std::string> part(keys.begin() + static_cast<std::ptrdiff_t>(from),
                                    keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), from + batch)));
      auto outcomes = comparer.compare(part);
      if (!outcomes) return outcomes.error();
      for (std::size_t i = 0; i < part.size(); ++i) {
        const Outcome& o = (*outcomes)[i];
        if (o.verdict == Verdict::kMismatch) {
          candidates[part[i]] = o.category;
        } else {
          candidates.erase(part[i]);  // changed back, or gone from the source: not a mismatch
        }
      }
    }
    keys.clear();
    for (const auto& [k, c] : extras) keys.push_back(k);
    for (std::size_t from = 0; from < keys.size(); from += batch) {
      std::vector<std::string> part(keys.begin() + static_cast<std::ptrdiff_t>(from),
                                    keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), from + batch)));
      auto flags = extra(target, source, part);
      if (!flags) return flags.error();
      for (std::size_t i = 0; i < part.size(); ++i) {
        if (!(*flags)[i]) extras.erase(part[i]);
      }
    }
  }

  auto record = [&](const std::string& key, Category c) {
    auto idx = static_cast<std::size_t>(c);
    ++report.counts[idx];
    if (report.examples[idx].size() < options.examples) report.examples[idx].push_back(key);
  };
  for (const auto& [k, c] : candidates) record(k, c);
  for (const auto& [k, c] : extras) record(k, c);
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return report;
}

}  // namespace suoke::migrate
