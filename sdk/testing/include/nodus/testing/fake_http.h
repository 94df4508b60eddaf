// nodus/testing/fake_http.h: an in-memory nodus::HttpServer for plugin unit tests and the
// simulator. Routes are matched exactly as the kernel's server matches them (same route table,
// same 404/405/413 answers), and handlers run on the given executor, so a test drives them with
// its ManualExecutor and SimCluster with a node's simulated one. No sockets.
//
//   nodus::testing::ManualExecutor exec;
//   nodus::testing::FakeHttpServer http(exec, {{"api", 8080}});
//   MyPlugin plugin(http);                         // registers GET /v1/items/{id} on "api"
//   auto call = http.send("api", "GET", "/v1/items/7");
//   exec.run_until_idle();
//   ASSERT_TRUE(call->done());
//   EXPECT_EQ(call->response().status, 200);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nodus/http_routing.h"
#include "nodus/services/executor.h"
#include "nodus/services/http.h"

namespace nodus::testing {

// One request in flight. Thread-safe: the answer may come from any thread.
class FakeHttpExchange {
 public:
  bool done() const;
  // The answer; a 0 status while not done().
  HttpResponse response() const;

 private:
  friend class FakeHttpServer;
  void set(HttpResponse r);
  mutable std::mutex mu_;
  std::optional<HttpResponse> response_;
};

class FakeHttpServer final : public HttpServer, public HttpRouteHost {
 public:
  // `ports`: the instance's named ports (as InstanceInfo::ports). `owner` is who this object
  // registers routes as; views made by view() share the routes under other names.
  FakeHttpServer(Executor& executor, std::map<std::string, uint16_t> ports,
                 std::string owner = "test");
  ~FakeHttpServer() override;
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // HttpServer
  Status route(std::string_view port, std::string_view method, std::string_view pattern,
               HttpHandler handler, HttpRouteOptions options = {}) override;
  Status configure_port(std::string_view port, const HttpPortOptions& options) override;
  Status remove_route(std::string_view port, std::string_view method,
                      std::string_view pattern) override;
  uint16_t bound_port(std::string_view port) const override;

  // Delivers a request as the kernel would: matched on `port`, then (when a route matches) its
  // handler posted to the executor. 404/405/413 and unknown ports answer at once. Any thread.
  std::shared_ptr<const FakeHttpExchange> send(
      std::string_view port, std::string_view method, std::string_view target,
      std::string body = "", std::vector<std::pair<std::string, std::string>> headers = {});

  // HttpRouteHost: view(owner) registers routes as `owner` and removes them all when destroyed
  // (what the kernel does at a plugin's stop()); SimCluster gives each plugin one.
  Status route_as(const std::string& owner, std::string_view port, std::string_view method,
                  std::string_view pattern, HttpHandler handler, HttpRouteOptions options) override;
  Status remove_as(const std::string& owner, std::string_view port, std::string_view method,
                   std::string_view pattern) override;
  void remove_owner(const std::string& owner) override;
  size_t route_count(std::string_view port) const;
  // Limits a plugin set with configure_port(), if any.
  std::optional<HttpPortOptions> port_options(std::string_view port) const;

 private:
  Result<HttpRouteTable*> table(std::string_view port);

  Executor& executor_;
  const std::map<std::string, uint16_t, std::less<>> ports_;
  const std::string owner_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<HttpRouteTable>, std::less<>> tables_;
  std::map<std::string, HttpPortOptions, std::less<>> options_;
};

}  // namespace nodus::testing
