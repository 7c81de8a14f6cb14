// Helpers for log-phase plugins (file-log, prometheus): the request and response sizes Kong
// reports (nginx's $request_length and $bytes_sent, head included), reconstructed from the
// context without copying it.
#pragma once

#include <cstdint>

#include "gateway/plugins/plugin.h"

namespace suoke::gateway::plugins {

// Request line + headers + blank line + body bytes, as received.
inline uint64_t request_size(const RequestContext& ctx) {
  uint64_t n = ctx.method.size() + 1 + ctx.path.size() + 11;  // "M /p HTTP/1.1\r\n"
  if (!ctx.query.empty()) n += 1 + ctx.query.size();
  if (ctx.request_headers != nullptr) {
    for (std::size_t i = 0; i < ctx.request_headers->size(); ++i) {
      n += ctx.request_headers->name(i).size() + ctx.request_headers->value(i).size() + 4;
    }
  }
  return n + 2 + ctx.request_body_bytes;
}

// Status line + headers sent + blank line + body bytes sent.
inline uint64_t response_size(const RequestContext& ctx) {
  if (ctx.status == 0) return 0;
  uint64_t n = 17;  // "HTTP/1.1 200 OK\r\n", close enough for any reason phrase length
  for (const auto& [k, v] : ctx.response_head) n += k.size() + v.size() + 4;
  return n + 2 + ctx.response_body_bytes;
}

}  // namespace suoke::gateway::plugins
