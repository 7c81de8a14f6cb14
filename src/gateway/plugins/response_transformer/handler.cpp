#include "gateway/plugins/response_transformer/handler.h"

#include <charconv>
#include <cstdlib>
#include <limits>

#include "core/log.h"
#include "gateway/plugins/response_transformer/decoder.h"

namespace suoke::gateway::plugins::response_transformer {
namespace {

constexpr std::size_t kUnlimited = std::numeric_limits<std::size_t>::max();

void erase_header(http::HeaderList& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return http::iequals(h.first, name); });
}

std::string_view route_name(const RequestContext& ctx) {
  return ctx.route ? std::string_view(ctx.route->name) : std::string_view();
}

}  // namespace

// Per request; created in header_filter only for JSON responses that will be transformed.
struct Handler::BodyState {
  enum class Mode {
    kPass,     // not ours to touch
    kBuffer,   // collecting the body to transform it at eof
    kReplace,  // the 502 decided in header_filter: drop the upstream body, send the message
    kStream,   // oversize with pass-through: forward (decoded) pieces as they come
    kDrop,     // the replacement was sent mid-body: discard the rest
  };
  Mode mode = Mode::kPass;
  std::string body;  // decoded body buffered so far
  std::string replacement;
  std::unique_ptr<BodyDecoder> decoder;
};

Limits Limits::from_environment() {
  Limits limits;
  if (const char* v = std::getenv("SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES"); v && *v) {
    std::string_view text(v);
    std::size_t n = 0;
    auto r = std::from_chars(text.data(), text.data() + text.size(), n);
    if (r.ec == std::errc() && r.ptr == text.data() + text.size() && n > 0) {
      limits.max_body_bytes = n;
    } else {
      log::warn("ignoring invalid SUOKE_RESPONSE_TRANSFORMER_MAX_BODY_BYTES",
                {{"value", std::string(text)}});
    }
  }
  if (const char* v = std::getenv("SUOKE_RESPONSE_TRANSFORMER_OVERSIZE"); v && *v) {
    std::string_view text(v);
    if (text == "pass-through" || text == "passthrough") {
      limits.pass_through_oversize = true;
    } else if (text != "reject") {
      log::warn("ignoring invalid SUOKE_RESPONSE_TRANSFORMER_OVERSIZE (reject | pass-through)",
                {{"value", std::string(text)}});
    }
  }
  return limits;
}

std::string oversize_message(std::size_t limit) {
  return "{\"message\":\"response body too large to transform (limit " + std::to_string(limit) +
         " bytes)\"}";
}

Handler::Handler(const gateway::Plugin& entity, Config config, Limits limits)
    : PluginHandler(entity),
      config_(std::move(config)),
      limits_(limits),
      json_(config_.has_json_transform()) {}

void Handler::access(RequestContext& ctx) const {
  if (!json_) return;
  // Plain JSON from the upstream spares decoding; the client's own preference does not
  // matter because the transformed body is sent unencoded anyway.
  for (auto& [name, value] : ctx.upstream_headers) {
    if (http::iequals(name, "accept-encoding")) {
      value = "identity";
      return;
    }
  }
  ctx.upstream_headers.emplace_back("Accept-Encoding", "identity");
}

