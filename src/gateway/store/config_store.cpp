#include "gateway/store/config_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "core/log.h"
#include "gateway/declarative/declarative.h"

namespace suoke::gateway::store {
namespace {

namespace json = boost::json;
using entities::Config;
using entities::DbError;

constexpr const char* kFileName = "kong.json";
constexpr const char* kEmptyHash = "00000000000000000000000000000000";

std::string str(const json::value& v) { return v.is_string() ? std::string(v.as_string()) : ""; }

int to_int(const json::value& v, int fallback) {
  if (v.is_int64()) return static_cast<int>(v.as_int64());
  if (v.is_uint64()) return static_cast<int>(v.as_uint64());
  if (v.is_double()) return static_cast<int>(v.as_double());
  return fallback;
}

std::vector<std::string> strings(const json::value& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& e : v.as_array()) out.push_back(str(e));
  }
  return out;
}

std::optional<std::string> ref_id(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  auto it = v.as_object().find("id");
  if (it == v.as_object().end()) return std::nullopt;
  return str(it->value());
}

Result<void> io_error(const std::string& what, const std::string& path) {
  return Error::make(what + " " + path + ": " + std::strerror(errno), "io");
}

// Write-to-temp, fsync, rename, fsync(dir): after this returns, the new content survives a
// crash or power loss; before the rename the old file is untouched.
Result<void> write_atomically(const std::string& dir, const std::string& content) {
  std::string final_path = dir + "/" + kFileName;
  std::string tmp_path = final_path + ".tmp";
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", tmp_path);
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto err = io_error("cannot write", tmp_path);
      ::close(fd);
      ::unlink(tmp_path.c_str());
      return err;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto err = io_error("cannot fsync", tmp_path);
    ::close(fd);
    ::unlink(tmp_path.c_str());
    return err;
  }
  ::close(fd);
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    auto err = io_error("cannot rename to", final_path);
    ::unlink(tmp_path.c_str());
    return err;
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("cannot open directory", dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io_error("cannot fsync directory", dir);
  return Ok();
}

}  // namespace

Result<std::shared_ptr<const Snapshot>> build_snapshot(const Config& config, uint64_t version,
                                                       const std::function<Result<void>(Snapshot&)>& finalize) {
  auto snap = std::make_shared<Snapshot>();
  snap->version = version;
  snap->configuration_hash = config.empty()
                                 ? std::string(kEmptyHash)
                                 : declarative::md5_hex(declarative::export_json(config));
  std::unordered_map<std::string, std::size_t> service_index;
  for (const auto& s : config.services) {
    Service out;
    out.id = str(s.at("id"));
    out.name = str(s.at("name"));
    out.protocol = str(s.at("protocol"));
    out.host = str(s.at("host"));
    out.port = static_cast<uint16_t>(to_int(s.at("port"), 80));
    out.path = str(s.at("path"));
    out.connect_timeout_ms = to_int(s.at("connect_timeout"), 60000);
    out.write_timeout_ms = to_int(s.at("write_timeout"), 60000);
    out.read_timeout_ms = to_int(s.at("read_timeout"), 60000);
    out.retries = to_int(s.at("retries"), 5);
    out.enabled = s.at("enabled").is_bool() ? s.at("enabled").as_bool() : true;
    service_index[out.id] = snap->services.size();
    snap->services.push_back(std::move(out));
  }
  for (const auto& r : config.routes) {
    Route out;
    out.id = str(r.at("id"));
    out.name = str(r.at("name"));
    out.protocols = strings(r.at("protocols"));
    out.methods = strings(r.at("methods"));
    out.hosts = strings(r.at("hosts"));
    out.paths = strings(r.at("paths"));
    out.regex_priority = to_int(r.at("regex_priority"), 0);
    out.strip_path = r.at("strip_path").is_bool() ? r.at("strip_path").as_bool() : true;
    out.preserve_host = r.at("preserve_host").is_bool() ? r.at("preserve_host").as_bool() : false;
    out.path_handling = str(r.at("path_handling"));
    if (out.path_handling.empty()) out.path_handling = "v0";
    out.created_at = r.at("created_at").is_int64() ? r.at("created_at").as_int64() : 0;
    if (auto sid = ref_id(r.at("service"))) {
      auto it = service_index.find(*sid);
      if (it != service_index.end()) out.service_index = it->second;
    }
    snap->routes.push_back(std::move(out));
  }
  for (const auto& p : config.plugins) {
    Plugin out;
    out.id = str(p.at("id"));
    out.name = str(p.at("name"));
    out.enabled = p.at("enabled").is_bool() ? p.at("enabled").as_bool() : true;
    out.service_id = ref_id(p.at("service"));
    out.route_id = ref_id(p.at("route"));
    out.consumer_id = ref_id(p.at("consumer"));
    if (p.at("config").is_object()) out.config = p.at("config").as_object();
    snap->plugins.push_back(std::move(out));
  }
  for (const auto& c : config.consumers) {
    Consumer out;
    out.id = str(c.at("id"));
    out.username = str(c.at("username"));
    out.custom_id = str(c.at("custom_id"));
    snap->consumers.push_back(std::move(out));
  }
  for (const auto& j : config.jwt_secrets) {
    JwtCredential out;
    out.id = str(j.at("id"));
    out.consumer_id = ref_id(j.at("consumer")).value_or("");
    out.key = str(j.at("key"));
    out.secret = str(j.at("secret"));
    out.algorithm = str(j.at("algorithm"));
    out.rsa_public_key = str(j.at("rsa_public_key"));
    snap->jwt_credentials.push_back(std::move(out));
  }
  auto compiled = snap->compile_router();
  if (!compiled.ok()) return compiled.error();
  if (finalize) {
    auto finalized = finalize(*snap);
    if (!finalized.ok()) return finalized.error();
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

struct ConfigStore::Impl {
  StoreOptions options;
  const Clock* clock = nullptr;
  // Serializes writers: validation, persistence and commit happen as one step.
  std::mutex write_mutex;
  // Guards `config`, `snapshot` and `subscribers` for readers.
  mutable std::mutex state_mutex;
  Config config;
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<std::function<void(std::shared_ptr<const Snapshot>)>> subscribers;

  // Caller holds write_mutex.
  entities::DbResult<json::object> commit(Config next, json::object result) {
    uint64_t version;
    {
      std::lock_guard<std::mutex> lock(state_mutex);
      version = snapshot->version + 1;
    }
    auto snap = build_snapshot(next, version, options.finalize_snapshot);
    if (!snap.ok()) {
      schema::Errors errors;
      errors.add({}, snap.error().message);
      return DbError::schema_violation(errors);
    }
    if (!options.data_dir.empty()) {
      auto written = write_atomically(options.data_dir, declarative::export_json(next));
      if (!written.ok()) {
        log::error("config store write failed", {{"error", written.error().message}});
        DbError e;
        e.http_status = 500;
        e.code = 8;
        e.name = "database error";
        e.message = written.error().message;
        return e;
      }
    }
    std::vector<std::function<void(std::shared_ptr<const Snapshot>)>> subs;
    {
      std::lock_guard<std::mutex> lock(state_mutex);
      config = std::move(next);
      snapshot = snap.value();
      subs = subscribers;
    }
    for (auto& s : subs) s(snap.value());
    return result;
  }
};

ConfigStore::ConfigStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ConfigStore::~ConfigStore() = default;

Result<std::unique_ptr<ConfigStore>> ConfigStore::open(StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->clock = options.clock ? options.clock : &Clock::system();
  impl->options = std::move(options);
  if (!impl->options.data_dir.empty()) {
    const std::string& dir = impl->options.data_dir;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return io_error("cannot create data directory", dir).error();
    }
    std::string path = dir + "/" + kFileName;
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream buf;
      buf << in.rdbuf();
      if (in.bad()) return io_error("cannot read", path).error();
      declarative::LoadOptions lo;
      lo.source_name = path;
      lo.now_s = impl->clock->now_seconds();
      auto loaded = declarative::load(buf.str(), lo);
      if (!loaded.ok()) return loaded.error();
      impl->config = std::move(loaded.value());
    }
  }
  auto snap = build_snapshot(impl->config, impl->config.empty() ? 0 : 1, impl->options.finalize_snapshot);
  if (!snap.ok()) return snap.error();
  impl->snapshot = snap.value();
  return std::unique_ptr<ConfigStore>(new ConfigStore(std::move(impl)));
}

