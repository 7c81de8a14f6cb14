// A blocking HTTP/1.1 client over a plain socket for tests: it sends bytes exactly as given
// (so tests can send malformed, pipelined or slow requests) and parses responses by hand.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace suoke::testing {

struct RawResponse {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class RawClient {
 public:
  explicit RawClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : timeout_(timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into the buffer; false on timeout, EOF or error.
  bool fill(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buf_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // True when the peer closed (EOF or reset) within `timeout`, after discarding any data.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!eof_) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      if (!fill(left) && !eof_) return false;
    }
    return true;
  }

  std::optional<RawResponse> read_response(bool head_request = false) {
    auto until = std::chrono::steady_clock::now() + timeout_;
    auto more = [&]() {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      return left.count() > 0 && fill(left);
    };
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!more()) return std::nullopt;
    }
    RawResponse r;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t sp = head.find(' ');
    if (sp == std::string::npos) return std::nullopt;
    r.status = std::atoi(head.c_str() + sp + 1);
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line =
          head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t v = colon + 1;
        while (v < line.size() && line[v] == ' ') ++v;
        r.headers.emplace(name, line.substr(v));
      }
      pos = next;
    }
    if (r.status == 100) return r;
    if (head_request || r.status == 204 || r.status == 304) return r;
    if (r.headers.count("content-length")) {
      size_t len = std::stoul(r.header("content-length"));
      while (buf_.size() < len) {
        if (!more()) return std::nullopt;
      }
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
    } else if (r.header("transfer-encoding") == "chunked") {
      for (;;) {
        size_t le;
        while ((le = buf_.find("\r\n")) == std::string::npos) {
          if (!more()) return std::nullopt;
        }
        size_t size = std::stoul(buf_.substr(0, le), nullptr, 16);
        while (buf_.size() < le + 2 + size + 2) {
          if (!more()) return std::nullopt;
        }
        r.body.append(buf_, le + 2, size);
        buf_.erase(0, le + 2 + size + 2);
        if (size == 0) break;
      }
    } else {
      while (more()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
    }
    return r;
  }

  std::string& buffer() { return buf_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::chrono::milliseconds timeout_;
  std::string buf_;
};

inline std::string get_request(std::string_view target, std::string_view extra = {}) {
  std::string r = "GET ";
  r.append(target);
  r.append(" HTTP/1.1\r\nHost: test\r\n");
  r.append(extra);
  r.append("\r\n");
  return r;
}

}  // namespace suoke::testing
