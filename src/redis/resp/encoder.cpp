#include "redis/resp/encoder.h"

#include <charconv>

namespace suoke::redis::resp {

namespace {

void append_header(std::string* out, char type, int64_t n) {
  char buf[24];
  buf[0] = type;
  auto [end, ec] = std::to_chars(buf + 1, buf + sizeof buf - 2, n);
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, static_cast<std::size_t>(end - buf));
}

void append_bulk(std::string* out, std::string_view s) {
  append_header(out, '$', static_cast<int64_t>(s.size()));
  out->append(s);
  out->append("\r\n", 2);
}

template <class It>
void append_args(std::string* out, It begin, It end, std::size_t count) {
  append_header(out, '*', static_cast<int64_t>(count));
  for (It it = begin; it != end; ++it) append_bulk(out, *it);
}

}  // namespace

void append_command(std::string* out, const Command& command) {
  append_args(out, command.begin(), command.end(), command.size());
}

void append_command(std::string* out, std::span<const std::string_view> args) {
  append_args(out, args.begin(), args.end(), args.size());
}

void append_command(std::string* out, std::initializer_list<std::string_view> args) {
  append_args(out, args.begin(), args.end(), args.size());
}

std::string encode_command(const Command& command) {
  std::string out;
  append_command(&out, command);
  return out;
}

void append_value(std::string* out, const Value& v) {
  using T = Value::Type;
  auto line = [out](char type, std::string_view s) {
    out->push_back(type);
    out->append(s);
    out->append("\r\n", 2);
  };
  auto aggregate = [out](char type, const Value& agg, int64_t n) {
    append_header(out, type, n);
    for (const Value& e : agg.elements) append_value(out, e);
  };
  switch (v.type) {
    case T::kNull:
      out->append("$-1\r\n");
      break;
    case T::kSimpleString:
      line('+', v.str);
      break;
    case T::kError:
      // A simple error cannot carry CR/LF; a blob error can.
      if (v.str.find_first_of("\r\n") == std::string::npos) {
        line('-', v.str);
      } else {
        append_header(out, '!', static_cast<int64_t>(v.str.size()));
        out->append(v.str);
        out->append("\r\n", 2);
      }
      break;
    case T::kInteger: {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.integer);
      line(':', std::string_view(buf, static_cast<std::size_t>(end - buf)));
      break;
    }
    case T::kBulkString:
      append_bulk(out, v.str);
      break;
    case T::kArray:
      aggregate('*', v, static_cast<int64_t>(v.elements.size()));
      break;
    case T::kDouble:
      line(',', v.str);
      break;
    case T::kBoolean:
      line('#', v.integer ? "t" : "f");
      break;
    case T::kMap:
      aggregate('%', v, static_cast<int64_t>(v.elements.size() / 2));
      break;
    case T::kSet:
      aggregate('~', v, static_cast<int64_t>(v.elements.size()));
      break;
    case T::kPush:
      aggregate('>', v, static_cast<int64_t>(v.elements.size()));
      break;
    case T::kVerbatim:
      append_header(out, '=', static_cast<int64_t>(v.str.size() + 4));
      out->append("txt:");
      out->append(v.str);
      out->append("\r\n", 2);
      break;
    case T::kBigNumber:
      line('(', v.str);
      break;
  }
}

std::string encode_value(const Value& value) {
  std::string out;
  append_value(&out, value);
  return out;
}

}  // namespace suoke::redis::resp
