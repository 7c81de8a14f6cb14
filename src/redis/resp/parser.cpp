#include "redis/resp/parser.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

namespace suoke::redis::resp {

namespace {

constexpr std::size_t kMaxReserve = 1024;  // never trust a declared count for reserve()

bool is_aggregate(char t) { return t == '*' || t == '%' || t == '~' || t == '>' || t == '|'; }

}  // namespace

std::string describe_byte(char c) {
  switch (c) {
    case '\r':
      return "'\\r'";
    case '\n':
      return "'\\n'";
    default:
      break;
  }
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789abcdef";
  return std::string("'\\x") + kHex[u >> 4] + kHex[u & 15] + "'";
}

Parser::Parser(ParserLimits limits) : limits_(limits) {}

void Parser::reset() {
  buf_.clear();
  pos_ = size_ = 0;
  base_ = 0;
  stack_.clear();
  ready_.clear();
  failed_ = false;
  error_ = {};
}

void Parser::compact() {
  if (pos_ == 0) return;
  if (pos_ < size_) std::memmove(buf_.data(), buf_.data() + pos_, size_ - pos_);
  base_ += pos_;
  size_ -= pos_;
  pos_ = 0;
}

char* Parser::prepare(std::size_t n) {
  // Moving the unconsumed tail is cheap when it is small relative to what was consumed.
  if (pos_ > 0 && (pos_ == size_ || pos_ >= size_ / 2)) compact();
  if (buf_.size() < size_ + n) buf_.resize(std::max(size_ + n, buf_.size() * 2));
  return buf_.data() + size_;
}

void Parser::commit(std::size_t k) {
  assert(size_ + k <= buf_.size());
  size_ += k;
}

void Parser::feed(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

Error Parser::fail(const std::string& message) {
  failed_ = true;
  error_ = Error::make("RESP protocol error: " + message, "protocol");
  return error_;
}

Error Parser::fail_expected(const char* expected, uint64_t at, char got) {
  return fail(std::string("expected ") + expected + " at byte " + std::to_string(at) + ", got " +
              describe_byte(got));
}

Result<bool> Parser::read_line(std::size_t start, std::string_view* line, std::size_t* next) {
  const char* begin = buf_.data() + start;
  std::size_t avail = size_ - start;
  const void* cr = std::memchr(begin, '\r', avail);
  if (cr == nullptr) {
    if (avail > limits_.max_line_length) {
      return fail("line at byte " + std::to_string(base_ + start) + " exceeds " +
                  std::to_string(limits_.max_line_length) + " bytes without CRLF");
    }
    return false;
  }
  std::size_t i = static_cast<const char*>(cr) - buf_.data();
  if (i + 1 >= size_) return false;
  if (buf_[i + 1] != '\n') return fail_expected("'\\n' after '\\r'", base_ + i + 1, buf_[i + 1]);
  *line = std::string_view(begin, i - start);
  *next = i + 2;
  return true;
}

Result<int64_t> Parser::parse_integer(std::string_view line, uint64_t at, const char* what) {
  std::size_t i = 0;
  bool negative = false;
  if (!line.empty() && line[0] == '-') {
    negative = true;
    i = 1;
  }
  if (i == line.size()) {
    return fail_expected(what, at + i, i < line.size() ? line[i] : '\r');
  }
  uint64_t magnitude = 0;
  for (; i < line.size(); ++i) {
    char c = line[i];
    if (c < '0' || c > '9') return fail_expected(what, at + i, c);
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (magnitude > (static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1 - digit) / 10) {
      return fail(std::string(what) + " at byte " + std::to_string(at) + " overflows 64 bits");
    }
    magnitude = magnitude * 10 + digit;
  }
  if (!negative && magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return fail(std::string(what) + " at byte " + std::to_string(at) + " overflows 64 bits");
  }
  return negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
}

void Parser::complete(Value value) {
  for (;;) {
    if (stack_.empty()) {
      ready_.push_back(std::move(value));
      return;
    }
    Frame& top = stack_.back();
    top.value.elements.push_back(std::move(value));
    if (--top.remaining > 0) return;
    Frame done = std::move(top);
    stack_.pop_back();
    // An attribute annotates the value that follows it; we have no use for it, and it does
    // not count as an element of the enclosing aggregate.
    if (done.attribute) return;
    value = std::move(done.value);
  }
}

Result<bool> Parser::step() {
  if (pos_ >= size_) return false;
  const uint64_t at = base_ + pos_;
  const char type = buf_[pos_];
  std::string_view line;
  std::size_t after = 0;

  switch (type) {
    case '+':
    case '-':
    case ':':
    case ',':
    case '(':
    case '_':
    case '#': {
      auto r = read_line(pos_ + 1, &line, &after);
      if (!r.ok()) return r.error();
      if (!*r) return false;
      Value v;
      switch (type) {
        case '+':
          v.type = Value::Type::kSimpleString;
          v.str.assign(line);
          break;
        case '-':
          v.type = Value::Type::kError;
          v.str.assign(line);
          break;
        case ':': {
          auto n = parse_integer(line, at + 1, "integer");
          if (!n.ok()) return n.error();
          v.type = Value::Type::kInteger;
          v.integer = *n;
          break;
        }
        case ',':
          if (line.empty()) return fail_expected("double", at + 1, '\r');
          v.type = Value::Type::kDouble;
          v.str.assign(line);
          break;
        case '(':
          if (line.empty()) return fail_expected("big number", at + 1, '\r');
          v.type = Value::Type::kBigNumber;
          v.str.assign(line);
          break;
        case '_':
          if (!line.empty()) return fail_expected("'\\r\\n' after '_'", at + 1, line[0]);
          v.type = Value::Type::kNull;
          break;
        case '#':
          if (line.size() != 1 || (line[0] != 't' && line[0] != 'f')) {
            return fail_expected("'t' or 'f' after '#'", at + 1, line.empty() ? '\r' : line[0]);
          }
          v.type = Value::Type::kBoolean;
          v.integer = line[0] == 't' ? 1 : 0;
          break;
      }
      pos_ = after;
      complete(std::move(v));
      return true;
    }
    case '$':
    case '!':
    case '=': {
      auto r = read_line(pos_ + 1, &line, &after);
      if (!r.ok()) return r.error();
      if (!*r) return false;
      auto n = parse_integer(line, at + 1, "bulk length");
      if (!n.ok()) return n.error();
      int64_t len = *n;
      if (len == -1 && type == '$') {
        pos_ = after;
        complete(Value{});
        return true;
      }
      if (len < 0) return fail("invalid bulk length " + std::to_string(len) + " at byte " + std::to_string(at + 1));
      if (len > limits_.max_bulk_length) {
        return fail("bulk length " + std::to_string(len) + " at byte " + std::to_string(at + 1) +
                    " exceeds the limit of " + std::to_string(limits_.max_bulk_length) + " bytes");
      }
      const std::size_t ulen = static_cast<std::size_t>(len);
      // Wait for payload + CRLF; the header is parsed again then, which costs a few bytes.
      if (size_ - after < ulen + 2) return false;
      if (buf_[after + ulen] != '\r') {
        return fail_expected("'\\r\\n' after bulk string", base_ + after + ulen, buf_[after + ulen]);
      }
      if (buf_[after + ulen + 1] != '\n') {
        return fail_expected("'\\r\\n' after bulk string", base_ + after + ulen + 1, buf_[after + ulen + 1]);
      }
      Value v;
      std::string_view payload(buf_.data() + after, ulen);
      if (type == '$') {
        v.type = Value::Type::kBulkString;
      } else if (type == '!') {
        v.type = Value::Type::kError;
      } else {
        // Verbatim string: "txt:" / "mkd:" then the text; the format is dropped.
        if (ulen < 4 || payload[3] != ':') {
          return fail_expected("verbatim format 'xxx:'", base_ + after + std::min<std::size_t>(ulen, 3),
                               ulen > 3 ? payload[3] : '\r');
        }
        v.type = Value::Type::kVerbatim;
        payload.remove_prefix(4);
      }
      v.str.assign(payload);
      pos_ = after + ulen + 2;
      complete(std::move(v));
      return true;
    }
    default:
      break;
  }

  if (!is_aggregate(type)) {
    return fail("unknown type byte " + describe_byte(type) + " at byte " + std::to_string(at) +
                " (expected one of + - : $ * _ , # ! = ( % ~ > |)");
  }
  auto r = read_line(pos_ + 1, &line, &after);
  if (!r.ok()) return r.error();
  if (!*r) return false;
  auto n = parse_integer(line, at + 1, "aggregate length");
  if (!n.ok()) return n.error();
  int64_t count = *n;
  if (count == -1 && type == '*') {
    pos_ = after;
    complete(Value{});
    return true;
  }
  if (count < 0) return fail("invalid aggregate length " + std::to_string(count) + " at byte " + std::to_string(at + 1));
  const bool paired = type == '%' || type == '|';
  if (count > (paired ? limits_.max_array_length / 2 : limits_.max_array_length)) {
    return fail("aggregate length " + std::to_string(count) + " at byte " + std::to_string(at + 1) +
                " exceeds the limit of " + std::to_string(limits_.max_array_length) + " elements");
  }
  if (paired) count *= 2;
  Value v;
  switch (type) {
    case '*':
      v.type = Value::Type::kArray;
      break;
    case '%':
    case '|':
      v.type = Value::Type::kMap;
      break;
    case '~':
      v.type = Value::Type::kSet;
      break;
    default:
      v.type = Value::Type::kPush;
      break;
  }
  pos_ = after;
  if (count == 0) {
    if (type != '|') complete(std::move(v));
    return true;
  }
  if (stack_.size() >= static_cast<std::size_t>(limits_.max_depth)) {
    return fail("nesting deeper than " + std::to_string(limits_.max_depth) + " at byte " + std::to_string(at));
  }
  v.elements.reserve(static_cast<std::size_t>(std::min<int64_t>(count, kMaxReserve)));
  stack_.push_back(Frame{std::move(v), count, type == '|'});
  return true;
}

Result<std::optional<Value>> Parser::next() {
  if (failed_) return error_;
  for (;;) {
    if (!ready_.empty()) {
      Value v = std::move(ready_.front());
      ready_.pop_front();
      return std::optional<Value>(std::move(v));
    }
    auto r = step();
    if (!r.ok()) return r.error();
    if (!*r) return std::optional<Value>();
  }
}

}  // namespace suoke::redis::resp
