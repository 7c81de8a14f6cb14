// The standalone client and its connection against a real redis-server (Debian's), one per
// test on a free loopback port (tests/support/redis_servers.h).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <future>
#include <set>
#include <thread>

#include "redis/client.h"
#include "redis/connection.h"
#include "redis/standalone_client.h"
#include "support/redis_servers.h"

namespace suoke::redis {
namespace {

using std::chrono::milliseconds;
using suoke::testing::RedisServer;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Client> must_connect(const std::string& url, ClientOptions options = {}) {
  auto c = Client::connect(url, options);
  if (!c.ok()) ADD_FAILURE() << url << ": " << c.error().message;
  return c.ok() ? std::move(*c) : nullptr;
}

long long elapsed_ms(Clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

TEST(StandaloneClient, BasicCommandsAndErrorReplies) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->is_cluster());
  auto set = c->exec({"SET", "k", "v"});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->str, "OK");
  auto get = c->exec({"GET", "k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, "v");
  EXPECT_TRUE(c->exec({"GET", "missing"})->is_null());
  // A server error is a reply, not a failure.
  auto wrongtype = c->exec({"LPUSH", "k", "x"});
  ASSERT_TRUE(wrongtype.ok());
  ASSERT_TRUE(wrongtype->is_error());
  EXPECT_EQ(wrongtype->str.rfind("WRONGTYPE", 0), 0u);
  auto* sc = dynamic_cast<StandaloneClient*>(c.get());
  ASSERT_NE(sc, nullptr);
  EXPECT_FALSE(sc->is_cluster_node());
}

TEST(StandaloneClient, Pipelines10000Commands) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  std::vector<Command> cmds;
  for (int i = 0; i < 5000; ++i) {
    cmds.push_back({"SET", "p:" + std::to_string(i), "v" + std::to_string(i)});
    cmds.push_back({"GET", "p:" + std::to_string(i)});
  }
  auto start = Clock::now();
  auto replies = c->exec_pipeline(cmds);
  ASSERT_EQ(replies.size(), 10000u);
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(replies[2 * i].ok());
    ASSERT_EQ(replies[2 * i]->str, "OK");
    ASSERT_TRUE(replies[2 * i + 1].ok());
    ASSERT_EQ(replies[2 * i + 1]->str, "v" + std::to_string(i));
  }
  EXPECT_LT(elapsed_ms(start), 5000);

  // 10,000 async INCRs from four threads: every one answered, none lost or duplicated.
  std::atomic<int> done{0}, failed{0};
  std::promise<void> all;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2500; ++i) {
        c->exec_async({"INCR", "counter"}, [&](Result<Value> r) {
          if (!r.ok() || r->type != Value::Type::kInteger) failed++;
          if (++done == 10000) all.set_value();
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(all.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(c->exec({"GET", "counter"})->str, "10000");
}

TEST(StandaloneClient, BinarySafeKeysAndValues) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  // Sized from the literal itself (minus its terminator): the embedded NULs make strlen wrong.
  static constexpr char kKey[] = "bin\0key\xff\xfe\r\n";
  static constexpr char kValue[] = "\0\r\n$3\r\n*1\r\n\x80\xc3\x28 end";
  std::string key(kKey, sizeof kKey - 1);
  std::string value(kValue, sizeof kValue - 1);
  std::string big(1 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131);
  ASSERT_EQ(c->exec({"SET", key, value})->str, "OK");
  ASSERT_EQ(c->exec({"SET", "big", big})->str, "OK");
  auto v = c->exec({"GET", key});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->str, value);
  EXPECT_EQ(c->exec({"GET", "big"})->str, big);
  auto keys = c->exec({"KEYS", "bin*"});
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->elements.size(), 1u);
  EXPECT_EQ(keys->elements[0].str, key);
}

