// The `suoke` binary as a user meets it: help, usage errors, bad config at startup, signals.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace suoke::testing {
namespace {

const std::string kSuoke = SUOKE_BINARY;

TEST(Cli, HelpListsEverySubcommandAndEachHasHelp) {
  std::string out;
  ASSERT_EQ(run_command(kSuoke + " --help", &out), 0);
  for (const char* command : {"up", "gateway"}) {
    EXPECT_NE(out.find(std::string("  ") + command + " "), std::string::npos) << out;
    std::string sub;
    EXPECT_EQ(run_command(kSuoke + " " + command + " --help", &sub), 0) << sub;
    EXPECT_NE(sub.find("Usage: suoke " + std::string(command)), std::string::npos) << sub;
  }
}

TEST(Cli, UsageErrorsAreClearAndExitTwo) {
  std::string out;
  EXPECT_EQ(run_command(kSuoke + " frobnicate", &out), 2);
  EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " gateway --no-such-flag", &out), 2);
  EXPECT_NE(out.find("unknown flag --no-such-flag"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " gateway --workers many", &out), 2);
  EXPECT_NE(out.find("--workers"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " gateway --proxy-listen 127.0.0.1:99999", &out), 2);
  EXPECT_NE(out.find("--proxy-listen"), std::string::npos) << out;
}

TEST(Cli, InvalidConfigAtStartupNamesFileEntityAndField) {
  TempDir dir;
  std::string path = dir.path() + "/kong.yml";
  std::ofstream(path) << "_format_version: \"3.0\"\n"
                         "services:\n"
                         "- name: ok-service\n"
                         "  url: http://127.0.0.1:9\n"
                         "- name: bad-service\n"
                         "  url: http://127.0.0.1:9\n"
                         "  connect_timeout: -5\n"
                         "  routes:\n"
                         "  - name: bad-route\n"
                         "    paths: [\"no-leading-slash\"]\n";
  std::string out;
  int code = run_command(kSuoke + " gateway --proxy-listen 127.0.0.1:0 --admin-listen off --status-listen off"
                                  " --data-dir '' --config " + path,
                         &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find(path), std::string::npos) << out;
  EXPECT_NE(out.find("connect_timeout"), std::string::npos) << out;
  EXPECT_NE(out.find("services[1]"), std::string::npos) << out;
  // Every error at once: the route's path is reported too.
  EXPECT_NE(out.find("paths"), std::string::npos) << out;
}

TEST(Cli, CheckAndExportRoundTripLosslessly) {
  TempDir dir;
  std::string path = dir.path() + "/kong.yml";
  std::ofstream(path) << "_format_version: \"3.0\"\n"
                         "services:\n"
                         "- name: api\n"
                         "  url: http://127.0.0.1:9/base\n"
                         "  retries: 2\n"
                         "  routes:\n"
                         "  - name: api-route\n"
                         "    paths: [/api, \"~/v[0-9]+/items$\"]\n"
                         "    methods: [GET]\n"
                         "    plugins:\n"
                         "    - name: cors\n"
                         "      config: {origins: [\"*\"]}\n"
                         "consumers:\n"
                         "- username: alice\n"
                         "  jwt_secrets:\n"
                         "  - key: alice-key\n"
                         "    secret: s3cret\n";
  std::string out;
  ASSERT_EQ(run_command(kSuoke + " gateway check --config " + path, &out), 0) << out;
  EXPECT_NE(out.find("valid (1 services, 1 routes, 1 plugins, 1 consumers)"), std::string::npos) << out;
  for (const char* format : {"yaml", "json"}) {
    std::string first = dir.path() + "/first." + format, second = dir.path() + "/second." + format;
    out.clear();
    ASSERT_EQ(run_command(kSuoke + " gateway export --config " + path + " --format " + format + " --output " + first, &out), 0) << out;
    out.clear();
    ASSERT_EQ(run_command(kSuoke + " gateway export --config " + first + " --format " + format + " --output " + second, &out), 0) << out;
    std::string a, b;
    ASSERT_EQ(run_command("cat " + first, &a), 0);
    ASSERT_EQ(run_command("cat " + second, &b), 0);
    EXPECT_EQ(a, b) << "import -> export -> import is not lossless (" << format << ")";
    EXPECT_NE(a.find("alice-key"), std::string::npos) << a;
    EXPECT_NE(a.find("~/v[0-9]+/items$"), std::string::npos) << a;
  }
  out.clear();
  EXPECT_EQ(run_command(kSuoke + " gateway check --config /nonexistent.yml", &out), 1) << out;
  EXPECT_NE(out.find("/nonexistent.yml"), std::string::npos) << out;
}