void Handler::header_filter(RequestContext& ctx, ResponseHead& head) const {
  transform_headers(config_, head.headers);
  if (!json_) return;
  int status = head.status;
  if (ctx.method == "HEAD" || status == 204 || status == 304 || (status >= 100 && status < 200))
    return;
  if (!is_json_content_type(http::find_header(head.headers, "content-type"))) return;

  BodyState& state = ctx.state<BodyState>(this);
  std::string_view encoding = http::find_header(head.headers, "content-encoding");
  BodyDecoder::Format format;
  bool encoded = !encoding.empty() && !http::iequals(encoding, "identity");
  if (encoded && !BodyDecoder::format_for(encoding, &format)) {
    return reject(ctx, head, state,
                  R"({"message":"response body with Content-Encoding )" + std::string(encoding) +
                      R"( cannot be transformed"})");
  }

  std::string_view length_text = http::find_header(head.headers, "content-length");
  std::size_t length = 0;
  if (!length_text.empty()) {
    auto r = std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
    if (r.ec == std::errc() && length > limits_.max_body_bytes) {
      if (limits_.pass_through_oversize) {
        log::warn("response-transformer: body over the limit passed through untransformed",
                  {{"request_id", std::string(ctx.request_id)},
                   {"route", std::string(route_name(ctx))},
                   {"content_length", std::string(length_text)},
                   {"limit", std::to_string(limits_.max_body_bytes)}});
        return;  // state stays kPass: the body streams untouched, length and encoding intact
      }
      return reject(ctx, head, state, oversize_message(limits_.max_body_bytes));
    }
  }

  if (encoded) {
    state.decoder = std::make_unique<BodyDecoder>(format);
    erase_header(head.headers, "content-encoding");
  }
  // The body changes length; the proxy frames it once Content-Length is gone. Nothing of it
  // is emitted before it is complete, so the proxy can hold the head and count the bytes.
  erase_header(head.headers, "content-length");
  state.mode = BodyState::Mode::kBuffer;
  ctx.buffer_response_body = true;
}

void Handler::reject(RequestContext& ctx, ResponseHead& head, BodyState& state,
                     std::string message) const {
  log::error("response-transformer: cannot transform the response body, answering 502",
             {{"request_id", std::string(ctx.request_id)},
              {"route", std::string(route_name(ctx))},
              {"upstream_status", std::to_string(head.status)},
              {"message", message}});
  head.status = 502;
  for (std::string_view h : {"content-length", "content-encoding", "content-type", "etag",
                             "last-modified", "content-range", "accept-ranges"}) {
    erase_header(head.headers, h);
  }
  head.headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  state.replacement = std::move(message);
  state.mode = BodyState::Mode::kReplace;
  ctx.buffer_response_body = true;  // the replacement comes at the end of the upstream body
}

void Handler::overflow(RequestContext& ctx, BodyState& state, std::string& chunk, bool eof) const {
  std::initializer_list<log::Field> fields = {{"request_id", std::string(ctx.request_id)},
                                              {"route", std::string(route_name(ctx))},
                                              {"limit", std::to_string(limits_.max_body_bytes)}};
  if (limits_.pass_through_oversize) {
    log::warn("response-transformer: body over the limit passed through untransformed", fields);
    chunk = std::move(state.body);
    state.body = std::string();
    state.mode = BodyState::Mode::kStream;
    ctx.buffer_response_body = false;  // the proxy sends the head now and streams the rest
    if (state.decoder) {
      // Input the decoder held back when it hit the cap.
      auto r = state.decoder->feed({}, chunk, kUnlimited);
      if (r.ok() && eof) r = state.decoder->finish();
      if (!r.ok()) {
        log::error("response-transformer: invalid compressed body from upstream",
                   {{"error", r.error().message}});
        state.mode = BodyState::Mode::kDrop;
      }
    }
    return;
  }
  // The status line is already sent, so no 502 is possible any more. An error message under
  // that 200 would read as data; instead the proxy cuts the connection, which every HTTP
  // client sees as a failed (truncated) response. Nothing of the body reaches the client.
  log::error(
      "response-transformer: body without Content-Length grew over the limit; aborting the "
      "response",
      fields);
  state.body = std::string();
  chunk.clear();
  ctx.abort_response = true;
  ctx.abort_message = "response body too large to transform (limit " +
                      std::to_string(limits_.max_body_bytes) + " bytes)";
  state.mode = BodyState::Mode::kDrop;
}