TEST(StandaloneClient, RequirePassAndWrongPassword) {
  RedisServer server(RedisServer::Options{.password = "s3cret"});
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exec({"PING"})->str, "PONG");

  auto port = std::to_string(server.port());
  auto start = Clock::now();
  auto wrong = Client::connect("redis://:nope@127.0.0.1:" + port);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("WRONGPASS"), std::string::npos) << wrong.error().message;
  EXPECT_NE(wrong.error().message.find("rejected AUTH"), std::string::npos) << wrong.error().message;
  EXPECT_EQ(wrong.error().kind, "auth");
  auto none = Client::connect("redis://127.0.0.1:" + port);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("NOAUTH"), std::string::npos) << none.error().message;
  EXPECT_NE(none.error().message.find("requires a password"), std::string::npos) << none.error().message;
  EXPECT_LT(elapsed_ms(start), 2000);
}

TEST(StandaloneClient, AclUserWithPercentEncodedPassword) {
  RedisServer server(RedisServer::Options{.password = "p@ss:w/rd", .user = "app"});
  auto port = std::to_string(server.port());
  auto c = must_connect("redis://app:p%40ss%3Aw%2Frd@127.0.0.1:" + port);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->exec({"ACL", "WHOAMI"})->str, "app");
  auto wrong = Client::connect("redis://app:wrong@127.0.0.1:" + port);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("WRONGPASS"), std::string::npos) << wrong.error().message;
}

TEST(StandaloneClient, SelectsTheUrlDatabase) {
  RedisServer server;
  auto c = must_connect(server.url() + "/3");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->exec({"SET", "in-db3", "yes"})->str, "OK");
  EXPECT_EQ(server.cli("-n", "3", "GET", "in-db3"), "yes\n");
  EXPECT_EQ(server.cli("-n", "0", "EXISTS", "in-db3"), "0\n");
  auto bad = Client::connect(server.url() + "/999");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("rejected SELECT 999"), std::string::npos) << bad.error().message;
}

TEST(StandaloneClient, UnreachableFailsQuicklyAndClearly) {
  int port = suoke::testing::redis_detail::free_port();  // nothing listens there
  auto start = Clock::now();
  auto refused = Client::connect("redis://127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cannot connect to redis at 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << refused.error().message;
  EXPECT_LT(elapsed_ms(start), 1000);

  // A black-holed address (TEST-NET-1): the connect timeout bounds the wait.
  ClientOptions options;
  options.connect_timeout = milliseconds(300);
  start = Clock::now();
  auto blackhole = Client::connect("redis://192.0.2.1:6379", options);
  ASSERT_FALSE(blackhole.ok());
  EXPECT_NE(blackhole.error().message.find("cannot connect to redis at 192.0.2.1:6379"), std::string::npos)
      << blackhole.error().message;
  EXPECT_LT(elapsed_ms(start), 1500);

  auto tls = Client::connect("rediss://127.0.0.1:6379");
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().message.find("not supported yet"), std::string::npos);
  auto garbage = Client::connect("redis//nope");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.error().message.find("invalid redis URL"), std::string::npos);
}

TEST(StandaloneClient, BlockingCommandTimesOutAndClientRecovers) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  auto start = Clock::now();
  auto r = c->exec({"BLPOP", "empty-list", "0"}, CommandOptions{.timeout = milliseconds(200)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, "timeout");
  EXPECT_NE(r.error().message.find("BLPOP timed out"), std::string::npos) << r.error().message;
  EXPECT_GE(elapsed_ms(start), 190);
  EXPECT_LT(elapsed_ms(start), 1000);
  // The connection was closed (a late reply would be misattributed) and comes back.
  auto ping = c->exec({"PING"});
  ASSERT_TRUE(ping.ok()) << ping.error().message;
  EXPECT_EQ(ping->str, "PONG");
  // No stray reply shifted onto later commands.
  ASSERT_EQ(c->exec({"SET", "after", "1"})->str, "OK");
  EXPECT_EQ(c->exec({"GET", "after"})->str, "1");
}

