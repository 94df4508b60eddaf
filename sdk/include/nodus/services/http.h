// nodus/services/http.h: HTTP routes of a plugin, served by the kernel on a named port of the
// instance (InstanceInfo::ports), next to other plugins' routes and the kernel's own /livez,
// /readyz, /status and /metrics.
//
// A route is a method and a path pattern whose `{name}` segments match one path segment and
// become path parameters. The handler runs on the instance's executor and answers through an
// HttpResponder, at once or later (a ledger write answers after its commit). The kernel owns
// the sockets and enforces the limits a public endpoint needs (body and header size, idle and
// request timeouts, a connection cap); routes of a plugin are removed when it stops.
//
//   Status start() override {
//     return ctx_.http().route("api", "GET", "/v1/items/{id}",
//                              [this](const nodus::HttpRequest& req, nodus::HttpResponder res) {
//       nodus::JsonWriter w;
//       w.begin_object().key("id").value(req.param("id")).end_object();
//       res.respond(nodus::HttpResponse::json(200, w.release()));
//     });
//   }
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/status.h"

namespace nodus {

struct HttpRequest {
  std::string method;  // "GET", "POST", ... (HEAD is served by the GET route)
  std::string path;    // as sent, without the query string ("/v1/items/a%20b")
  std::string body;
  // Header names in lower case, in the order received; repeated headers appear repeatedly.
  std::vector<std::pair<std::string, std::string>> headers;
  // Query parameters (percent-decoded, '+' as space); the last of a repeated name wins.
  std::map<std::string, std::string, std::less<>> query;
  // Path parameters of the route's `{name}` segments, percent-decoded.
  std::map<std::string, std::string, std::less<>> params;

  // Value of the first header `name` (any case), or "" when absent.
  std::string_view header(std::string_view name) const;
  // Path parameter `name`, or "" when the route has none of that name.
  std::string_view param(std::string_view name) const;
  // Query parameter `name`, or `fallback` when absent.
  std::string_view query_param(std::string_view name, std::string_view fallback = "") const;
};

struct HttpResponse {
  HttpResponse() = default;
  HttpResponse(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // More headers ("Retry-After", "Location", ...). Content-Type, Content-Length and
  // Connection are set by the server.
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse json(int status, std::string body) {
    return {status, "application/json", std::move(body)};
  }
  static HttpResponse text(int status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body)};
  }
  // {"error": message} with `status`, the shape every error of the kernel's server has.
  static HttpResponse error(int status, std::string_view message);
};

// Answers one request, exactly once, from any thread. Copies share the answer: the first
// respond() wins and later ones are ignored. When the last copy goes away unanswered (a handler
// that forgot, or threw), the client gets 500 instead of waiting until its timeout.
class HttpResponder {
 public:
  using Send = std::function<void(HttpResponse)>;
  HttpResponder() = default;
  // `send` delivers the answer; it is called once, on the thread that answers (or destroys).
  explicit HttpResponder(Send send);

  void respond(HttpResponse response) const;
  // True once an answer was given (by this copy or another).
  bool responded() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<void(const HttpRequest& request, HttpResponder responder)>;

// Limits of one port, shared by every route on it. The kernel's defaults suit a public
// endpoint; a plugin that owns a port may set its own before the port serves (see
// HttpServer::configure_port).
struct HttpPortOptions {
  // Open connections; one more gets a 503 naming `connections_max_setting`, and is closed.
  size_t max_connections = 1024;
  // An open connection must send its next request header within this long.
  Duration idle_timeout = std::chrono::seconds(30);
  // A request body must arrive within this long after its header.
  Duration request_timeout = std::chrono::seconds(30);
  size_t max_header_bytes = 8 * 1024;  // larger gets 431
  // The setting an operator changes to raise the cap ("http_max_connections").
  std::string connections_max_setting = "max_connections";
};

// Per route. A request whose body is over max_body_bytes gets 413 before the handler runs.
struct HttpRouteOptions {
  size_t max_body_bytes = 1 << 20;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;

  // Serves `method` `pattern` on the instance's port named `port`. Patterns start with '/';
  // a `{name}` segment matches any one non-empty segment, and a literal segment wins over a
  // parameter where both match. Errors: NOT_FOUND for a port the profile does not name,
  // ALREADY_EXISTS for a route of the same method and shape (by any plugin, or the kernel),
  // INVALID_ARGUMENT for a malformed pattern or method, UNAVAILABLE when the port cannot be
  // bound. Each message names the port and the route.
  virtual Status route(std::string_view port, std::string_view method, std::string_view pattern,
                       HttpHandler handler, HttpRouteOptions options = {}) = 0;
  // Sets the limits of `port`. Only before the port serves (its first route, by anyone):
  // FAILED_PRECONDITION afterwards, NOT_FOUND for a port the profile does not name.
  virtual Status configure_port(std::string_view port, const HttpPortOptions& options) = 0;
  // Removes one of this plugin's routes; NOT_FOUND when it has none such. Every route of a
  // plugin is removed anyway when it stops.
  virtual Status remove_route(std::string_view port, std::string_view method,
                              std::string_view pattern) = 0;
  // The TCP port that serves `port` (the bound one when the profile asks for port 0), or 0
  // before a route was registered on it.
  virtual uint16_t bound_port(std::string_view port) const = 0;
};

}  // namespace nodus
