// Load against a route limited per hour by the X-Run-Id header, shared by the in-process and
// the multi-gateway rate-limit tests: they differ only in what they require of each reply.
//
// Deterministic without a fake clock when the caller passes a run id new for each run and
// repeats a run that straddled an hour boundary once, with a fresh id (it cannot straddle
// again).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "gateway/plugins/rate_limiting/windows.h"
#include "support/http_client.h"

namespace suoke::testing {

struct LimitedRun {
  int ok = 0, limited = 0, other = 0;
  std::set<int> remaining_seen;  // X-RateLimit-Remaining-Hour of the 200s, if the judge keeps it
  std::vector<std::string> problems;
  bool straddled = false;  // the hour changed during the run: its counts span two windows
};

// Declarative config with the one route the load targets: service `limited` on the upstream,
// route /limited allowing `per_hour` requests per X-Run-Id value. `more_plugin_config` is
// appended to the rate-limiting plugin's config (lines indented by 8).
inline std::string limited_route_config(uint16_t upstream_port, int per_hour,
                                        const std::string& more_plugin_config = {}) {
  return "_format_version: \"3.0\"\n"
         "services:\n"
         "- name: limited\n"
         "  url: http://127.0.0.1:" +
         std::to_string(upstream_port) +
         "\n"
         "  routes:\n"
         "  - name: limited-route\n"
         "    paths: [/limited]\n"
         "    plugins:\n"
         "    - name: rate-limiting\n"
         "      config:\n"
         "        hour: " +
         std::to_string(per_hour) +
         "\n"
         "        limit_by: header\n"
         "        header_name: X-Run-Id\n" +
         more_plugin_config;
}

// Sends `attempts` GET /limited/item carrying X-Run-Id: run_id, over one keep-alive connection
// (and thread) per entry of `connection_ports`, each entry a proxy port. A transport failure
// counts as `other` and reconnects; `judge` counts every reply, one reply at a time.
inline LimitedRun run_limited_load(
    const std::vector<uint16_t>& connection_ports, int attempts, const std::string& run_id,
    const std::function<void(const HttpReply&, LimitedRun&)>& judge) {
  using gateway::plugins::rate_limiting::Period;
  using gateway::plugins::rate_limiting::window_for;
  LimitedRun r;
  std::mutex mu;
  std::atomic<int> next{0};
  int64_t hour_before = window_for(Period::kHour, Clock::system().now_ms()).index;
  std::vector<std::thread> clients;
  for (uint16_t port : connection_ports) {
    clients.emplace_back([&, port] {
      HttpConnection conn("127.0.0.1", port);
      while (next.fetch_add(1) < attempts) {
        auto reply = conn.request("GET", "/limited/item", {}, {{"X-Run-Id", run_id}});
        std::lock_guard<std::mutex> lock(mu);
        if (!reply) {
          ++r.other;
          r.problems.push_back("transport failure");
          conn.close();
          continue;
        }
        judge(*reply, r);
      }
    });
  }
  for (auto& t : clients) t.join();
  r.straddled = window_for(Period::kHour, Clock::system().now_ms()).index != hour_before;
  return r;
}

}  // namespace suoke::testing