// BLPOP blocks the connection server-side; INCR and GET are pipelined behind it. BLPOP's
// timeout closes the connection: INCR was written, may not be re-sent and fails; GET is a
// read and is re-sent on the new connection. INCR never ran (the server dropped the unread
// input with the connection), and it was not re-sent: the counter does not exist.
TEST(StandaloneClient, NonIdempotentCommandIsNotResentAfterATimeout) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  ASSERT_EQ(c->exec({"SET", "k", "value"})->str, "OK");
  std::promise<Result<Value>> blpop, incr, get;
  c->exec_async({"BLPOP", "nothing", "0"}, [&](Result<Value> r) { blpop.set_value(std::move(r)); },
                CommandOptions{.timeout = milliseconds(200)});
  c->exec_async({"INCR", "counter"}, [&](Result<Value> r) { incr.set_value(std::move(r)); },
                CommandOptions{.timeout = milliseconds(3000)});
  c->exec_async({"GET", "k"}, [&](Result<Value> r) { get.set_value(std::move(r)); },
                CommandOptions{.timeout = milliseconds(3000)});
  auto b = blpop.get_future().get();
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().kind, "timeout");
  auto i = incr.get_future().get();
  ASSERT_FALSE(i.ok());
  EXPECT_EQ(i.error().kind, "connection_lost");
  EXPECT_NE(i.error().message.find("INCR not retried: it may have executed"), std::string::npos) << i.error().message;
  auto g = get.get_future().get();
  ASSERT_TRUE(g.ok()) << g.error().message;
  EXPECT_EQ(g->str, "value");
  EXPECT_TRUE(c->exec({"GET", "counter"})->is_null());

  // The caller can say a write is safe to repeat.
  std::promise<Result<Value>> blpop2, set;
  c->exec_async({"BLPOP", "nothing", "0"}, [&](Result<Value> r) { blpop2.set_value(std::move(r)); },
                CommandOptions{.timeout = milliseconds(200)});
  c->exec_async({"SET", "k2", "v2"}, [&](Result<Value> r) { set.set_value(std::move(r)); },
                CommandOptions{.timeout = milliseconds(3000), .retry = CommandOptions::Retry::kIdempotent});
  EXPECT_FALSE(blpop2.get_future().get().ok());
  auto s = set.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(c->exec({"GET", "k2"})->str, "v2");
}

TEST(StandaloneClient, ReconnectsAfterServerRestart) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  ASSERT_EQ(c->exec({"SET", "k", "1"})->str, "OK");
  server.kill9();
  // While it is down: clear, quick failures (never a hang).
  auto start = Clock::now();
  for (int i = 0; i < 3; ++i) {
    auto r = c->exec({"GET", "k"}, CommandOptions{.timeout = milliseconds(1000)});
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(r.error().kind == "unavailable" || r.error().kind == "connection_lost") << r.error().kind;
    EXPECT_NE(r.error().message.find(std::to_string(server.port())), std::string::npos) << r.error().message;
  }
  EXPECT_LT(elapsed_ms(start), 3000);
  server.restart();
  start = Clock::now();
  Result<Value> r = Error::make("not yet");
  while (elapsed_ms(start) < 5000) {
    r = c->exec({"PING"});
    if (r.ok()) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_TRUE(r.ok()) << r.error().message;
  // Backoff is capped at 2 s (+ the attempt itself).
  EXPECT_LT(elapsed_ms(start), 3000);
  EXPECT_EQ(c->exec({"SET", "k", "2"})->str, "OK");
  EXPECT_EQ(c->exec({"GET", "k"})->str, "2");
}

