// A redis:// URL that points at something that is not Redis (here: an HTTP server's
// answer) fails the connect with the parser's precise error instead of hanging or crashing.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "redis/client.h"

namespace suoke::redis {
namespace {

TEST(StandaloneProtocol, NonRedisServerFailsWithProtocolError) {
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  int port = ntohs(addr.sin_port);
  std::thread server([listener] {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    char buf[512];
    if (::read(fd, buf, sizeof buf) > 0) {
      const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      (void)!::write(fd, reply, sizeof reply - 1);
    }
    ::read(fd, buf, sizeof buf);  // until the client closes
    ::close(fd);
  });
  auto start = std::chrono::steady_clock::now();
  auto c = Client::connect("redis://127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("RESP protocol error: unknown type byte 'H' at byte 0"), std::string::npos)
      << c.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  server.join();
  ::close(listener);
}

}  // namespace
}  // namespace suoke::redis
