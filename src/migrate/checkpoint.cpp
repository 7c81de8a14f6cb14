#include "migrate/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>

#include "redis/url.h"

namespace suoke::migrate {
namespace {

constexpr uint64_t kFormatVersion = 1;

Result<void> write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::make("writing " + path + ": " + std::strerror(errno), "io");
    }
    off += static_cast<std::size_t>(n);
  }
  return Ok();
}

boost::json::object counts_json(const CheckpointCounts& c) {
  return {{"scanned", c.scanned}, {"migrated", c.migrated}, {"typed", c.typed},       {"skipped", c.skipped},
          {"expired", c.expired}, {"vanished", c.vanished}, {"failed", c.failed},     {"filtered", c.filtered},
          {"bytes", c.bytes}};
}

// A missing field reads as 0; a field that is not a non-negative integer is an error naming it
// (to_number would throw on -1 or 1.5, and a hand-edited or truncated checkpoint must get a
// message, not an exception).
Result<uint64_t> u64(const boost::json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  if (v == nullptr) return uint64_t{0};
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return Error::make(std::string("\"") + name + "\" must be a non-negative integer", "config");
}

std::string str(const boost::json::object& o, const char* name) {
  auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// --match and --key-prefix are bytes from the command line, not necessarily UTF-8, which a
// JSON parser refuses: they are stored as hex.
std::string to_hex(std::string_view bytes) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view hex) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// A byte string field written by to_hex under `name`_hex (a checkpoint of an earlier build
// has it as a plain string under `name`).
std::optional<std::string> bytes_field(const boost::json::object& o, const char* name) {
  auto* v = o.if_contains(std::string(name) + "_hex");
  if (v == nullptr) return str(o, name);
  if (!v->is_string()) return std::nullopt;
  return from_hex(v->as_string());
}

}  // namespace

void CheckpointCounts::add(const CheckpointCounts& o) {
  scanned += o.scanned;
  migrated += o.migrated;
  typed += o.typed;
  skipped += o.skipped;
  expired += o.expired;
  vanished += o.vanished;
  failed += o.failed;
  filtered += o.filtered;
  bytes += o.bytes;
}

std::string url_without_credentials(std::string_view url) {
  auto parsed = redis::parse_redis_url(url);
  if (!parsed.ok()) return "?";
  std::string out = parsed->scheme == redis::RedisUrl::Scheme::kCluster ? "redis-cluster://"
                    : parsed->scheme == redis::RedisUrl::Scheme::kRediss ? "rediss://"
                                                                          : "redis://";
  for (std::size_t i = 0; i < parsed->endpoints.size(); ++i) {
    if (i > 0) out += ',';
    out += parsed->endpoints[i].to_string();
  }
  if (parsed->scheme != redis::RedisUrl::Scheme::kCluster) out += "/" + std::to_string(parsed->db);
  return out;
}

Result<void> save_checkpoint(const std::string& path, const Checkpoint& cp) {
  boost::json::object o;
  o["version"] = kFormatVersion;
  o["from"] = cp.from;
  o["to"] = cp.to;
  o["match_hex"] = to_hex(cp.match);
  o["db"] = cp.db;
  o["types"] = cp.types;
  o["key_prefix_hex"] = to_hex(cp.key_prefix);
  boost::json::array dbs;
  for (int d : cp.databases) dbs.push_back(d);
  o["databases"] = std::move(dbs);
  o["db_index"] = cp.db_index;
  boost::json::object cursors;
  for (const auto& [node, cursor] : cp.position.cursors) cursors[node] = cursor;
  o["cursors"] = std::move(cursors);
  boost::json::array finished;
  for (const auto& node : cp.position.finished) finished.push_back(boost::json::string(node));
  o["finished"] = std::move(finished);
  o["counts"] = counts_json(cp.counts);
  o["seconds"] = cp.seconds;
  std::string data = boost::json::serialize(o) + "\n";

  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error::make("cannot write checkpoint " + tmp + ": " + std::strerror(errno), "io");
  auto w = write_all(fd, data, tmp);
  if (w.ok() && ::fsync(fd) != 0) w = Error::make("fsync " + tmp + ": " + std::strerror(errno), "io");
  ::close(fd);
  if (!w.ok()) return w;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error::make("rename " + tmp + " to " + path + ": " + std::strerror(errno), "io");
  }
  // The rename itself survives a crash once the directory is synced.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Ok();
}

