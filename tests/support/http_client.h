// A small blocking HTTP/1.1 client for tests: plain POSIX sockets, keep-alive, Content-Length
// and chunked responses. Deliberately independent of src/http so the server is tested by a
// client that does not share its parser.
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
#include <vector>

namespace suoke::testing {

struct HttpReply {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

class HttpConnection {
 public:
  HttpConnection(std::string host, uint16_t port, int timeout_ms = 10000)
      : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}
  ~HttpConnection() { close(); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  bool connect() {
    close();
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close();
      return false;
    }
    buffer_.clear();
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return fd_ >= 0; }

  bool send_raw(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // Sends one request and reads its response. nullopt on any transport failure.
  std::optional<HttpReply> request(const std::string& method, const std::string& target,
                                   const std::string& body = {},
                                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    if (!connected() && !connect()) return std::nullopt;
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + host_ + ":" + std::to_string(port_) + "\r\n";
    bool has_type = false;
    for (const auto& [k, v] : headers) {
      req += k + ": " + v + "\r\n";
      if (strcasecmp(k.c_str(), "content-type") == 0) has_type = true;
    }
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      if (!has_type) req += "Content-Type: application/json\r\n";
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    if (!send_raw(req)) return std::nullopt;
    return read_response(method == "HEAD");
  }

  std::optional<HttpReply> read_response(bool head = false) {
    HttpReply reply;
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    std::string head_text = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    reply.status = std::atoi(status_line.c_str() + 9);
    size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
      size_t e = head_text.find("\r\n", pos);
      if (e == std::string::npos) e = head_text.size();
      std::string line = head_text.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        size_t vstart = line.find_first_not_of(' ', colon + 1);
        reply.headers.emplace(name, vstart == std::string::npos ? "" : line.substr(vstart));
      }
      pos = e + 2;
    }
    if (head || reply.status == 204 || reply.status == 304 || (reply.status >= 100 && reply.status < 200)) {
      return reply;
    }
    std::string te = reply.header("transfer-encoding");
    if (te.find("chunked") != std::string::npos) {
      for (;;) {
        size_t e;
        while ((e = buffer_.find("\r\n")) == std::string::npos) {
          if (!fill()) return std::nullopt;
        }
        size_t size = std::stoul(buffer_.substr(0, e), nullptr, 16);
        buffer_.erase(0, e + 2);
        while (buffer_.size() < size + 2) {
          if (!fill()) return std::nullopt;
        }
        reply.body += buffer_.substr(0, size);
        buffer_.erase(0, size + 2);
        if (size == 0) break;
      }
    } else if (std::string cl = reply.header("content-length"); !cl.empty()) {
      size_t size = std::stoul(cl);
      while (buffer_.size() < size) {
        if (!fill()) return std::nullopt;
      }
      reply.body = buffer_.substr(0, size);
      buffer_.erase(0, size);
    } else {
      while (fill()) {
      }
      reply.body = std::move(buffer_);
      buffer_.clear();
      close();
    }
    if (reply.header("connection") == "close") close();
    return reply;
  }

  // Reads whatever arrives within timeout_ms; false on EOF/error/timeout.
  bool fill() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms_) <= 0) return false;
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  std::string& buffer() { return buffer_; }

 private:
  std::string host_;
  uint16_t port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;
};

// One-shot request on a fresh connection.
inline std::optional<HttpReply> http_request(uint16_t port, const std::string& method, const std::string& target,
                                             const std::string& body = {},
                                             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  HttpConnection conn("127.0.0.1", port);
  return conn.request(method, target, body, headers);
}

}  // namespace suoke::testing
