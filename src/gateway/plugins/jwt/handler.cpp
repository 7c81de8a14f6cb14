#include "gateway/plugins/jwt/handler.h"

#include <array>
#include <atomic>
#include <cstring>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/plugins/jwt/base64url.h"
#include "gateway/plugins/jwt/crypto.h"

namespace suoke::gateway::plugins::jwt {
namespace {

namespace json = boost::json;

// Why authentication failed; each maps to Kong's status, message and WWW-Authenticate.
enum class Reason : uint8_t {
  kNoToken,               // 401 "Unauthorized"
  kMultipleTokens,        // 401 "Multiple tokens provided"
  kUnrecognizable,        // 401 "Unrecognizable token" (a query flag without a value)
  kInvalidJson,           // 401 "Bad token; invalid JSON"
  kInvalidAlg,            // 401 "Bad token; invalid alg"
  kBadSignatureEncoding,  // 401 "Bad token; invalid signature"
  kNoKeyClaim,            // 401 "No mandatory '<claim>' in claims"
  kEmptyKeyClaim,         // 401 "Invalid '<claim>' in claims"
  kNoCredential,          // 401 "No credentials found for given '<claim>'"
  kAlgorithmMismatch,     // 401 "Invalid algorithm"
  kInvalidKey,            // 401 "Invalid key/secret"
  kInvalidSignature,      // 401 "Invalid signature"
  kClaims,                // 401 {"exp": "...", "nbf": "..."} (body built per request)
  kNoConsumer,            // 401 "Could not find consumer for '<claim>=<key>'" (no WWW-Authenticate)
  kCount,
};

enum class Claim : uint8_t { kExp, kNbf };

struct Credential {
  const JwtCredential* entity = nullptr;
  const Consumer* consumer = nullptr;    // null when the credential's consumer is gone
  std::optional<Algorithm> algorithm;    // null: the stored name is no algorithm we know
  std::unique_ptr<const VerifyKey> key;  // null: "Invalid key/secret"
};

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Whether a header, cookie or parameter name is in a configured list.
bool contains(const std::vector<std::string>& list, std::string_view name) {
  for (const auto& s : list) {
    if (s == name) return true;
  }
  return false;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    unsigned char x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ngx.decode_args: '+' is a space and %XX an octet (a malformed escape stays as is).
std::string_view unescape_arg(std::string_view in, std::string& storage) {
  if (in.find_first_of("%+") == std::string_view::npos) return in;
  storage.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      storage += ' ';
    } else if (c == '%' && i + 2 < in.size() && hex_value(in[i + 1]) >= 0 &&
               hex_value(in[i + 2]) >= 0) {
      storage += static_cast<char>(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
      i += 2;
    } else {
      storage += c;
    }
  }
  return storage;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

// Kong matches `\s*[Bb]earer\s+(.+)` anywhere in the header; the scheme is matched without
// regard to case here (RFC 7235), which is a superset of Kong's [Bb]earer.
std::string_view bearer_token(std::string_view value) {
  constexpr std::string_view kScheme = "bearer";
  for (std::size_t at = 0; at + kScheme.size() < value.size(); ++at) {
    if (!iequals(value.substr(at, kScheme.size()), kScheme)) continue;
    std::size_t p = at + kScheme.size();
    if (!is_space(value[p])) continue;
    while (p < value.size() && is_space(value[p])) ++p;
    // `.+` stops at a line break; header values cannot contain one, but be exact. memchr
    // rather than a loop per byte: the token is ~150 bytes on every request.
    std::size_t end = value.size();
    for (char stop : {'\r', '\n'}) {
      if (const void* at = std::memchr(value.data() + p, stop, end - p)) {
        end = static_cast<std::size_t>(static_cast<const char*>(at) - value.data());
      }
    }
    if (end > p) return value.substr(p, end - p);
    // `\s+` may also give back whitespace to `.+`: "Bearer  " matches with token " ".
    if (p - (at + kScheme.size()) >= 2) return value.substr(p - 1, 1);
  }
  return {};
}

// The distinct non-empty tokens a request carries (Kong's token_set).
struct Tokens {
  std::string_view first;
  std::string first_storage;  // when `first` had to be unescaped
  int distinct = 0;
  bool flag = false;  // a uri parameter present without a value (Lua `true`)

  void add(std::string_view token, bool unescaped) {
    if (token.empty()) return;
    if (distinct == 0) {
      if (unescaped) {
        first_storage.assign(token);
        first = first_storage;
      } else {
        first = token;
      }
      distinct = 1;
    } else if (token != first) {
      distinct = 2;  // more than one is all that matters
    }
  }
};

std::string_view sv(const json::string& s) { return {s.data(), s.size()}; }

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

double number_of(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

std::string message_body(std::string_view message) {
  json::object o;
  o["message"] = message;
  return json::serialize(o);
}

// The numeric time claims of a verified token: nullopt when absent or not a number.
struct TimeClaims {
  std::optional<double> exp;
  std::optional<double> nbf;
};

std::optional<double> number_claim(const json::object& claims, std::string_view name) {
  const json::value* v = claims.if_contains(name);
  if (!v || !is_number(*v)) return std::nullopt;
  return number_of(*v);
}

// Per-worker cache of verified tokens (as Envoy's jwt_authn jwt_cache_config): the key is the
// token's exact bytes, the value the credential it verified against and its time claims.
// Everything the full check computes from the token (segments, JSON, alg, key claim,
// credential, signature) depends only on those bytes and on the handler's snapshot, so a hit
// skips it; the time claims depend on the clock and are checked again on every hit. Entries
// belong to one handler (one snapshot): a new snapshot, e.g. a changed or deleted
// credential, has a new handler whose id matches no entry. Direct-mapped and bounded: a
// colliding token replaces the entry; only successes are stored.
constexpr std::size_t kCacheSlots = 1024;
constexpr std::size_t kMaxCachedTokenBytes = 4096;

struct CachedToken {
  uint64_t owner = 0;  // JwtHandler::cache_id_; 0: empty
  std::string token;
  const void* credential = nullptr;  // the owner's Credential
  TimeClaims claims;
};

std::atomic<uint64_t> next_cache_id{1};

CachedToken& cache_slot(uint64_t owner, std::string_view token) {
  thread_local std::unique_ptr<CachedToken[]> slots;
  if (!slots) slots = std::make_unique<CachedToken[]>(kCacheSlots);
  std::size_t h = std::hash<std::string_view>{}(token) ^ (owner * 0x9E3779B97F4A7C15ULL);
  return slots[h & (kCacheSlots - 1)];
}

class JwtHandler final : public PluginHandler {
 public:
  JwtHandler(const gateway::Plugin& entity, const Clock& clock)
      : PluginHandler(entity),
        clock_(&clock),
        cache_id_(next_cache_id.fetch_add(1, std::memory_order_relaxed)) {}

  Result<void> configure(const Snapshot& snapshot);
  void access(RequestContext& ctx) const override;

 private:
  struct Failure {
    Reason reason = Reason::kNoToken;
    std::string body;  // kClaims and kNoConsumer only
  };

  bool authenticate(RequestContext& ctx, Failure& failure) const;
  // Whether the time claims pass claims_to_verify and maximum_expiration at `now`; when not
  // and `errors` is given, Kong's error per claim is added to it.
  bool time_claims_ok(const TimeClaims& claims, int64_t now, json::object* errors) const;
  void retrieve_tokens(const RequestContext& ctx, Tokens& tokens) const;
  void set_consumer(RequestContext& ctx, const Consumer& consumer,
                    const Credential* credential) const;
  void fail(RequestContext& ctx, Failure& failure) const;

  const Clock* clock_;
  const uint64_t cache_id_;
  std::vector<std::string> uri_param_names_;
  std::vector<std::string> cookie_names_;
  std::vector<std::string> header_names_;
  std::string key_claim_name_ = "iss";
  bool secret_is_base64_ = false;
  std::vector<Claim> claims_to_verify_;
  double maximum_expiration_ = 0;
  bool run_on_preflight_ = true;
  bool has_anonymous_ = false;
  std::string anonymous_;
  const Consumer* anonymous_consumer_ = nullptr;
  std::string www_base_ = "Bearer";
  std::string www_error_ = "Bearer error=\"invalid_token\"";
  std::array<std::string, static_cast<std::size_t>(Reason::kCount)> bodies_;
  std::unordered_map<std::string, Credential, StringHash, std::equal_to<>> credentials_;
};

Result<std::vector<std::string>> string_list(const json::object& config, std::string_view field) {
  std::vector<std::string> out;
  const json::value* v = config.if_contains(field);
  if (!v || v->is_null()) return out;
  if (!v->is_array())
    return Error::make("config." + std::string(field) + ": expected an array", "schema");
  for (const auto& e : v->as_array()) {
    if (!e.is_string())
      return Error::make("config." + std::string(field) + ": expected strings", "schema");
    out.emplace_back(sv(e.as_string()));
  }
  return out;
}

Result<void> JwtHandler::configure(const Snapshot& snapshot) {
  const json::object& config = entity().config;
  auto uri = string_list(config, "uri_param_names");
  auto cookies = string_list(config, "cookie_names");
  auto headers = string_list(config, "header_names");
  auto claims = string_list(config, "claims_to_verify");
  for (auto* r : {&uri, &cookies, &headers, &claims}) {
    if (!r->ok()) return r->error();
  }
  uri_param_names_ = std::move(uri).value();
  cookie_names_ = std::move(cookies).value();
  header_names_ = std::move(headers).value();
  for (const auto& c : claims.value()) {
    if (c == "exp") {
      claims_to_verify_.push_back(Claim::kExp);
    } else if (c == "nbf") {
      claims_to_verify_.push_back(Claim::kNbf);
    } else {
      return Error::make("config.claims_to_verify: unknown claim '" + c + "'", "schema");
    }
  }
  if (const json::value* v = config.if_contains("key_claim_name"); v && v->is_string()) {
    key_claim_name_ = std::string(sv(v->as_string()));
  }
  if (const json::value* v = config.if_contains("secret_is_base64"); v && v->is_bool()) {
    secret_is_base64_ = v->as_bool();
  }
  if (const json::value* v = config.if_contains("run_on_preflight"); v && v->is_bool()) {
    run_on_preflight_ = v->as_bool();
  }
  if (const json::value* v = config.if_contains("maximum_expiration"); v && is_number(*v)) {
    maximum_expiration_ = number_of(*v);
  }
  if (const json::value* v = config.if_contains("anonymous"); v && v->is_string()) {
    has_anonymous_ = true;
    anonymous_ = std::string(sv(v->as_string()));
  }
  if (const json::value* v = config.if_contains("realm"); v && v->is_string()) {
    www_base_ = "Bearer realm=\"" + std::string(sv(v->as_string())) + "\"";
    www_error_ = www_base_ + ", error=\"invalid_token\"";
  }

  auto body = [&](Reason r, std::string_view message) {
    bodies_[static_cast<std::size_t>(r)] = message_body(message);
  };
  body(Reason::kNoToken, "Unauthorized");
  body(Reason::kMultipleTokens, "Multiple tokens provided");
  body(Reason::kUnrecognizable, "Unrecognizable token");
  body(Reason::kInvalidJson, "Bad token; invalid JSON");
  body(Reason::kInvalidAlg, "Bad token; invalid alg");
  body(Reason::kBadSignatureEncoding, "Bad token; invalid signature");
  body(Reason::kNoKeyClaim, "No mandatory '" + key_claim_name_ + "' in claims");
  body(Reason::kEmptyKeyClaim, "Invalid '" + key_claim_name_ + "' in claims");
  body(Reason::kNoCredential, "No credentials found for given '" + key_claim_name_ + "'");
  body(Reason::kAlgorithmMismatch, "Invalid algorithm");
  body(Reason::kInvalidKey, "Invalid key/secret");
  body(Reason::kInvalidSignature, "Invalid signature");

  std::unordered_map<std::string_view, const Consumer*> consumers_by_id;
  for (const Consumer& c : snapshot.consumers) consumers_by_id.emplace(c.id, &c);
  // kong.client.load_consumer(anonymous, true): by id, then by username.
  if (has_anonymous_) {
    auto it = consumers_by_id.find(anonymous_);
    if (it != consumers_by_id.end()) {
      anonymous_consumer_ = it->second;
    } else {
      for (const Consumer& c : snapshot.consumers) {
        if (!c.username.empty() && c.username == anonymous_) {
          anonymous_consumer_ = &c;
          break;
        }
      }
    }
  }

  for (const JwtCredential& cred : snapshot.jwt_credentials) {
    if (credentials_.count(cred.key)) continue;  // keys are unique in a valid store
    Credential entry;
    entry.entity = &cred;
    auto consumer = consumers_by_id.find(cred.consumer_id);
    if (consumer != consumers_by_id.end()) entry.consumer = consumer->second;
    entry.algorithm =
        parse_algorithm(cred.algorithm.empty() ? std::string_view("HS256") : cred.algorithm);
    if (entry.algorithm) {
      // A key that cannot be built is answered per request with "Invalid key/secret", as
      // Kong does for a secret that is not valid base64; it does not fail the snapshot.
      if (is_hmac(*entry.algorithm)) {
        std::string decoded;
        if (!secret_is_base64_ || decode_base64_secret(cred.secret, decoded)) {
          auto key = VerifyKey::hmac(*entry.algorithm, secret_is_base64_ ? decoded : cred.secret);
          if (key.ok()) entry.key = std::move(key).value();
        }
      } else {
        auto key = VerifyKey::public_key(*entry.algorithm, cred.rsa_public_key);
        if (key.ok()) entry.key = std::move(key).value();
      }
    }
    credentials_.emplace(cred.key, std::move(entry));
  }
  return Ok();
}

void JwtHandler::retrieve_tokens(const RequestContext& ctx, Tokens& tokens) const {
  std::string unescaped_name, unescaped_value;
  if (!uri_param_names_.empty() && !ctx.query.empty()) {
    std::string_view q = ctx.query;
    while (!q.empty()) {
      std::size_t amp = q.find('&');
      std::string_view arg = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
      if (arg.empty()) continue;
      std::size_t eq = arg.find('=');
      std::string_view name = unescape_arg(arg.substr(0, eq), unescaped_name);
      if (!contains(uri_param_names_, name)) continue;
      if (eq == std::string_view::npos) {
        tokens.flag = true;
        continue;
      }
      std::string_view raw = arg.substr(eq + 1);
      std::string_view value = unescape_arg(raw, unescaped_value);
      tokens.add(value, value.data() != raw.data());
      if (tokens.distinct > 1) return;
    }
  }

  if (!cookie_names_.empty() && ctx.request_headers) {
    // $cookie_<name>: the first cookie of that name, per name.
    for (const std::string& wanted : cookie_names_) {
      const HeaderView& h = *ctx.request_headers;
      bool found = false;
      for (std::size_t i = 0; i < h.size() && !found; ++i) {
        if (!iequals(h.name(i), "cookie")) continue;
        std::string_view rest = h.value(i);
        while (!rest.empty() && !found) {
          std::size_t semi = rest.find(';');
          std::string_view pair = rest.substr(0, semi);
          rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
          while (!pair.empty() && is_space(pair.front())) pair.remove_prefix(1);
          std::size_t eq = pair.find('=');
          if (eq == std::string_view::npos) continue;
          std::string_view name = pair.substr(0, eq);
          while (!name.empty() && is_space(name.back())) name.remove_suffix(1);
          if (!iequals(name, wanted)) continue;
          std::string_view value = pair.substr(eq + 1);
          while (!value.empty() && is_space(value.back())) value.remove_suffix(1);
          tokens.add(value, false);
          found = true;
        }
      }
      if (tokens.distinct > 1) return;
    }
  }

  if (ctx.request_headers) {
    for (const std::string& name : header_names_) {
      std::string_view value = ctx.request_headers->get(name);
      if (value.empty()) continue;
      tokens.add(bearer_token(value), false);
      if (tokens.distinct > 1) return;
    }
  }
}

bool JwtHandler::authenticate(RequestContext& ctx, Failure& failure) const {
  Tokens tokens;
  retrieve_tokens(ctx, tokens);
  int entries = tokens.distinct + (tokens.flag ? 1 : 0);
  if (entries == 0) {
    failure.reason = Reason::kNoToken;
    return false;
  }
  if (entries > 1) {
    failure.reason = Reason::kMultipleTokens;
    return false;
  }
  if (tokens.distinct == 0) {
    failure.reason = Reason::kUnrecognizable;
    return false;
  }
  const std::string_view token = tokens.first;

  const bool check_time = !claims_to_verify_.empty() || maximum_expiration_ > 0;
  CachedToken* slot = token.size() <= kMaxCachedTokenBytes ? &cache_slot(cache_id_, token) : nullptr;
  if (slot != nullptr && slot->owner == cache_id_ && slot->token == token) {
    if (!check_time || time_claims_ok(slot->claims, clock_->now_seconds(), nullptr)) {
      const auto* credential = static_cast<const Credential*>(slot->credential);
      set_consumer(ctx, *credential->consumer, credential);
      return true;
    }
    slot->owner = 0;  // no longer valid: the full check below gives Kong's answer
  }

  // Kong's tokenize(token, ".", 3): header and claims end at the first two dots; the
  // signature is the rest (a further dot makes it invalid base64url below).
  std::size_t dot1 = token.find('.');
  std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) {
    failure.reason = Reason::kInvalidJson;
    return false;
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view claims_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  // Decoded segments live on the stack for ordinary tokens; a bigger one (headers can be a
  // few KB) falls back to the heap.
  const std::size_t need = decoded_size_bound(header_b64.size()) +
                           decoded_size_bound(claims_b64.size()) +
                           decoded_size_bound(signature_b64.size());
  unsigned char stack_buf[2048];
  std::unique_ptr<unsigned char[]> heap_buf;
  unsigned char* buf = stack_buf;
  if (need > sizeof stack_buf) {
    heap_buf.reset(new unsigned char[need]);
    buf = heap_buf.get();
  }
  unsigned char* header_raw = buf;
  long header_len = decode_base64url(header_b64, header_raw);
  unsigned char* claims_raw = buf + (header_len < 0 ? 0 : header_len);
  long claims_len = header_len < 0 ? -1 : decode_base64url(claims_b64, claims_raw);
  if (header_len < 0 || claims_len < 0) {
    failure.reason = Reason::kInvalidJson;
    return false;
  }

  unsigned char json_buf[4096];
  json::monotonic_resource arena(json_buf, sizeof json_buf);
  json::storage_ptr storage(&arena);
  boost::system::error_code ec;
  json::value header = json::parse(std::string_view(reinterpret_cast<const char*>(header_raw),
                                                    static_cast<std::size_t>(header_len)),
                                   ec, storage);
  if (ec || !header.is_object()) {
    failure.reason = Reason::kInvalidJson;
    return false;
  }
  json::value claims = json::parse(std::string_view(reinterpret_cast<const char*>(claims_raw),
                                                    static_cast<std::size_t>(claims_len)),
                                   ec, storage);
  if (ec || !claims.is_object()) {
    failure.reason = Reason::kInvalidJson;
    return false;
  }
  const json::object& header_obj = header.get_object();
  const json::object& claims_obj = claims.get_object();

  const json::value* alg_value = header_obj.if_contains("alg");
  std::optional<Algorithm> alg;
  if (alg_value && alg_value->is_string()) alg = parse_algorithm(sv(alg_value->get_string()));
  if (!alg) {
    failure.reason = Reason::kInvalidAlg;  // includes "none" in any spelling
    return false;
  }

  unsigned char* signature_raw = claims_raw + claims_len;
  long signature_len = decode_base64url(signature_b64, signature_raw);
  if (signature_len < 0) {
    failure.reason = Reason::kBadSignatureEncoding;
    return false;
  }

  // claims[key_claim_name] or header[key_claim_name]: Lua's `or` also skips `false`.
  auto usable = [](const json::value* v) { return v && !(v->is_bool() && !v->get_bool()); };
  const json::value* key_value = claims_obj.if_contains(key_claim_name_);
  if (!usable(key_value)) key_value = header_obj.if_contains(key_claim_name_);
  if (!usable(key_value)) {
    failure.reason = Reason::kNoKeyClaim;
    return false;
  }
  if (key_value->is_string() && key_value->get_string().empty()) {
    failure.reason = Reason::kEmptyKeyClaim;
    return false;
  }
  // A non-string key names no credential (keys are strings).
  auto found =
      key_value->is_string() ? credentials_.find(sv(key_value->get_string())) : credentials_.end();
  if (found == credentials_.end()) {
    failure.reason = Reason::kNoCredential;
    return false;
  }
  const Credential& credential = found->second;

  // The token's alg must be exactly the credential's: this is what stops an RS256 public key
  // from being used as an HS256 secret.
  if (!credential.algorithm || *credential.algorithm != *alg) {
    failure.reason = Reason::kAlgorithmMismatch;
    return false;
  }
  if (!credential.key) {
    failure.reason = Reason::kInvalidKey;
    return false;
  }
  const std::string_view signing_input = token.substr(0, dot2);
  if (!credential.key->verify(signing_input, signature_raw,
                              static_cast<std::size_t>(signature_len))) {
    failure.reason = Reason::kInvalidSignature;
    return false;
  }

  TimeClaims time_claims{number_claim(claims_obj, "exp"), number_claim(claims_obj, "nbf")};
  if (check_time) {
    json::object errors;
    if (!time_claims_ok(time_claims, clock_->now_seconds(), &errors)) {
      failure.reason = Reason::kClaims;
      failure.body = json::serialize(errors);
      return false;
    }
  }

  if (!credential.consumer) {
    failure.reason = Reason::kNoConsumer;
    failure.body = message_body("Could not find consumer for '" + key_claim_name_ + "=" +
                                std::string(credential.entity->key) + "'");
    return false;
  }
  set_consumer(ctx, *credential.consumer, &credential);
  if (slot != nullptr) {
    slot->owner = cache_id_;
    slot->token.assign(token);
    slot->credential = &credential;
    slot->claims = time_claims;
  }
  return true;
}

bool JwtHandler::time_claims_ok(const TimeClaims& claims, int64_t now, json::object* errors) const {
  bool ok = true;
  auto error = [&](const char* name, const char* message) {
    ok = false;
    if (errors) (*errors)[name] = message;
  };
  for (Claim c : claims_to_verify_) {
    const char* name = c == Claim::kExp ? "exp" : "nbf";
    const std::optional<double>& v = c == Claim::kExp ? claims.exp : claims.nbf;
    if (!v) {
      error(name, "must be a number");
    } else if (c == Claim::kExp && *v <= static_cast<double>(now)) {
      error(name, "token expired");
    } else if (c == Claim::kNbf && *v > static_cast<double>(now)) {
      error(name, "token not valid yet");
    }
  }
  if (ok && maximum_expiration_ > 0) {
    if (!claims.exp || *claims.exp - static_cast<double>(now) > maximum_expiration_) {
      error("exp", "exceeds maximum allowed expiration");
    }
  }
  return ok;
}

// Sets (replaces) an upstream request header.
void set_upstream(RequestContext& ctx, std::string_view name, std::string_view value) {
  for (auto& [k, v] : ctx.upstream_headers) {
    if (iequals(k, name)) {
      v.assign(value);
      return;
    }
  }
  ctx.upstream_headers.emplace_back(std::string(name), std::string(value));
}

// Kong clears these identity headers so a client cannot forge them. An empty override
// removes a header the client sent (RequestContext::upstream_headers); one it did not send
// needs nothing.
void clear_upstream(RequestContext& ctx, std::string_view name) {
  for (auto it = ctx.upstream_headers.begin(); it != ctx.upstream_headers.end(); ++it) {
    if (iequals(it->first, name)) {
      ctx.upstream_headers.erase(it);
      break;
    }
  }
  if (!ctx.request_headers) return;
  const HeaderView& h = *ctx.request_headers;
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (iequals(h.name(i), name)) {
      ctx.upstream_headers.emplace_back(std::string(name), std::string());
      return;
    }
  }
}

void JwtHandler::set_consumer(RequestContext& ctx, const Consumer& consumer,
                              const Credential* credential) const {
  ctx.consumer = &consumer;
  set_upstream(ctx, "X-Consumer-ID", consumer.id);
  if (!consumer.custom_id.empty()) {
    set_upstream(ctx, "X-Consumer-Custom-ID", consumer.custom_id);
  } else {
    clear_upstream(ctx, "X-Consumer-Custom-ID");
  }
  if (!consumer.username.empty()) {
    set_upstream(ctx, "X-Consumer-Username", consumer.username);
  } else {
    clear_upstream(ctx, "X-Consumer-Username");
  }
  if (credential) {
    ctx.credential_id = credential->entity->id;
    ctx.credential_identifier = credential->entity->key;
    set_upstream(ctx, "X-Credential-Identifier", credential->entity->key);
    clear_upstream(ctx, "X-Anonymous-Consumer");
  } else {
    ctx.credential_id.clear();
    ctx.credential_identifier.clear();
    clear_upstream(ctx, "X-Credential-Identifier");
    set_upstream(ctx, "X-Anonymous-Consumer", "true");
  }
}

void JwtHandler::fail(RequestContext& ctx, Failure& failure) const {
  const bool dynamic = failure.reason == Reason::kClaims || failure.reason == Reason::kNoConsumer;
  http::Response res = http::Response::json(
      401, dynamic ? std::move(failure.body) : bodies_[static_cast<std::size_t>(failure.reason)]);
  // Kong sends the bare challenge when no token was given, the invalid_token one for a bad
  // token, and none when the credential's consumer is missing.
  if (failure.reason == Reason::kNoToken) {
    res.headers.emplace_back("WWW-Authenticate", www_base_);
  } else if (failure.reason != Reason::kNoConsumer) {
    res.headers.emplace_back("WWW-Authenticate", www_error_);
  }
  ctx.exit = std::move(res);
}

void JwtHandler::access(RequestContext& ctx) const {
  if (!run_on_preflight_ && ctx.method == "OPTIONS") return;
  Failure failure;
  if (!has_anonymous_) {
    // Logical AND with other authentication plugins: this one must pass.
    if (!authenticate(ctx, failure)) fail(ctx, failure);
    return;
  }
  // Logical OR: already authenticated by another plugin, nothing to do; otherwise a failure
  // falls back to the anonymous consumer.
  if (!ctx.credential_id.empty()) return;
  if (authenticate(ctx, failure)) return;
  if (!anonymous_consumer_) {
    ctx.exit = http::Response::json(
        500, message_body("anonymous consumer " + anonymous_ + " is configured but doesn't exist"));
    return;
  }
  set_consumer(ctx, *anonymous_consumer_, nullptr);
}

}  // namespace

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime) {
  auto handler = std::make_unique<JwtHandler>(entity, runtime.clock());
  auto configured = handler->configure(snapshot);
  if (!configured.ok()) return configured.error();
  return std::unique_ptr<PluginHandler>(std::move(handler));
}

}  // namespace suoke::gateway::plugins::jwt