Result<Checkpoint> load_checkpoint(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Error::make("no checkpoint at " + path, "not_found");
    return Error::make("cannot read checkpoint " + path + ": " + std::strerror(errno), "io");
  }
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return parse_checkpoint(data, path);
}

Result<Checkpoint> parse_checkpoint(std::string_view text, std::string_view name) {
  const std::string where = "checkpoint " + std::string(name);
  auto bad = [&](const std::string& why) { return Error::make(where + ": " + why, "config"); };
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return bad("not valid JSON (" + ec.message() + ")");
  if (!v.is_object()) return bad("not a JSON object");
  const auto& o = v.as_object();
  auto version = u64(o, "version");
  if (!version.ok()) return bad(version.error().message);
  if (*version != kFormatVersion) return bad("unknown format version " + std::to_string(*version));
  Checkpoint cp;
  cp.from = str(o, "from");
  cp.to = str(o, "to");
  auto match = bytes_field(o, "match");
  cp.db = str(o, "db");
  cp.types = str(o, "types");
  auto key_prefix = bytes_field(o, "key_prefix");
  if (!match) return bad("\"match\" is not hex");
  if (!key_prefix) return bad("\"key_prefix\" is not hex");
  cp.match = std::move(*match);
  cp.key_prefix = std::move(*key_prefix);
  if (auto* dbs = o.if_contains("databases"); dbs != nullptr) {
    if (!dbs->is_array()) return bad("\"databases\" must be an array");
    for (const auto& d : dbs->as_array()) {
      if (!d.is_int64() || d.get_int64() < 0 || d.get_int64() > (1 << 20)) {
        return bad("\"databases\" must hold database numbers");
      }
      cp.databases.push_back(static_cast<int>(d.get_int64()));
    }
  }
  auto db_index = u64(o, "db_index");
  if (!db_index.ok()) return bad(db_index.error().message);
  if (*db_index > cp.databases.size()) return bad("\"db_index\" is past the last database");
  cp.db_index = static_cast<std::size_t>(*db_index);
  if (auto* c = o.if_contains("cursors"); c != nullptr) {
    if (!c->is_object()) return bad("\"cursors\" must be an object");
    for (const auto& [node, cursor] : c->as_object()) {
      if (!cursor.is_string()) return bad("the cursor of " + std::string(node) + " must be a string");
      cp.position.cursors[std::string(node)] = std::string(cursor.as_string());
    }
  }
  if (auto* f = o.if_contains("finished"); f != nullptr) {
    if (!f->is_array()) return bad("\"finished\" must be an array");
    for (const auto& node : f->as_array()) {
      if (!node.is_string()) return bad("\"finished\" must hold node addresses");
      cp.position.finished.insert(std::string(node.as_string()));
    }
  }
  if (auto* c = o.if_contains("counts"); c != nullptr) {
    if (!c->is_object()) return bad("\"counts\" must be an object");
    const auto& co = c->as_object();
    uint64_t* fields[] = {&cp.counts.scanned, &cp.counts.migrated, &cp.counts.typed,
                          &cp.counts.skipped, &cp.counts.expired,  &cp.counts.vanished,
                          &cp.counts.failed,  &cp.counts.filtered, &cp.counts.bytes};
    const char* names[] = {"scanned", "migrated", "typed", "skipped", "expired", "vanished", "failed", "filtered", "bytes"};
    for (std::size_t i = 0; i < std::size(fields); ++i) {
      auto n = u64(co, names[i]);
      if (!n.ok()) return bad("counts: " + n.error().message);
      *fields[i] = *n;
    }
  }
  if (auto* s = o.if_contains("seconds"); s != nullptr) {
    if (!s->is_number()) return bad("\"seconds\" must be a number");
    cp.seconds = s->is_double() ? s->get_double() : s->is_int64() ? static_cast<double>(s->get_int64())
                                                                  : static_cast<double>(s->get_uint64());
  }
  return cp;
}

}  // namespace suoke::migrate