TEST(Cli, UnreadableConfigIsAClearError) {
  std::string out;
  int code = run_command(kSuoke + " gateway --proxy-listen 127.0.0.1:0 --admin-listen off --status-listen off"
                                  " --data-dir '' --config /nonexistent/kong.yml",
                         &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("/nonexistent/kong.yml"), std::string::npos) << out;
}

TEST(Cli, SigtermStopsTheGatewayWithExitZero) {
  TempDir dir;
  ChildProcess gateway;
  ASSERT_TRUE(gateway.start({kSuoke, "gateway", "--proxy-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                             "--status-listen", "127.0.0.1:0", "--workers", "2", "--data-dir", dir.path()}));
  std::string line;
  auto m = gateway.wait_for_line(R"(proxy on port (\d+), admin API on port (\d+), status on port (\d+))",
                                 std::chrono::seconds(20), &line);
  ASSERT_TRUE(m) << gateway.output();
  uint16_t proxy = static_cast<uint16_t>(std::stoi((*m)[1]));
  uint16_t status = static_cast<uint16_t>(std::stoi((*m)[3]));
  auto reply = http_request(proxy, "GET", "/nothing-here");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body, R"({"message":"no Route matched with those values"})");
  auto st = http_request(status, "GET", "/status");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, 200);
  EXPECT_NE(st->body.find("configuration_hash"), std::string::npos) << st->body;
  gateway.signal(SIGTERM);
  EXPECT_EQ(gateway.wait(), 0);
}

TEST(Cli, SighupReloadsTheConfigFileAndAnInvalidOneChangesNothing) {
  TempDir dir;
  std::string path = dir.path() + "/kong.yml";
  auto write_config = [&](const std::string& route_path) {
    std::ofstream(path) << "_format_version: \"3.0\"\nservices:\n- name: svc\n  url: http://127.0.0.1:9\n"
                           "  routes:\n  - name: r\n    paths: [\"" << route_path << "\"]\n";
  };
  write_config("/before");
  ChildProcess gateway;
  ASSERT_TRUE(gateway.start({kSuoke, "gateway", "--proxy-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                             "--status-listen", "off", "--workers", "1", "--data-dir", "", "--config", path}));
  std::string line;
  auto m = gateway.wait_for_line(R"(proxy on port (\d+), admin API on port (\d+))", std::chrono::seconds(20), &line);
  ASSERT_TRUE(m) << gateway.output();
  uint16_t admin = static_cast<uint16_t>(std::stoi((*m)[2]));
  auto route_paths = [&] {
    auto reply = http_request(admin, "GET", "/routes/r");
    return reply ? reply->body : std::string("no reply");
  };
  EXPECT_NE(route_paths().find("/before"), std::string::npos);

  write_config("/after");
  gateway.signal(SIGHUP);
  bool reloaded = false;
  for (int i = 0; i < 100 && !reloaded; ++i) {
    reloaded = route_paths().find("/after") != std::string::npos;
    if (!reloaded) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(reloaded) << route_paths();

  write_config("no-leading-slash");
  gateway.signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_NE(route_paths().find("/after"), std::string::npos) << "an invalid reload changed the running config";
  gateway.signal(SIGTERM);
  EXPECT_EQ(gateway.wait(), 0);
}

TEST(Cli, UpServesTheSeedTopologyAndItsPrintedCurlLineWorks) {
  TempDir dir;
  ChildProcess up;
  ASSERT_TRUE(up.start({kSuoke, "up", "--proxy-listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                        "--status-listen", "off", "--upstream-base-port", "0", "--workers", "1", "--data-dir",
                        dir.path()}));
  std::string line;
  auto curl = up.wait_for_line(R"(^\s+(curl -i .*http://127\.0\.0\.1:\d+/\S+)$)", std::chrono::seconds(20), &line);
  ASSERT_TRUE(curl) << up.output();
  std::string out;
  EXPECT_EQ(run_command((*curl)[1].str() + " --silent --max-time 10", &out), 0) << out;
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  // The seed strips these fields from health data (response-transformer).
  EXPECT_EQ(out.find("sensitive_data"), std::string::npos) << out;
  EXPECT_EQ(out.find("personal_info"), std::string::npos) << out;
  // Without the printed token the jwt plugin refuses the same request.
  std::string url = (*curl)[1].str().substr((*curl)[1].str().find("http://"));
  std::string refused;
  EXPECT_EQ(run_command("curl -i --silent --max-time 10 " + url, &refused), 0) << refused;
  EXPECT_NE(refused.find("HTTP/1.1 401"), std::string::npos) << refused;
  up.signal(SIGINT);
  EXPECT_EQ(up.wait(), 0);
}

}  // namespace
}  // namespace suoke::testing
