// Helpers for driving AdminApi::handle() without sockets.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "core/clock.h"
#include "gateway/admin/admin_api.h"
#include "gateway/store/config_store.h"

namespace suoke::gateway::testing {

namespace json = boost::json;

struct Reply {
  int status = 0;
  std::string body;
  json::value json() const {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    return ec ? json::value(nullptr) : v;
  }
  json::object obj() const {
    auto v = json();
    return v.is_object() ? v.as_object() : json::object{};
  }
};

class AdminFixture {
 public:
  explicit AdminFixture(std::string data_dir = {}) { reopen(std::move(data_dir)); }

  void reopen(std::string data_dir) {
    api.reset();
    store.reset();
    store::StoreOptions options;
    options.data_dir = std::move(data_dir);
    options.clock = &clock;
    auto opened = store::ConfigStore::open(options);
    if (!opened.ok()) {
      ADD_FAILURE() << opened.error().message;
      return;
    }
    store = std::move(opened.value());
    api = std::make_unique<admin::AdminApi>(*store, [] {
      return json::object{{"connections_accepted", 7}, {"total_requests", 9}};
    });
  }

  Reply call(std::string method, std::string target, std::string body = {},
             std::string content_type = "application/json") {
    http::Request req;
    req.method = std::move(method);
    req.target = std::move(target);
    req.body = std::move(body);
    if (!content_type.empty()) req.headers.emplace_back("Content-Type", content_type);
    auto resp = api->handle(req);
    return Reply{resp.status, resp.body};
  }
  Reply get(std::string target) { return call("GET", std::move(target), {}, {}); }
  Reply post(std::string target, const json::value& body) {
    return call("POST", std::move(target), json::serialize(body));
  }
  Reply patch(std::string target, const json::value& body) {
    return call("PATCH", std::move(target), json::serialize(body));
  }
  Reply put(std::string target, const json::value& body) {
    return call("PUT", std::move(target), json::serialize(body));
  }
  Reply form(std::string method, std::string target, std::string body) {
    return call(std::move(method), std::move(target), std::move(body),
                "application/x-www-form-urlencoded");
  }
  Reply del(std::string target) { return call("DELETE", std::move(target), {}, {}); }

  FakeClock clock;
  std::unique_ptr<store::ConfigStore> store;
  std::unique_ptr<admin::AdminApi> api;
};

}  // namespace suoke::gateway::testing