std::shared_ptr<const Snapshot> ConfigStore::snapshot() const {
  std::lock_guard<std::mutex> lock(impl_->state_mutex);
  return impl_->snapshot;
}

void ConfigStore::on_change(std::function<void(std::shared_ptr<const Snapshot>)> callback) {
  std::lock_guard<std::mutex> lock(impl_->state_mutex);
  impl_->subscribers.push_back(std::move(callback));
}

Config ConfigStore::config() const {
  std::lock_guard<std::mutex> lock(impl_->state_mutex);
  return impl_->config;
}

int64_t ConfigStore::now_s() const { return impl_->clock->now_seconds(); }

entities::DbResult<json::object> ConfigStore::write(const Mutation& mutation, bool* changed) {
  std::lock_guard<std::mutex> lock(impl_->write_mutex);
  Config next = config();
  auto result = mutation(next);
  if (!result.ok()) return result;
  bool differs = !(next == config());
  if (changed) *changed = differs;
  if (!differs) return result;
  return impl_->commit(std::move(next), std::move(result.value()));
}

Result<void> ConfigStore::load_declarative_document(const json::value& document,
                                                    std::string_view source_name,
                                                    std::vector<std::string>* error_lines) {
  declarative::LoadOptions lo;
  lo.source_name = std::string(source_name);
  lo.now_s = now_s();
  auto loaded = declarative::load_document(document, lo, error_lines);
  if (!loaded.ok()) return loaded.error();
  std::lock_guard<std::mutex> lock(impl_->write_mutex);
  auto r = impl_->commit(std::move(loaded.value()), {});
  if (!r.ok())
    return Error::make(r.error().message, r.error().http_status == 500 ? "io" : "schema");
  return Ok();
}

Result<void> ConfigStore::load_declarative(std::string_view text, std::string_view source_name) {
  auto doc = declarative::parse_text(text);
  if (!doc.ok()) return Error::make(std::string(source_name) + ": " + doc.error().message, "parse");
  return load_declarative_document(doc.value(), source_name, nullptr);
}

std::string ConfigStore::export_declarative(bool yaml) const {
  Config c = config();
  return yaml ? declarative::export_yaml(c) : declarative::export_json(c);
}

}  // namespace suoke::gateway::store
