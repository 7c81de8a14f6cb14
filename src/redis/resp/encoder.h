// RESP encoding. Commands go to the server as arrays of bulk strings (binary-safe: lengths,
// never terminators), appended to a caller-owned buffer so a connection reuses one buffer
// for a whole pipelined write.
#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "redis/client.h"

namespace suoke::redis::resp {

void append_command(std::string* out, const Command& command);
void append_command(std::string* out, std::span<const std::string_view> args);
void append_command(std::string* out, std::initializer_list<std::string_view> args);
std::string encode_command(const Command& command);

// Wire form of a reply: RESP2 types as RESP2, RESP3-only types in RESP3 syntax. Used by
// tests, the fuzz round trip and fake servers.
void append_value(std::string* out, const Value& value);
std::string encode_value(const Value& value);

}  // namespace suoke::redis::resp