void Handler::finish(RequestContext& ctx, BodyState& state, std::string& chunk) const {
  if (state.decoder) {
    auto r = state.decoder->finish();
    if (!r.ok()) {
      log::error("response-transformer: invalid compressed body from upstream",
                 {{"request_id", std::string(ctx.request_id)}, {"error", r.error().message}});
      chunk = R"({"message":"invalid compressed response body from upstream"})";
      state.mode = BodyState::Mode::kDrop;
      return;
    }
  }
  transform_into(ctx, state.body, chunk);
  state.body = std::string();
  state.mode = BodyState::Mode::kPass;
}

void Handler::transform_into(const RequestContext& ctx, std::string_view input,
                             std::string& chunk) const {
  // The output is built in a per-thread buffer and copied into `chunk`, whose memory (the
  // proxy's body buffer) is kept: no allocation per response once the buffers have grown.
  thread_local std::string transformed;
  auto r = transform_json_body_into(config_, input, transformed);
  if (r.ok()) {
    chunk.assign(transformed);
  } else {
    log::warn("response-transformer: body transform failed, passing it through",
              {{"request_id", std::string(ctx.request_id)},
               {"route", std::string(route_name(ctx))},
               {"error", r.error().message}});
    if (input.data() != chunk.data()) chunk.assign(input.data(), input.size());
  }
  if (transformed.capacity() > (1u << 20)) std::string().swap(transformed);
}

void Handler::body_filter(RequestContext& ctx, std::string& chunk, bool eof) const {
  if (!json_) return;
  BodyState& state = ctx.state<BodyState>(this);
  switch (state.mode) {
    case BodyState::Mode::kPass:
      return;
    case BodyState::Mode::kReplace:
      chunk.clear();
      if (eof) chunk = std::move(state.replacement);
      return;
    case BodyState::Mode::kDrop:
      chunk.clear();
      return;
    case BodyState::Mode::kStream: {
      if (!state.decoder) return;
      std::string decoded;
      auto r = state.decoder->feed(chunk, decoded, kUnlimited);
      if (r.ok() && eof) r = state.decoder->finish();
      if (!r.ok()) {
        log::error("response-transformer: invalid compressed body from upstream",
                   {{"error", r.error().message}});
        state.mode = BodyState::Mode::kDrop;
      }
      chunk = std::move(decoded);
      return;
    }
    case BodyState::Mode::kBuffer:
      break;
  }
  if (state.decoder) {
    auto r = state.decoder->feed(chunk, state.body, limits_.max_body_bytes);
    chunk.clear();
    if (!r.ok()) {
      if (r.error().kind == "limit") return overflow(ctx, state, chunk, eof);
      log::error("response-transformer: invalid compressed body from upstream",
                 {{"request_id", std::string(ctx.request_id)}, {"error", r.error().message}});
      chunk = R"({"message":"invalid compressed response body from upstream"})";
      state.mode = BodyState::Mode::kDrop;
      return;
    }
  } else {
    if (state.body.size() + chunk.size() > limits_.max_body_bytes) {
      state.body.append(chunk);
      chunk.clear();
      return overflow(ctx, state, chunk, eof);
    }
    if (eof && state.body.empty()) {
      // The whole body in one piece (the usual case): transformed where it is, no copy.
      transform_into(ctx, chunk, chunk);
      state.mode = BodyState::Mode::kPass;
      return;
    }
    state.body.append(chunk);
    chunk.clear();
  }
  if (eof) finish(ctx, state, chunk);
}

Result<std::unique_ptr<PluginHandler>> make_handler(const gateway::Plugin& entity,
                                                    const Snapshot& snapshot,
                                                    PluginRuntime& runtime) {
  auto config = parse_config(entity.config);
  if (!config.ok()) return config.error();
  return std::unique_ptr<PluginHandler>(
      std::make_unique<Handler>(entity, std::move(config).value(), Limits::from_environment()));
}

}  // namespace suoke::gateway::plugins::response_transformer
