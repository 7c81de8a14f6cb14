#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gateway/plugins/file_log/handler.h"
#include "gateway/plugins/file_log/writer.h"
#include "gateway/plugins/log_phase.h"
#include "telemetry/metrics.h"

namespace suoke::gateway::plugins::file_log {
namespace {

using namespace std::chrono_literals;

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "suoke-filelog-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(FileLogWriterTest, WritesLinesInOrder) {
  TempDir dir;
  telemetry::Registry registry;
  LogWriter writer(dir.file("a.log"), 1024, registry);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(writer.push("line " + std::to_string(i) + "\n"));
  ASSERT_TRUE(writer.flush(5s));
  auto lines = read_lines(dir.file("a.log"));
  ASSERT_EQ(lines.size(), 100u);
  EXPECT_EQ(lines[0], "line 0");
  EXPECT_EQ(lines[99], "line 99");
  EXPECT_EQ(writer.dropped(), 0u);
}

TEST(FileLogWriterTest, LinesAcrossChunksArriveWhole) {
  TempDir dir;
  telemetry::Registry registry;
  LogWriter writer(dir.file("w.log"), 64, registry);  // chunks of 16 bytes: lines of 12 span two
  std::vector<std::string> want;
  for (int i = 0; i < 500; ++i) {
    std::string line = "wrap-" + std::to_string(100000 + i);
    // The writer may not have collected yet: wait for room instead of dropping.
    while (!writer.push(line + "\n")) ASSERT_TRUE(writer.flush(5s));
    want.push_back(line);
  }
  ASSERT_TRUE(writer.flush(5s));
  EXPECT_EQ(read_lines(dir.file("w.log")), want);
}

TEST(FileLogWriterTest, ReserveGivesRoomInOneChunkOrNothing) {
  TempDir dir;
  telemetry::Registry registry;
  LogWriter writer(dir.file("r.log"), 256, registry);  // chunks of 64 bytes
  auto room = writer.reserve(40);
  ASSERT_NE(room.data, nullptr);
  std::memcpy(room.data, "0123456789abcdef\n", 17);
  writer.commit(room, 17);
  // 47 bytes are left in this chunk: room for 60 is found in the next one.
  room = writer.reserve(60);
  ASSERT_NE(room.data, nullptr);
  std::memcpy(room.data, "second\n", 7);
  writer.commit(room, 7);
  // More than a chunk is never reserved; push() spreads such a line over chunks.
  EXPECT_EQ(writer.reserve(65).data, nullptr);
  const std::string big(150, 'b');
  EXPECT_TRUE(writer.push(big + "\n"));
  ASSERT_TRUE(writer.flush(5s));
  EXPECT_EQ(read_lines(dir.file("r.log")),
            (std::vector<std::string>{"0123456789abcdef", "second", big}));
  EXPECT_EQ(writer.dropped(), 0u);
}

// Reads a FIFO to its end (the writer closing it), so a writer stuck in open(2) can go on.
std::thread read_fifo_to_end(std::string path) {
  return std::thread([path = std::move(path)] {
    std::ifstream in(path);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  });
}

TEST(FileLogWriterTest, AFullQueueRefusesReservationsAndDropsLines) {
  TempDir dir;
  // A FIFO without a reader: open(2) blocks, so the writer thread takes nothing. (No ASSERT
  // until the reader runs: the writer's destructor would wait for that open forever.)
  std::string fifo = dir.file("stuck.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  telemetry::Registry registry;
  std::thread reader;
  {
    // Chunks of 64 bytes: four for the queue's 256 bytes and the one being filled.
    LogWriter writer(fifo, 256, registry);
    const std::string record(59, 'r');
    for (int i = 0; i < 5; ++i) {  // 60 bytes each: one chunk each
      auto room = writer.reserve(60);
      EXPECT_NE(room.data, nullptr) << i;
      if (room.data == nullptr) break;
      std::memcpy(room.data, (record + "\n").data(), 60);
      writer.commit(room, 60);
    }
    EXPECT_EQ(writer.reserve(60).data, nullptr);  // no sixth chunk
    EXPECT_TRUE(writer.push("x\n"));              // the last chunk's 4 bytes still take it
    EXPECT_FALSE(writer.push("0123456789\n"));    // 11 bytes would need another chunk
    EXPECT_EQ(writer.dropped(), 1u);
    reader = read_fifo_to_end(fifo);
    EXPECT_TRUE(writer.flush(5s));
  }  // the writer closes the FIFO: the reader sees its end
  reader.join();
}

// Four threads push line(t, i) for i < lines_each through one writer (retrying while the
// queue is full): every line must arrive whole, in its thread's order, never with another
// thread's bytes inside.
template <class Line>
void expect_threads_lines_whole_and_in_order(std::size_t queue_bytes, int lines_each, Line line) {
  TempDir dir;
  telemetry::Registry registry;
  LogWriter writer(dir.file("t.log"), queue_bytes, registry);
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&writer, &line, lines_each, t] {
      for (int i = 0; i < lines_each; ++i) {
        const std::string text = line(t, i) + "\n";
        while (!writer.push(text)) std::this_thread::yield();
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(writer.flush(5s));
  std::vector<int> next(kThreads, 0);
  auto lines = read_lines(dir.file("t.log"));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * lines_each));
  for (const auto& got : lines) {
    const int t = got.size() > 1 ? got[1] - '0' : -1;
    ASSERT_TRUE(t >= 0 && t < kThreads) << got;
    ASSERT_EQ(got, line(t, next[t])) << "a line out of order or torn";
    ++next[t];
  }
}

TEST(FileLogWriterTest, EachThreadsLinesStayInOrder) {
  expect_threads_lines_whole_and_in_order(1 << 20, 5000, [](int t, int i) {
    return "t" + std::to_string(t) + " " + std::to_string(i);
  });
}

// Chunks of 64 bytes and lines of 10 to 200 bytes: some fit the chunk's rest, some span two
// to four chunks.
TEST(FileLogWriterTest, LinesSpanningChunksFromManyThreadsArriveWhole) {
  expect_threads_lines_whole_and_in_order(256, 2000, [](int t, int i) {
    std::string line = "t" + std::to_string(t) + " " + std::to_string(i) + " ";
    line.append(static_cast<std::size_t>((i * 37) % 190), static_cast<char>('a' + t));
    return line;
  });
}

TEST(FileLogWriterTest, FullQueueDropsAndCountsWithoutBlocking) {
  TempDir dir;
  // A FIFO without a reader: open(2) blocks, so the writer thread is stuck like on a hung disk.
  std::string fifo = dir.file("stuck.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  telemetry::Registry registry;
  uint64_t dropped = 0;
  std::thread reader;
  {
    // Chunks of 5 bytes: four for the queue's 20 bytes and the one being filled, so room for
    // twelve "x\n" lines and one byte.
    LogWriter writer(fifo, 20, registry);
    int accepted = 0;
    // The writer thread stays in open(2) until a reader comes: were push() to wait for it,
    // this loop would never end (and the test would fail on ctest's timeout).
    for (int i = 0; i < 1000; ++i) accepted += writer.push("x\n") ? 1 : 0;
    // Exactly the queue's room was accepted: the writer, stuck in open(2), took nothing.
    EXPECT_EQ(accepted, 12);
    dropped = writer.dropped();
    EXPECT_EQ(dropped, static_cast<uint64_t>(1000 - accepted));
    std::string text = registry.render();
    EXPECT_NE(
        text.find("suoke_file_log_dropped_total{path=\"" + fifo + "\"} " + std::to_string(dropped)),
        std::string::npos)
        << text;
    // Unblock the writer so it can drain and stop.
    reader = read_fifo_to_end(fifo);
    EXPECT_TRUE(writer.flush(5s));
  }
  reader.join();
  EXPECT_GT(dropped, 900u);
}

TEST(FileLogWriterTest, FailedWritesCountTheirLinesAsDropped) {
  // /dev/full opens like a file and refuses every write with ENOSPC (a full disk).
  telemetry::Registry registry;
  LogWriter writer("/dev/full", 1024, registry);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(writer.push("line " + std::to_string(i) + "\n"));
  ASSERT_TRUE(writer.flush(5s));
  EXPECT_EQ(writer.dropped(), 3u);
}

TEST(FileLogWriterTest, AFullDiskIsReportedOnceNotEveryBatch) {
  telemetry::Registry registry;
  LogWriter writer("/dev/full", 1024, registry);
  testing::internal::CaptureStderr();
  for (int batch = 0; batch < 5; ++batch) {
    EXPECT_TRUE(writer.push("line\n"));
    ASSERT_TRUE(writer.flush(5s));  // one failed batch each
  }
  const std::string messages = testing::internal::GetCapturedStderr();
  EXPECT_EQ(writer.dropped(), 5u);
  std::size_t reports = 0;
  for (auto at = messages.find("write failed"); at != std::string::npos;
       at = messages.find("write failed", at + 1)) {
    ++reports;
  }
  EXPECT_EQ(reports, 1u) << messages;
}

TEST(FileLogWriterTest, ReopenAllFollowsRotation) {
  TempDir dir;
  telemetry::Registry registry;
  LogWriter writer(dir.file("app.log"), 1024, registry);
  writer.push("before\n");
  ASSERT_TRUE(writer.flush(5s));
  // logrotate: rename, then signal (SIGUSR1 -> reopen_all()).
  std::filesystem::rename(dir.file("app.log"), dir.file("app.log.1"));
  writer.push("still old\n");  // no reopen yet: goes to the renamed file
  ASSERT_TRUE(writer.flush(5s));
  reopen_all();
  writer.push("after\n");
  ASSERT_TRUE(writer.flush(5s));
  EXPECT_EQ(read_lines(dir.file("app.log.1")), (std::vector<std::string>{"before", "still old"}));
  EXPECT_EQ(read_lines(dir.file("app.log")), (std::vector<std::string>{"after"}));
}

TEST(FileLogWriterTest, ReopenEachBatchFollowsRenameWithoutSignal) {
  TempDir dir;
  telemetry::Registry registry;
  LogWriter writer(dir.file("r.log"), 1024, registry);
  writer.set_reopen_each_batch(true);  // Kong's `reopen: true`
  writer.push("one\n");
  ASSERT_TRUE(writer.flush(5s));
  std::filesystem::rename(dir.file("r.log"), dir.file("r.log.1"));
  writer.push("two\n");
  ASSERT_TRUE(writer.flush(5s));
  EXPECT_EQ(read_lines(dir.file("r.log")), (std::vector<std::string>{"two"}));
}

class Headers : public HeaderView {
 public:
  std::size_t size() const override { return 3; }
  std::string_view name(std::size_t i) const override {
    static const char* n[] = {"Host", "Authorization", "Accept"};
    return n[i];
  }
  std::string_view value(std::size_t i) const override {
    static const char* v[] = {"api.example", "Bearer secret", "a/b"};
    return v[i];
  }
  std::string_view get(std::string_view) const override { return {}; }
};

// Points ctx at the snapshot's first route and service and at one of its consumers, as
// routing and an authentication plugin leave it.
void route_to(RequestContext& ctx, const Snapshot& snapshot, std::size_t consumer) {
  ctx.snapshot = &snapshot;
  ctx.route = &snapshot.routes[0];
  ctx.service = &snapshot.services[0];
  ctx.consumer = &snapshot.consumers[consumer];
}

// A 200 with a 20-byte body that the upstream answered in 12 ms, 15 ms in all.
void answered_ok(RequestContext& ctx) {
  ctx.started_at_ms = 1700000000123;
  ctx.status = 200;
  ctx.upstream_latency_ms = 12;
  ctx.proxy_latency_ms = 3;
  ctx.request_latency_ms = 15;
  ctx.response_body_bytes = 20;
}

TEST(FileLogSerializeTest, KongRecordShape) {
  Snapshot snapshot;
  Service s;
  s.id = "s1";
  s.name = "health";
  s.host = "10.0.0.1";
  s.port = 8080;
  snapshot.services.push_back(s);
  Route r;
  r.id = "r1";
  r.name = "health-route";
  r.paths = {"/health"};
  r.service_index = 0;
  snapshot.routes.push_back(r);
  Consumer c{"c1", "alice", ""};
  snapshot.consumers.push_back(c);
  Headers headers;
  RequestContext ctx;
  route_to(ctx, snapshot, 0);
  ctx.credential_id = "cred1";
  ctx.method = "GET";
  ctx.host = "api.example";
  ctx.path = "/health/x";
  ctx.query = "a=1&b&a=2&c=%20z";
  ctx.client_ip = "127.0.0.1";
  ctx.request_headers = &headers;
  answered_ok(ctx);
  ctx.upstream_uri = "/x?a=1&b&a=2&c=%20z";
  ctx.tries = 1;
  ctx.response_head = {
      {"Content-Type", "application/json"}, {"Set-Cookie", "a"}, {"Set-Cookie", "b"}};

  auto v = boost::json::parse(serialize(ctx)).as_object();
  const auto& req = v.at("request").as_object();
  EXPECT_EQ(req.at("uri").as_string(), "/health/x?a=1&b&a=2&c=%20z");
  EXPECT_EQ(req.at("url").as_string(), "http://api.example/health/x?a=1&b&a=2&c=%20z");
  EXPECT_EQ(req.at("method").as_string(), "GET");
  EXPECT_EQ(req.at("querystring").at("a"), (boost::json::array{"1", "2"}));
  EXPECT_EQ(req.at("querystring").at("b"), true);
  EXPECT_EQ(req.at("querystring").at("c").as_string(), " z");
  EXPECT_EQ(req.at("headers").at("authorization").as_string(), "REDACTED");
  EXPECT_EQ(req.at("headers").at("accept").as_string(), "a/b");
  EXPECT_GT(req.at("size").to_number<uint64_t>(), 0u);
  EXPECT_EQ(v.at("upstream_uri").as_string(), "/x?a=1&b&a=2&c=%20z");
  EXPECT_EQ(v.at("upstream_status").as_string(), "200");
  const auto& res = v.at("response").as_object();
  EXPECT_EQ(res.at("status").as_int64(), 200);
  EXPECT_EQ(res.at("headers").at("content-type").as_string(), "application/json");
  EXPECT_EQ(res.at("headers").at("set-cookie"), (boost::json::array{"a", "b"}));
  EXPECT_GT(res.at("size").to_number<uint64_t>(), 20u);
  EXPECT_EQ(v.at("latencies").at("kong").as_int64(), 3);
  EXPECT_EQ(v.at("latencies").at("proxy").as_int64(), 12);
  EXPECT_EQ(v.at("latencies").at("request").as_int64(), 15);
  EXPECT_EQ(v.at("tries").as_array().size(), 1u);
  EXPECT_EQ(v.at("route").at("name").as_string(), "health-route");
  EXPECT_EQ(v.at("route").at("service").at("id").as_string(), "s1");
  EXPECT_EQ(v.at("service").at("host").as_string(), "10.0.0.1");
  EXPECT_EQ(v.at("service").at("port").as_int64(), 8080);
  EXPECT_EQ(v.at("consumer").at("username").as_string(), "alice");
  EXPECT_EQ(v.at("authenticated_entity").at("id").as_string(), "cred1");
  EXPECT_EQ(v.at("client_ip").as_string(), "127.0.0.1");
  EXPECT_EQ(v.at("started_at").as_int64(), 1700000000123);
  EXPECT_EQ(v.at("source").as_string(), "service");
}

TEST(FileLogSerializeTest, EscapesEveryByteThatJsonRequires) {
  // Header values and paths come from clients: quotes, backslashes and control bytes must
  // come back exactly after a JSON round trip, and the record must stay one line.
  class NastyHeaders : public HeaderView {
   public:
    std::size_t size() const override { return 2; }
    std::string_view name(std::size_t i) const override { return i == 0 ? "X-Quote" : "X-Ctl"; }
    std::string_view value(std::size_t i) const override {
      static const std::string values[] = {"a\"b\\c", std::string("x\n\r\t\x01\x1f\0y", 9)};
      return values[i];
    }
    std::string_view get(std::string_view) const override { return {}; }
  } headers;
  RequestContext ctx;
  ctx.method = "GET";
  ctx.path = "/p\"q";
  ctx.request_headers = &headers;
  std::string line = serialize(ctx);
  EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  auto v = boost::json::parse(line).as_object();
  const auto& h = v.at("request").at("headers").as_object();
  EXPECT_EQ(h.at("x-quote").as_string(), "a\"b\\c");
  EXPECT_EQ(std::string_view(h.at("x-ctl").as_string()), std::string_view("x\n\r\t\x01\x1f\0y", 9));
  EXPECT_EQ(v.at("request").at("uri").as_string(), "/p\"q");
}

TEST(FileLogSerializeTest, SnapshotFragmentsGiveTheSameRecord) {
  // The route, service, tries and consumer objects are pre-serialized per snapshot; the
  // record must be byte for byte the one built field by field, and fragments of another
  // snapshot must not be used.
  Snapshot snapshot;
  Service s;
  s.id = "s1";
  s.name = "health\"svc";
  s.host = "10.0.0.1";
  s.port = 8080;
  snapshot.services.push_back(s);
  Route r;
  r.id = "r1";
  r.name = "health-route";
  r.paths = {"/health", "/h"};
  r.hosts = {"api.example"};
  r.created_at = 1700000000;
  r.service_index = 0;
  snapshot.routes.push_back(r);
  snapshot.consumers.push_back(Consumer{"c0", "bob", "x"});
  snapshot.consumers.push_back(Consumer{"c1", "alice", ""});
  class TwoHosts : public HeaderView {
   public:
    std::size_t size() const override { return 4; }
    std::string_view name(std::size_t i) const override {
      static const char* n[] = {"X-Dup", "Authorization", "x-dup", "Proxy-Authorization"};
      return n[i];
    }
    std::string_view value(std::size_t i) const override {
      static const char* v[] = {"1", "Bearer t", "2", "Basic u"};
      return v[i];
    }
    std::string_view get(std::string_view) const override { return {}; }
  } headers;
  RequestContext ctx;
  route_to(ctx, snapshot, 1);
  ctx.credential_id = "cred1";
  ctx.method = "POST";
  ctx.host = "api.example";
  ctx.path = "/health/x";
  ctx.client_ip = "127.0.0.1";
  ctx.request_headers = &headers;
  ctx.status = 201;
  ctx.upstream_latency_ms = 4;
  ctx.tries = 2;
  ctx.upstream_uri = "/x";
  ctx.response_head = {
      {"Content-Type", "application/json"}, {"Set-Cookie", "a"}, {"set-cookie", "b"}};

  auto fragments = build_fragments(snapshot);
  std::string plain = serialize(ctx);
  std::string fast = serialize(ctx, fragments.get());
  EXPECT_EQ(fast, plain);
  auto v = boost::json::parse(fast).as_object();
  EXPECT_EQ(v.at("consumer").at("username").as_string(), "alice");
  EXPECT_EQ(v.at("service").at("name").as_string(), "health\"svc");
  EXPECT_EQ(v.at("tries").as_array().size(), 2u);
  EXPECT_EQ(v.at("tries").at(1).at("port").as_int64(), 8080);
  const auto& h = v.at("request").at("headers").as_object();
  EXPECT_EQ(h.at("x-dup"), (boost::json::array{"1", "2"}));
  EXPECT_EQ(h.at("authorization").as_string(), "REDACTED");
  EXPECT_EQ(h.at("proxy-authorization").as_string(), "REDACTED");
  EXPECT_EQ(v.at("response").at("headers").at("set-cookie"), (boost::json::array{"a", "b"}));

  // Another snapshot with other entities at the same indexes: its own values, not the
  // fragments'.
  Snapshot other = snapshot;
  other.consumers[1].username = "carol";
  other.services[0].port = 9090;
  route_to(ctx, other, 1);
  auto w = boost::json::parse(serialize(ctx, fragments.get())).as_object();
  EXPECT_EQ(w.at("consumer").at("username").as_string(), "carol");
  EXPECT_EQ(w.at("service").at("port").as_int64(), 9090);
}

// A context with every part of the record: repeated, redacted and escaped headers, a query
// string, two tries, a consumer and a credential.
struct RichRequest {
  class Headers : public HeaderView {
   public:
    std::size_t size() const override { return 6; }
    std::string_view name(std::size_t i) const override {
      static const char* n[] = {"Host", "X-Dup", "Authorization", "x-DUP", "X-Esc", "Accept"};
      return n[i];
    }
    std::string_view value(std::size_t i) const override {
      static const std::string v[] = {
          "api.example:8000", "one", "Bearer abc", "two", std::string("q\"b\\s\x01\n", 7), "*/*"};
      return v[i];
    }
    std::string_view get(std::string_view) const override { return {}; }
  } headers;
  Snapshot snapshot;
  RequestContext ctx;

  RichRequest() {
    Service s;
    s.id = "svc-1";
    s.name = "health";
    s.host = "10.0.0.1";
    s.port = 8080;
    s.path = "/base";
    snapshot.services.push_back(s);
    Route r;
    r.id = "route-1";
    r.name = "health-route";
    r.methods = {"GET", "POST"};
    r.hosts = {"api.example"};
    r.paths = {"/health"};
    r.created_at = 1700000000;
    r.service_index = 0;
    snapshot.routes.push_back(r);
    snapshot.consumers.push_back(Consumer{"c-1", "alice", "A-1"});
    route_to(ctx, snapshot, 0);
    ctx.credential_id = "cred-1";
    ctx.method = "GET";
    ctx.host = "api.example:8000";
    ctx.path = "/health/\"x\"";
    ctx.query = "a=1&b&a=%202";
    ctx.client_ip = "10.1.2.3";
    ctx.request_headers = &headers;
    answered_ok(ctx);
    ctx.upstream_uri = "/base/x?a=1&b&a=%202";
    ctx.tries = 2;
    ctx.response_head = {{"Content-Type", "application/json"},
                         {"Set-Cookie", "a=1"},
                         {"X-Request-Id", "id-1"},
                         {"set-cookie", "b=2"}};
  }
};

TEST(FileLogSerializeTest, ExactRecordText) {
  // The whole line, byte for byte (the text Kong's serializer gives, in our field order).
  RichRequest r;
  const std::string expected =
      R"({"request":{"uri":"/health/\"x\"?a=1&b&a=%202","url":"http://api.example:8000/health/\"x\"?a=1&b&a=%202",)"
      R"("querystring":{"a":["1"," 2"],"b":true},"method":"GET","headers":{"host":"api.example:8000",)"
      R"("x-dup":["one","two"],"authorization":"REDACTED","x-esc":"q\"b\\s\u0001\n","accept":"*/*"},"size":SIZE_IN},)"
      R"("upstream_uri":"/base/x?a=1&b&a=%202","upstream_status":"200","response":{"status":200,)"
      R"("headers":{"content-type":"application/json","set-cookie":["a=1","b=2"],"x-request-id":"id-1"},"size":SIZE_OUT},)"
      R"("latencies":{"kong":3,"proxy":12,"request":15,"receive":0},)"
      R"("tries":[{"ip":"10.0.0.1","port":8080},{"ip":"10.0.0.1","port":8080}],)"
      R"("authenticated_entity":{"id":"cred-1","consumer_id":{"id":"c-1"}},)"
      R"("route":{"id":"route-1","name":"health-route","protocols":["http","https"],"methods":["GET","POST"],)"
      R"("hosts":["api.example"],"paths":["/health"],"regex_priority":0,"strip_path":true,"preserve_host":false,)"
      R"("path_handling":"v0","created_at":1700000000,"service":{"id":"svc-1"}},)"
      R"("service":{"id":"svc-1","name":"health","protocol":"http","host":"10.0.0.1","port":8080,"path":"/base",)"
      R"("retries":5,"connect_timeout":60000,"write_timeout":60000,"read_timeout":60000,"enabled":true},)"
      R"("consumer":{"id":"c-1","username":"alice","custom_id":"A-1"},"client_ip":"10.1.2.3",)"
      R"("started_at":1700000000123,"source":"service","workspace_name":"default"})";
  std::string want = expected;
  want.replace(want.find("SIZE_IN"), 7, std::to_string(request_size(r.ctx)));
  want.replace(want.find("SIZE_OUT"), 8, std::to_string(response_size(r.ctx)));
  EXPECT_EQ(serialize(r.ctx), want);
  auto fragments = build_fragments(r.snapshot);
  EXPECT_EQ(serialize(r.ctx, fragments.get()), want);
  std::string appended = "previous line\n";
  serialize_into(appended, r.ctx, fragments.get());
  EXPECT_EQ(appended, "previous line\n" + want);

  // An exit without upstream, no route/service/consumer: the optional parts disappear.
  RequestContext bare;
  bare.method = "OPTIONS";
  bare.path = "/";
  bare.status = 401;
  bare.exit = http::Response::json(401, "{}");
  EXPECT_EQ(
      serialize(bare),
      R"({"request":{"uri":"/","url":"http://localhost/","querystring":{},"method":"OPTIONS",)"
      R"("headers":{},"size":)" +
          std::to_string(request_size(bare)) +
          R"(},"upstream_uri":"","upstream_status":"","response":{"status":401,"headers":{},"size":)" +
          std::to_string(response_size(bare)) +
          R"(},"latencies":{"kong":0,"proxy":-1,"request":0,"receive":0},"tries":[],)"
          R"("client_ip":"","started_at":0,"source":"exit","workspace_name":"default"})");
}

