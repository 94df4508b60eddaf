// nodus/http_routing.h: the route table behind nodus/services/http.h, shared by the kernel's
// HTTP server and the fakes in nodus::testing so that both match, refuse and answer 404/405 the
// same way. Plugins use HttpServer; this header is for hosts of routes.
//
//   HttpRouteTable table;
//   NODUS_RETURN_IF_ERROR(table.add({"GET", "/v1/tx/{id}", handler, {}, "io.example.ledger"}));
//   HttpRequest req;
//   NODUS_RETURN_IF_ERROR(parse_http_target("/v1/tx/7?wait=true", req));
//   HttpRouteMatch m = table.match("GET", req.path);  // m.route, m.params; or m.status 404/405
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/services/executor.h"
#include "nodus/services/http.h"
#include "nodus/status.h"

namespace nodus {

struct HttpRoute {
  std::string method;   // upper case
  std::string pattern;  // "/v1/tx/{id}"
  HttpHandler handler;
  HttpRouteOptions options;
  std::string owner;  // who registered it: a plugin's name, or "kernel"
  // Where the handler runs; nullptr runs it on the thread that matched the request.
  Executor* executor = nullptr;
};

// A registered route. `removed` turns true (under the table's lock) when the route goes, so a
// request matched just before can see, on the route's executor, that it must not run.
class HttpRouteEntry {
 public:
  const HttpRoute& route() const { return route_; }
  bool removed() const { return removed_.load(std::memory_order_acquire); }

 private:
  friend class HttpRouteTable;
  HttpRoute route_;
  std::vector<std::string> segments_;  // "{}" for a parameter
  std::vector<std::string> param_names_;
  std::atomic<bool> removed_{false};
};

struct HttpRouteMatch {
  int status = 404;  // 200 when `route` is set, else 404 or 405
  std::shared_ptr<const HttpRouteEntry> route;
  std::map<std::string, std::string, std::less<>> params;  // percent-decoded
  std::string allow;  // for 405: the methods the path has, "GET, HEAD, POST"
};

// Thread-safe. Bounded: add() refuses past kRoutesMax routes.
class HttpRouteTable {
 public:
  static constexpr size_t kRoutesMax = 1024;

  // INVALID_ARGUMENT (bad method or pattern), ALREADY_EXISTS (same method and shape: the
  // parameter names do not count), RESOURCE_EXHAUSTED (kRoutesMax). Messages name the route.
  Status add(HttpRoute route);
  // NOT_FOUND unless `owner` has this route.
  Status remove(std::string_view method, std::string_view pattern, std::string_view owner);
  // Removes every route of `owner`; returns how many.
  size_t remove_owner(std::string_view owner);
  HttpRouteMatch match(std::string_view method, std::string_view path) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<HttpRouteEntry>> routes_;
};

// What hosts routes for several owners (plugins): the kernel's per-instance service and the
// fakes. view() gives one owner its nodus::HttpServer.
class HttpRouteHost {
 public:
  virtual ~HttpRouteHost() = default;
  virtual Status route_as(const std::string& owner, std::string_view port, std::string_view method,
                          std::string_view pattern, HttpHandler handler,
                          HttpRouteOptions options) = 0;
  virtual Status remove_as(const std::string& owner, std::string_view port, std::string_view method,
                           std::string_view pattern) = 0;
  virtual Status configure_port(std::string_view port, const HttpPortOptions& options) = 0;
  virtual uint16_t bound_port(std::string_view port) const = 0;
  // Removes every route of `owner`, on every port.
  virtual void remove_owner(const std::string& owner) = 0;

  // A nodus::HttpServer registering as `owner`, whose routes end when it is destroyed (what
  // the kernel does at a plugin's stop()). It must not outlive this host.
  std::unique_ptr<HttpServer> view(std::string owner);
};

// Runs the route's handler for `request`, on the route's executor: a route removed since the
// match answers 503 without running (its plugin stopped), and a handler that throws answers
// 500 with the exception's message.
void run_http_route(const HttpRouteEntry& route, const HttpRequest& request,
                    HttpResponder responder);

// Splits a request target ("/a/b?x=1&y") into request.path and request.query. INVALID_ARGUMENT
// for a target that is not an absolute path.
Status parse_http_target(std::string_view target, HttpRequest& request);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`); a malformed escape is kept
// as written.
std::string http_percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace nodus
