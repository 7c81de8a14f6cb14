#include "migrate/typed_copy.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <utility>
#include <vector>

#include "redis/cluster/crc16.h"

namespace suoke::migrate {

using redis::Client;
using redis::Command;
using redis::CommandOptions;
using redis::Value;

std::string_view slot_tag(uint16_t slot) {
  // Short base-36 strings in order until every slot has one (about 170,000 CRC16s of 1-4
  // bytes, a few milliseconds, once per process).
  static std::array<std::string, redis::cluster::kSlotCount>* table = [] {
    auto* t = new std::array<std::string, redis::cluster::kSlotCount>();
    std::size_t filled = 0;
    constexpr std::string_view kDigits = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (uint64_t n = 0; filled < t->size(); ++n) {
      std::string s;
      uint64_t v = n;
      do {
        s.insert(s.begin(), kDigits[v % kDigits.size()]);
        v /= kDigits.size();
      } while (v != 0);
      auto& entry = (*t)[redis::cluster::key_slot(s)];
      if (entry.empty()) {
        entry = std::move(s);
        ++filled;
      }
    }
    return t;
  }();
  return (*table)[slot % redis::cluster::kSlotCount];
}

std::string typed_temp_key(std::string_view key) {
  static const std::string process_part = [] {
    std::random_device rd;
    char buf[48];
    std::snprintf(buf, sizeof buf, "%ld-%08x", static_cast<long>(::getpid()), rd());
    return std::string(buf);
  }();
  static std::atomic<uint64_t> counter{0};
  std::string name(kTypedTempPrefix);
  name += '{';
  name += slot_tag(redis::cluster::key_slot(key));
  name += "}:";
  name += process_part;
  name += '-';
  name += std::to_string(counter.fetch_add(1));
  return name;
}

namespace {

// While it is built, the temporary key lives at most this long (refreshed with every chunk),
// so a killed run leaves nothing behind for good.
constexpr int64_t kSafetyExpiryMs = 3600 * 1000;
// Collections: the first read asks for this many elements, later reads adapt (adapt_page) to
// a budget of kPageBudgetChunks x chunk_bytes per read.
constexpr std::size_t kFirstPage = 128;
constexpr std::size_t kPageBudgetChunks = 8;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string text_of(const Value& v) {
  if (v.type == Value::Type::kInteger) return std::to_string(v.integer);
  return v.str;
}

// Field `name` of a flat field/value reply (XINFO), or nullptr.
const Value* field(const Value& reply, std::string_view name) {
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    if (reply.elements[i].str == name) return &reply.elements[i + 1];
  }
  return nullptr;
}

// The smallest stream id after `id` ("ms-seq"). Used instead of an exclusive "(" range so
// sources before Redis 6.2 are served too.
std::string next_stream_id(const std::string& id) {
  auto dash = id.find('-');
  uint64_t ms = std::stoull(id.substr(0, dash));
  uint64_t seq = dash == std::string::npos ? 0 : std::stoull(id.substr(dash + 1));
  if (seq == UINT64_MAX) return std::to_string(ms + 1) + "-0";
  return std::to_string(ms) + "-" + std::to_string(seq + 1);
}

// How a copy step ended when it did not fail.
enum class Step { kDone, kVanished, kExpired };

class TypedCopier {
 public:
  TypedCopier(Client& source, Client& target, const std::string& key, const TypedCopyOptions& options)
      : src_(source),
        dst_(target),
        key_(key),
        opt_(options),
        target_key_(options.target_key.empty() ? key : options.target_key),
        tmp_(typed_temp_key(target_key_)) {
    io_.timeout = std::chrono::milliseconds(30'000);
    chunk_ = std::max<std::size_t>(opt_.chunk_elements, 1);
    page_ = std::min<std::size_t>(chunk_, kFirstPage);
    chunk_bytes_ = std::max<std::size_t>(opt_.chunk_bytes, 1);
  }

  Result<TypedCopyResult> run() {
    auto r = run_steps();
    if (!r.ok() || r->outcome != TypedOutcome::kCopied) drop_temp();
    return r;
  }

 private:
  Result<TypedCopyResult> run_steps() {
    if (expired()) return outcome(TypedOutcome::kExpired);
    if (opt_.conflict != Conflict::kReplace) {
      auto exists = dst_.exec({"EXISTS", target_key_}, io_);
      if (auto e = check(exists, "EXISTS (target)"); !e.ok()) return e.error();
      if (exists->integer > 0) {
        return outcome(opt_.conflict == Conflict::kSkip ? TypedOutcome::kSkipped : TypedOutcome::kExists);
      }
    }
    auto type = src_.exec({"TYPE", key_}, io_);
    if (auto e = check(type, "TYPE"); !e.ok()) return e.error();
    type_ = type->str;
    if (type_ == "none") return outcome(expired() ? TypedOutcome::kExpired : TypedOutcome::kVanished);

    Result<Step> copied = Error::make("");
    if (type_ == "string") copied = copy_string();
    else if (type_ == "hash") copied = copy_scanned("HSCAN", "HSET", /*pairs=*/true, /*swap=*/false);
    else if (type_ == "set") copied = copy_scanned("SSCAN", "SADD", /*pairs=*/false, /*swap=*/false);
    else if (type_ == "zset") copied = copy_scanned("ZSCAN", "ZADD", /*pairs=*/true, /*swap=*/true);
    else if (type_ == "list") copied = copy_list();
    else if (type_ == "stream") copied = copy_stream();
    else {
      return Error::make("type '" + type_ + "' (a module or unknown type) cannot be copied by the typed path",
                         "unsupported");
    }
    if (!copied.ok()) return copied.error();
    if (*copied == Step::kExpired) return outcome(TypedOutcome::kExpired);
    if (*copied == Step::kVanished) return outcome(TypedOutcome::kVanished);

    // The source key must still be the one we started with (deleted or replaced by another
    // type mid-copy: what we built is not a value the source ever had as a whole).
    auto again = src_.exec({"TYPE", key_}, io_);
    if (auto e = check(again, "TYPE"); !e.ok()) return e.error();
    if (again->str != type_) {
      return outcome(again->str == "none" && expired() ? TypedOutcome::kExpired : TypedOutcome::kVanished);
    }
    if (!created_) return outcome(TypedOutcome::kVanished);  // nothing was read: it emptied meanwhile
    return put_in_place();
  }

  // PEXPIREAT (or PERSIST) then RENAME / RENAMENX, pipelined: both name the temporary key, so
  // a cluster sends them to the same master in order.
  Result<TypedCopyResult> put_in_place() {
    if (expired()) return outcome(TypedOutcome::kExpired);
    std::vector<Command> finish;
    if (opt_.expire_at_ms > 0) finish.push_back({"PEXPIREAT", tmp_, std::to_string(opt_.expire_at_ms)});
    else finish.push_back({"PERSIST", tmp_});
    const bool replace = opt_.conflict == Conflict::kReplace;
    finish.push_back({replace ? "RENAME" : "RENAMENX", tmp_, target_key_});
    CommandOptions once = io_;
    once.retry = CommandOptions::Retry::kNever;
    auto replies = dst_.exec_pipeline(std::move(finish), once);
    if (auto e = check(replies[0], opt_.expire_at_ms > 0 ? "PEXPIREAT" : "PERSIST"); !e.ok()) return e.error();
    if (replies[0]->integer == 0) {
      // PEXPIREAT on a time already past deletes the key and answers 1 (RENAME then finds no
      // key: expired, below); 0 means the temporary key was gone before.
      return Error::make("the temporary key vanished from the target before it was put in place", "redis");
    }
    auto& renamed = replies[1];
    if (!renamed.ok()) return Error::make("RENAME: " + renamed.error().message, renamed.error().kind);
    if (renamed->is_error()) {
      // Right after PEXPIREAT answered 1, the key is only gone because that time had passed
      // on the target's clock (which may run ahead of ours).
      if (renamed->str.find("no such key") != std::string::npos && (opt_.expire_at_ms > 0 || expired())) {
        return outcome(TypedOutcome::kExpired);
      }
      return Error::make("RENAME: " + renamed->str, "redis");
    }
    if (!replace && renamed->integer == 0) {
      return outcome(opt_.conflict == Conflict::kSkip ? TypedOutcome::kSkipped : TypedOutcome::kExists);
    }
    return outcome(TypedOutcome::kCopied);
  }

  Result<Step> copy_string() {
    for (int64_t offset = 0;; offset += static_cast<int64_t>(chunk_bytes_)) {
      if (auto s = between_chunks(); s != Step::kDone) return s;
      auto part = src_.exec(
          {"GETRANGE", key_, std::to_string(offset), std::to_string(offset + static_cast<int64_t>(chunk_bytes_) - 1)},
          io_);
      if (auto e = read_reply(part, "GETRANGE"); !e.ok()) return e.error();
      else if (*e != Step::kDone) return *e;
      const std::size_t got = part->str.size();
      if (got == 0 && created_) break;
      result_.bytes += got;
      // The first chunk creates the key with SET (an empty string is a value too).
      Command write = created_ ? Command{"APPEND", tmp_, std::move(part->str)}
                               : Command{"SET", tmp_, std::move(part->str), "PX", std::to_string(kSafetyExpiryMs)};
      auto w = write_chunk({std::move(write)}, /*refresh_expiry=*/created_);
      if (!w.ok()) {
        if (w.error().message.find("proto-max-bulk-len") == std::string::npos) return w.error();
        // Redis refuses to grow a string past proto-max-bulk-len by any command (APPEND,
        // SETRANGE, SET): only a raised limit lets such a value into this target.
        return Error::make("the string is longer than the target's proto-max-bulk-len lets a string grow (" +
                               w.error().message + "); raise it on the target (CONFIG SET proto-max-bulk-len)",
                           "unsupported");
      }
      if (got < chunk_bytes_) break;
    }
    result_.elements = 1;
    return Step::kDone;
  }

  // HSCAN/SSCAN/ZSCAN pages written with HSET/SADD/ZADD. `swap`: the page holds member, score
  // but ZADD wants score, member; scores pass as Redis printed them (exact, inf/-inf).
  Result<Step> copy_scanned(const char* scan, const char* add, bool pairs, bool swap) {
    std::string cursor = "0";
    do {
      if (auto s = between_chunks(); s != Step::kDone) return s;
      auto page = src_.exec({scan, key_, cursor, "COUNT", std::to_string(page_)}, io_);
      if (auto e = read_reply(page, scan); !e.ok()) return e.error();
      else if (*e != Step::kDone) return *e;
      if (page->elements.size() != 2) return Error::make(std::string(scan) + ": unexpected reply", "redis");
      cursor = text_of(page->elements[0]);
      auto& items = page->elements[1].elements;
      if (items.empty()) continue;
      if (pairs && items.size() % 2 != 0) return Error::make(std::string(scan) + ": odd reply", "redis");
      Command write{add, tmp_};
      write.reserve(items.size() + 2);
      uint64_t page_bytes = 0;
      for (std::size_t i = 0; i < items.size(); i += pairs ? 2 : 1) {
        if (swap) {
          write.push_back(text_of(items[i + 1]));
          write.push_back(std::move(items[i].str));
        } else {
          write.push_back(std::move(items[i].str));
          if (pairs) write.push_back(text_of(items[i + 1]));
        }
        page_bytes += write[write.size() - 1].size() + (pairs ? write[write.size() - 2].size() : 0);
        ++result_.elements;
      }
      result_.bytes += page_bytes;
      adapt_page(page_bytes);
      auto w = write_chunk({std::move(write)}, /*refresh_expiry=*/true);
      if (!w.ok()) return w.error();
    } while (cursor != "0");
    return Step::kDone;
  }

  Result<Step> copy_list() {
    for (int64_t start = 0;;) {
      if (auto s = between_chunks(); s != Step::kDone) return s;
      const std::size_t asked = page_;
      auto span = src_.exec(
          {"LRANGE", key_, std::to_string(start), std::to_string(start + static_cast<int64_t>(asked) - 1)}, io_);
      if (auto e = read_reply(span, "LRANGE"); !e.ok()) return e.error();
      else if (*e != Step::kDone) return *e;
      auto& items = span->elements;
      if (items.empty()) break;
      const std::size_t got = items.size();
      Command write{"RPUSH", tmp_};
      write.reserve(got + 2);
      uint64_t page_bytes = 0;
      for (auto& item : items) {
        page_bytes += item.str.size();
        write.push_back(std::move(item.str));
      }
      result_.bytes += page_bytes;
      result_.elements += got;
      start += static_cast<int64_t>(got);
      adapt_page(page_bytes);
      auto w = write_chunk({std::move(write)}, /*refresh_expiry=*/true);
      if (!w.ok()) return w.error();
      if (got < asked) break;
    }
    return Step::kDone;
  }

  // Entries with their ids, then the stream's metadata (XSETID), then each consumer group
  // with its last-delivered id and entries-read, its consumers and its pending entries.
  Result<Step> copy_stream() {
    auto info = src_.exec({"XINFO", "STREAM", key_}, io_);
    if (auto e = read_reply(info, "XINFO STREAM"); !e.ok()) return e.error();
    else if (*e != Step::kDone) return *e;
    const Value* last_id = field(*info, "last-generated-id");
    if (!last_id) return Error::make("XINFO STREAM: no last-generated-id", "redis");
    std::string last_generated = last_id->str;
    const Value* added = field(*info, "entries-added");            // Redis >= 7.0
    const Value* max_deleted = field(*info, "max-deleted-entry-id");  // Redis >= 7.0
    std::string entries_added = added ? text_of(*added) : "";
    std::string max_deleted_id = max_deleted ? max_deleted->str : "";
    info = Value{};  // first-entry/last-entry: do not keep them around

    std::string start = "-";
    for (;;) {
      if (auto s = between_chunks(); s != Step::kDone) return s;
      const std::size_t asked = page_;
      auto page = src_.exec({"XRANGE", key_, start, "+", "COUNT", std::to_string(asked)}, io_);
      if (auto e = read_reply(page, "XRANGE"); !e.ok()) return e.error();
      else if (*e != Step::kDone) return *e;
      auto& entries = page->elements;
      if (entries.empty()) break;
      std::vector<Command> writes;
      writes.reserve(entries.size());
      uint64_t page_bytes = 0;
      for (auto& entry : entries) {
        if (entry.elements.size() != 2) return Error::make("XRANGE: unexpected entry", "redis");
        Command add{"XADD", tmp_, entry.elements[0].str};
        for (auto& f : entry.elements[1].elements) {
          page_bytes += f.str.size();
          add.push_back(std::move(f.str));
        }
        writes.push_back(std::move(add));
      }
      result_.bytes += page_bytes;
      result_.elements += entries.size();
      start = next_stream_id(entries.back().elements[0].str);
      const bool last_page = entries.size() < asked;
      adapt_page(page_bytes);
      auto w = write_chunk(std::move(writes), /*refresh_expiry=*/true);
      if (!w.ok()) return w.error();
      if (last_page) break;
    }
    if (!created_) {
      // An empty stream (all entries deleted, or made for its groups): create it empty.
      const std::string scratch = "suoke-migrate-scratch";
      auto w = write_chunk({{"XGROUP", "CREATE", tmp_, scratch, "$", "MKSTREAM"}, {"XGROUP", "DESTROY", tmp_, scratch}},
                           /*refresh_expiry=*/true);
      if (!w.ok()) return w.error();
    }

    Command setid{"XSETID", tmp_, last_generated};
    if (!entries_added.empty()) setid.insert(setid.end(), {"ENTRIESADDED", entries_added});
    if (!max_deleted_id.empty() && max_deleted_id != "0-0") setid.insert(setid.end(), {"MAXDELETEDID", max_deleted_id});
    if (auto w = write_with_fallback(std::move(setid), 3, "XSETID"); !w.ok()) return w.error();

    auto groups = src_.exec({"XINFO", "GROUPS", key_}, io_);
    if (auto e = read_reply(groups, "XINFO GROUPS"); !e.ok()) return e.error();
    else if (*e != Step::kDone) return *e;
    for (const auto& group : groups->elements) {
      const Value* name = field(group, "name");
      const Value* delivered = field(group, "last-delivered-id");
      if (!name || !delivered) return Error::make("XINFO GROUPS: unexpected reply", "redis");
      const Value* entries_read = field(group, "entries-read");  // Redis >= 7.0; nil when unknown
      Command create{"XGROUP", "CREATE", tmp_, name->str, delivered->str};
      if (entries_read && entries_read->type == Value::Type::kInteger) {
        create.insert(create.end(), {"ENTRIESREAD", std::to_string(entries_read->integer)});
      }
      if (auto w = write_with_fallback(std::move(create), 5, "XGROUP CREATE"); !w.ok()) return w.error();
      auto s = copy_group(name->str);
      if (!s.ok()) return s.error();
      if (*s != Step::kDone) return *s;
    }
    return Step::kDone;
  }

  // Consumers without pending entries with XGROUP CREATECONSUMER; pending entries (paged with
  // XPENDING) with XCLAIM ... FORCE JUSTID, keeping owner, idle time and delivery count.
  Result<Step> copy_group(const std::string& group) {
    auto consumers = src_.exec({"XINFO", "CONSUMERS", key_, group}, io_);
    if (auto e = read_reply(consumers, "XINFO CONSUMERS"); !e.ok()) return e.error();
    else if (*e != Step::kDone) return *e;
    std::vector<Command> idle_consumers;
    for (const auto& c : consumers->elements) {
      const Value* name = field(c, "name");
      const Value* pending = field(c, "pending");
      if (!name || !pending) return Error::make("XINFO CONSUMERS: unexpected reply", "redis");
      if (pending->integer == 0) idle_consumers.push_back({"XGROUP", "CREATECONSUMER", tmp_, group, name->str});
    }
    if (!idle_consumers.empty()) {
      auto w = write_chunk(std::move(idle_consumers), /*refresh_expiry=*/false);
      if (!w.ok()) return w.error();
    }

    std::string start = "-";
    for (;;) {
      if (auto s = between_chunks(); s != Step::kDone) return s;
      auto page = src_.exec({"XPENDING", key_, group, start, "+", std::to_string(chunk_)}, io_);
      if (auto e = read_reply(page, "XPENDING"); !e.ok()) return e.error();
      else if (*e != Step::kDone) return *e;
      const auto& pending = page->elements;
      if (pending.empty()) break;
      std::vector<Command> claims;
      claims.reserve(pending.size());
      for (const auto& p : pending) {
        if (p.elements.size() != 4) return Error::make("XPENDING: unexpected entry", "redis");
        claims.push_back({"XCLAIM", tmp_, group, p.elements[1].str, "0", p.elements[0].str, "IDLE",
                          std::to_string(p.elements[2].integer), "RETRYCOUNT", std::to_string(p.elements[3].integer),
                          "FORCE", "JUSTID"});
      }
      start = next_stream_id(pending.back().elements[0].str);
      const bool last_page = pending.size() < chunk_;
      auto w = write_chunk(std::move(claims), /*refresh_expiry=*/false);
      if (!w.ok()) return w.error();
      if (last_page) break;
    }
    return Step::kDone;
  }

  // Before each chunk: the key's expiry may have passed (nothing to put in place), or the
  // caller may want to stop.
  Step between_chunks() const {
    if (expired()) return Step::kExpired;
    return Step::kDone;
  }

  bool expired() const { return opt_.expire_at_ms > 0 && unix_ms_now() >= opt_.expire_at_ms; }

  // Elements per read of a collection: starts at kFirstPage (at most chunk_elements), halves
  // after a page above the byte budget and doubles (up to chunk_elements) after one below a
  // quarter of it, so a collection of big elements (a list of 1 MB values) is still read a
  // few MiB at a time, not chunk_elements x its element size.
  void adapt_page(uint64_t page_bytes) {
    const uint64_t budget = std::max<uint64_t>(uint64_t{kPageBudgetChunks} * chunk_bytes_, 1);
    if (page_bytes > budget && page_ > 1) {
      page_ = std::max<std::size_t>(page_ / 2, 1);
    } else if (page_bytes < budget / 4 && page_ < chunk_) {
      page_ = std::min(page_ * 2, chunk_);
    }
  }

  // A source read: WRONGTYPE means the key was replaced by another type meanwhile.
  Result<Step> read_reply(const Result<Value>& r, const char* what) {
    if (!r.ok()) return Error::make(std::string(what) + ": " + r.error().message, r.error().kind);
    if (r->is_error()) {
      if (r->str.rfind("WRONGTYPE", 0) == 0) return Step::kVanished;
      if (r->str.find("no such key") != std::string::npos) return Step::kVanished;  // XINFO on a gone key
      return Error::make(std::string(what) + ": " + r->str, "redis");
    }
    if (stop_requested()) return Error::make("stopped", "stopped");
    return Step::kDone;
  }

  bool stop_requested() const { return opt_.stop && opt_.stop->load(); }

  static Result<void> check(const Result<Value>& r, const char* what) {
    if (!r.ok()) return Error::make(std::string(what) + ": " + r.error().message, r.error().kind);
    if (r->is_error()) return Error::make(std::string(what) + ": " + r->str, "redis");
    return Ok();
  }

  // Writes one chunk pipelined (plus the safety expiry), every reply checked.
  Result<void> write_chunk(std::vector<Command> writes, bool refresh_expiry) {
    const std::size_t n = writes.size();
    if (refresh_expiry) writes.push_back({"PEXPIRE", tmp_, std::to_string(kSafetyExpiryMs)});
    created_ = true;
    CommandOptions once = io_;
    once.retry = CommandOptions::Retry::kNever;  // APPEND/RPUSH/XADD twice would corrupt the copy
    auto replies = dst_.exec_pipeline(std::move(writes), once);
    for (std::size_t i = 0; i < replies.size(); ++i) {
      const char* what = i < n ? "write" : "PEXPIRE";
      if (auto e = check(replies[i], what); !e.ok()) return e.error();
    }
    ++chunks_written_;
    if (opt_.after_chunk) opt_.after_chunk(tmp_, chunks_written_);
    return Ok();
  }

  // Writes `command`; a server that rejects the arguments from `keep` on (a Redis before 7.0:
  // XSETID ENTRIESADDED, XGROUP CREATE ENTRIESREAD) gets the command without them.
  Result<void> write_with_fallback(Command command, std::size_t keep, const char* what) {
    auto r = dst_.exec(command, io_);
    if (r.ok() && r->is_error() && command.size() > keep && r->str.find("syntax") != std::string::npos) {
      command.resize(keep);
      r = dst_.exec(std::move(command), io_);
    }
    return check(r, what);
  }

  void drop_temp() {
    if (!created_) return;
    (void)dst_.exec({"DEL", tmp_}, io_);
  }

  Result<TypedCopyResult> outcome(TypedOutcome o) {
    result_.outcome = o;
    return result_;
  }

  Client& src_;
  Client& dst_;
  const std::string& key_;
  const TypedCopyOptions& opt_;
  const std::string& target_key_;
  const std::string tmp_;
  CommandOptions io_;
  std::size_t chunk_ = 1;
  std::size_t page_ = 1;  // elements per read now (adapt_page)
  std::size_t chunk_bytes_ = 1;
  std::string type_;
  bool created_ = false;  // a write to the temporary key was sent
  std::size_t chunks_written_ = 0;
  TypedCopyResult result_;
};

}  // namespace

Result<TypedCopyResult> copy_key_typed(Client& source, Client& target, const std::string& key,
                                       const TypedCopyOptions& options) {
  return TypedCopier(source, target, key, options).run();
}

}  // namespace suoke::migrate