TEST(FileLogSerializeTest, HeaderNamesLowerCasedAsciiOnly) {
  // Eight bytes at a time and the tail: only 'A'..'Z' change; the bytes around them in ASCII
  // ('@', '[', '`', '{') and non-ASCII bytes stay as they are.
  class OddNames : public HeaderView {
   public:
    std::size_t size() const override { return 2; }
    std::string_view name(std::size_t i) const override {
      return i == 0 ? "ABC@[Z`{XYZ\xC3\x89-Long-Header-NAME" : "Q";
    }
    std::string_view value(std::size_t i) const override { return "v"; }
    std::string_view get(std::string_view) const override { return {}; }
  } headers;
  RequestContext ctx;
  ctx.method = "GET";
  ctx.path = "/";
  ctx.request_headers = &headers;
  auto v = boost::json::parse(serialize(ctx)).as_object();
  const auto& h = v.at("request").at("headers").as_object();
  EXPECT_TRUE(h.contains("abc@[z`{xyz\xC3\x89-long-header-name")) << serialize(ctx);
  EXPECT_TRUE(h.contains("q"));
  EXPECT_EQ(h.size(), 2u);
}

}  // namespace
}  // namespace suoke::gateway::plugins::file_log

namespace suoke::gateway::plugins::file_log {
namespace {

// Names are lower-cased and everything escaped at every length and position (the writer
// copies plain strings in 8- and 16-byte blocks, the last one overlapping).
TEST(FileLogSerializeTest, HeaderNamesAndValuesAtEveryLengthAndPosition) {
  const char special[] = {'"', '\\', '\n', '\x01', '\x1f', '\x7f', 'A', 'Z', '@', '[', 'a', '~'};
  for (std::size_t length = 1; length <= 40; ++length) {
    for (char byte : special) {
      for (std::size_t at = 0; at < length; ++at) {
        std::string name(length, 'N');
        std::string value(length, 'V');
        name[at] = byte;
        value[at] = byte;
        std::string lowered = name;
        for (char& c : lowered) {
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        RequestContext ctx;
        ctx.method = "GET";
        ctx.path = value;
        ctx.response_head = {{name, value}};
        std::string line = serialize(ctx);
        ASSERT_EQ(line.find('\n'), std::string::npos) << line;
        auto record = boost::json::parse(line).as_object();
        const auto& table = record.at("response").at("headers").as_object();
        ASSERT_EQ(table.size(), 1u) << line;
        EXPECT_EQ(table.begin()->key(), lowered) << line;
        EXPECT_EQ(table.begin()->value().as_string(), value) << line;
        EXPECT_EQ(record.at("request").at("uri").as_string(), value) << line;
      }
    }
  }
}

std::string tagged(std::string prefix, std::size_t i) {
  prefix += std::to_string(i);
  return prefix;
}

// Header tables up to 64 headers keep their bookkeeping on the stack, larger ones on the heap
// (one bit per header, several words past 128): every size gives Kong's table (first-seen
// order, lower-case names, repeats as arrays, also across words).
TEST(FileLogSerializeTest, HeaderTablesOfEverySizeKeepOrderAndRepeats) {
  for (std::size_t count : {1u, 2u, 63u, 64u, 65u, 70u, 128u, 129u, 300u}) {
    RequestContext ctx;
    ctx.method = "GET";
    ctx.path = "/";
    ctx.status = 200;
    std::vector<std::string> expected_names;
    for (std::size_t i = 0; i < count; ++i) {
      // Every 10th header (and the last) repeats X-Rep; the others have distinct names
      // of equal and unequal lengths.
      if (i % 10 == 0 || i + 1 == count) {
        ctx.response_head.emplace_back(i % 20 == 0 ? "X-Rep" : "x-REP", tagged("v", i));
        if (i == 0) expected_names.push_back("x-rep");
      } else {
        ctx.response_head.emplace_back(tagged("H-", i), std::to_string(i));
        expected_names.push_back(tagged("h-", i));
      }
    }
    auto record = boost::json::parse(serialize(ctx)).as_object();
    const auto& table = record.at("response").at("headers").as_object();
    ASSERT_EQ(table.size(), expected_names.size()) << count;
    std::size_t k = 0;
    for (const auto& member : table) EXPECT_EQ(member.key(), expected_names[k++]) << count;
    boost::json::array reps;
    for (std::size_t i = 0; i < count; ++i) {
      if (i % 10 == 0 || i + 1 == count) reps.emplace_back(tagged("v", i));
    }
    if (reps.size() == 1) {
      EXPECT_EQ(table.at("x-rep"), reps[0]) << count;
    } else {
      EXPECT_EQ(table.at("x-rep"), reps) << count;
    }
    if (count > 2) {
      EXPECT_EQ(table.at("h-1"), "1") << count;
    }
  }
}

}  // namespace
}  // namespace suoke::gateway::plugins::file_log