TEST(StandaloneClient, ScanVisitsEveryKeyAndStopsEarly) {
  RedisServer server;
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  std::vector<Command> cmds;
  for (int i = 0; i < 300; ++i) cmds.push_back({"SET", "scan:" + std::to_string(i), "x"});
  for (int i = 0; i < 50; ++i) cmds.push_back({"SET", "other:" + std::to_string(i), "x"});
  for (auto& r : c->exec_pipeline(cmds)) ASSERT_TRUE(r.ok());
  std::set<std::string> seen;
  int batches = 0;
  auto r = c->scan("scan:*", 25, [&](const std::vector<std::string>& keys) {
    ++batches;
    seen.insert(keys.begin(), keys.end());
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(seen.size(), 300u);
  EXPECT_GT(batches, 1);
  for (const auto& k : seen) EXPECT_EQ(k.rfind("scan:", 0), 0u);
  int calls = 0;
  ASSERT_TRUE(c->scan("", 10, [&](const std::vector<std::string>&) { return ++calls < 2; }).ok());
  EXPECT_EQ(calls, 2);
}

TEST(StandaloneClient, DetectsAClusterNodeBehindAPlainUrl) {
  // The bus port is given explicitly: the default (port + 10000) is out of range for a
  // free port above 55535.
  int bus_port = suoke::testing::redis_detail::free_port();
  RedisServer server(RedisServer::Options{
      .extra_config = {"cluster-enabled yes", "cluster-port " + std::to_string(bus_port)}});
  auto c = must_connect(server.url());
  ASSERT_TRUE(c);
  auto* sc = dynamic_cast<StandaloneClient*>(c.get());
  ASSERT_NE(sc, nullptr);
  EXPECT_TRUE(sc->is_cluster_node());
  EXPECT_EQ(c->exec({"PING"})->str, "PONG");
}

TEST(StandaloneClient, SeveralConnectionsRoundRobin) {
  RedisServer server;
  ClientOptions options;
  options.connections_per_node = 3;
  auto c = must_connect(server.url(), options);
  ASSERT_TRUE(c);
  EXPECT_EQ(dynamic_cast<StandaloneClient*>(c.get())->connected_count(), 3);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) ok += c->exec({"INCR", "rr"}).ok() ? 1 : 0;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 600);
  EXPECT_EQ(c->exec({"GET", "rr"})->str, "600");
  // Three client connections besides redis-cli's own.
  std::string list = server.cli("CLIENT", "LIST");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 4) << list;
}

// Connection directly, as the cluster client uses it: RESP3 via HELLO 3, ASKING + command,
// and the written flag.
TEST(RedisConnection, Resp3AskingAndWrittenFlag) {
  RedisServer server;
  boost::asio::io_context io;
  ConnectionOptions options;
  options.endpoint = Endpoint{"127.0.0.1", static_cast<uint16_t>(server.port())};
  options.resp3 = true;
  auto conn = Connection::create(io, options);
  std::optional<Result<void>> started;
  conn->start([&](Result<void> r) { started.emplace(std::move(r)); });
  while (!started && io.run_one_for(milliseconds(2000))) {
  }
  ASSERT_TRUE(started && started->ok()) << (started ? started->error().message : "no result");
  io.restart();
  ASSERT_TRUE(conn->connected());
  EXPECT_EQ(conn->endpoint().port, server.port());

  std::vector<std::pair<Result<Value>, bool>> replies;
  auto collect = [&](Result<Value> r, bool written) { replies.emplace_back(std::move(r), written); };
  conn->send({"HSET", "h", "f", "v"}, collect, milliseconds(1000));
  conn->send({"HGETALL", "h"}, collect, milliseconds(1000));
  // ASKING on a non-cluster server is an error reply; it is swallowed and the command runs.
  conn->send_asking({"HGET", "h", "f"}, collect, milliseconds(1000));
  while (replies.size() < 3 && io.run_one_for(milliseconds(2000))) {
  }
  ASSERT_EQ(replies.size(), 3u);
  for (auto& [r, written] : replies) {
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(written);
  }
  EXPECT_EQ(replies[1].first->type, Value::Type::kMap);
  ASSERT_EQ(replies[1].first->elements.size(), 2u);
  EXPECT_EQ(replies[2].first->str, "v");
  EXPECT_EQ(conn->pending(), 0u);

  // close(): everything pending fails with kind "closed"; nothing is invoked inline.
  replies.clear();
  conn->send({"BLPOP", "q", "0"}, collect, milliseconds(5000));
  io.poll();
  conn->close();
  conn->send({"PING"}, collect, milliseconds(1000));
  EXPECT_EQ(replies.size(), 1u);  // the in-flight BLPOP, failed by close()
  io.run_for(milliseconds(200));
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].first.error().kind, "closed");
  EXPECT_TRUE(replies[0].second);  // BLPOP had been written
  EXPECT_EQ(replies[1].first.error().kind, "closed");
  EXPECT_FALSE(replies[1].second);
  EXPECT_EQ(conn->state(), Connection::State::kClosed);
}

}  // namespace
}  // namespace suoke::redis
