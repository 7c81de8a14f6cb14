// The response-transformer plugin (Kong 3.x, priority 800). Header operations run in
// header_filter; JSON operations buffer the body in body_filter and emit the transformed
// document at the end. See transformer.h for the operations and the JSON path syntax.
//
// Compressed bodies: when a JSON operation is configured the upstream is asked for
// `Accept-Encoding: identity`. An upstream that still answers with `Content-Encoding: gzip`
// (or x-gzip, deflate) is decoded and the client receives the transformed body unencoded;
// any other encoding (br, zstd, a list of encodings) cannot be transformed and is answered
// like an oversize body (below), since passing it through would leak the fields the
// operator asked us to remove.
//
// Size cap: the buffered (decoded) body is limited to Limits::max_body_bytes (8 MiB unless
// SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES says otherwise; Kong's schema has no field for
// it and unknown config fields are rejected). Over the cap the body is not passed through
// untransformed unless SUOKE_RESPONSE_TRANSFORMER_OVERSIZE=pass-through:
//   - a Content-Length above the cap is known in header_filter: the client gets
//     502 {"message":"response body too large to transform (limit N bytes)"};
//   - a body without Content-Length (chunked, or gzip growing past the cap while decoded)
//     is only found too large after the status line is gone: buffering stops at the cap,
//     an error is logged and the body already promised is replaced by the same message.
//     The upstream's data never reaches the client.
// With pass-through, the oversize body streams to the client as received (decoded when it
// was compressed, because Content-Encoding was already dropped) and a warning is logged.
//
// Invalid JSON from the upstream is passed through unchanged (Kong does) and logged.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "gateway/plugins/plugin.h"
#include "gateway/plugins/response_transformer/transformer.h"

namespace suoke::gateway::plugins::response_transformer {

inline constexpr std::size_t kDefaultMaxBodyBytes = 8 * 1024 * 1024;

struct Limits {
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  bool pass_through_oversize = false;

  // SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES (a positive integer) and
  // SUOKE_RESPONSE_TRANSFORMER_OVERSIZE (reject | pass-through); invalid values are logged
  // and the defaults kept.
  static Limits from_environment();
};

// The body of the 502 sent for a body over the cap.
std::string oversize_message(std::size_t limit);

class Handler final : public PluginHandler {
 public:
  Handler(const gateway::Plugin& entity, Config config, Limits limits);

  void access(RequestContext& ctx) const override;
  void header_filter(RequestContext& ctx, ResponseHead& head) const override;
  void body_filter(RequestContext& ctx, std::string& chunk, bool eof) const override;

  const Config& config() const { return config_; }
  const Limits& limits() const { return limits_; }

 private:
  struct BodyState;
  void reject(RequestContext& ctx, ResponseHead& head, BodyState& state, std::string message) const;
  void overflow(RequestContext& ctx, BodyState& state, std::string& chunk, bool eof) const;
  void finish(RequestContext& ctx, BodyState& state, std::string& chunk) const;
  // Replaces `chunk` with the transformed `input` (which may be `chunk` itself), or with
  // `input` untouched when it is not valid JSON.
  void transform_into(const RequestContext& ctx, std::string_view input, std::string& chunk) const;

  Config config_;
  Limits limits_;
  bool json_ = false;
};

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime);

}  // namespace suoke::gateway::plugins::response_transformer
