#include "nodus/testing/fake_http.h"

#include <cctype>

namespace nodus::testing {

bool FakeHttpExchange::done() const {
  std::lock_guard lock(mu_);
  return response_.has_value();
}

HttpResponse FakeHttpExchange::response() const {
  std::lock_guard lock(mu_);
  return response_ ? *response_ : HttpResponse(0, "", "");
}

void FakeHttpExchange::set(HttpResponse r) {
  std::lock_guard lock(mu_);
  response_ = std::move(r);
}

FakeHttpServer::FakeHttpServer(Executor& executor, std::map<std::string, uint16_t> ports,
                               std::string owner)
    : executor_(executor), ports_(ports.begin(), ports.end()), owner_(std::move(owner)) {}

FakeHttpServer::~FakeHttpServer() = default;

Result<HttpRouteTable*> FakeHttpServer::table(std::string_view port) {
  if (ports_.find(port) == ports_.end()) {
    return not_found("HTTP port '" + std::string(port) + "' is not a port of this instance");
  }
  std::lock_guard lock(mu_);
  auto& slot = tables_[std::string(port)];
  if (!slot) slot = std::make_unique<HttpRouteTable>();
  return slot.get();
}

Status FakeHttpServer::route(std::string_view port, std::string_view method,
                             std::string_view pattern, HttpHandler handler,
                             HttpRouteOptions options) {
  return route_as(owner_, port, method, pattern, std::move(handler), options);
}

Status FakeHttpServer::route_as(const std::string& owner, std::string_view port,
                                std::string_view method, std::string_view pattern,
                                HttpHandler handler, HttpRouteOptions options) {
  const std::string where = "port '" + std::string(port) + "': ";
  auto t = table(port);
  if (!t.ok()) {
    return t.status().with_context(where + "route " + std::string(method) + " " +
                                   std::string(pattern));
  }
  HttpRoute r;
  r.method = std::string(method);
  r.pattern = std::string(pattern);
  r.handler = std::move(handler);
  r.options = options;
  r.owner = owner;
  r.executor = &executor_;
  Status st = (*t)->add(std::move(r));
  if (!st.ok()) return Status(st.code(), where + st.message());
  return {};
}

Status FakeHttpServer::configure_port(std::string_view port, const HttpPortOptions& options) {
  if (ports_.find(port) == ports_.end()) {
    return not_found("HTTP port '" + std::string(port) + "' is not a port of this instance");
  }
  std::lock_guard lock(mu_);
  if (auto it = tables_.find(port); it != tables_.end() && it->second->size() > 0) {
    return failed_precondition("HTTP port '" + std::string(port) +
                               "' already serves; set its limits before its first route");
  }
  options_[std::string(port)] = options;
  return {};
}

Status FakeHttpServer::remove_route(std::string_view port, std::string_view method,
                                    std::string_view pattern) {
  return remove_as(owner_, port, method, pattern);
}

Status FakeHttpServer::remove_as(const std::string& owner, std::string_view port,
                                 std::string_view method, std::string_view pattern) {
  auto t = table(port);
  if (!t.ok()) return t.status();
  Status st = (*t)->remove(method, pattern, owner);
  if (!st.ok()) return Status(st.code(), "port '" + std::string(port) + "': " + st.message());
  return {};
}

void FakeHttpServer::remove_owner(const std::string& owner) {
  std::lock_guard lock(mu_);
  for (auto& [name, t] : tables_)
    t->remove_owner(owner);
}

uint16_t FakeHttpServer::bound_port(std::string_view port) const {
  auto it = ports_.find(port);
  return it == ports_.end() ? 0 : it->second;
}

size_t FakeHttpServer::route_count(std::string_view port) const {
  std::lock_guard lock(mu_);
  auto it = tables_.find(port);
  return it == tables_.end() ? 0 : it->second->size();
}

std::optional<HttpPortOptions> FakeHttpServer::port_options(std::string_view port) const {
  std::lock_guard lock(mu_);
  auto it = options_.find(port);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

std::shared_ptr<const FakeHttpExchange> FakeHttpServer::send(
    std::string_view port, std::string_view method, std::string_view target, std::string body,
    std::vector<std::pair<std::string, std::string>> headers) {
  auto exchange = std::make_shared<FakeHttpExchange>();
  auto t = table(port);
  if (!t.ok()) {
    exchange->set(HttpResponse::error(404, t.status().message()));
    return exchange;
  }
  HttpRequest request;
  request.method = std::string(method);
  if (Status st = parse_http_target(target, request); !st.ok()) {
    exchange->set(HttpResponse::error(400, st.message()));
    return exchange;
  }
  HttpRouteMatch m = (*t)->match(request.method, request.path);
  if (m.status == 405) {
    HttpResponse r =
        HttpResponse::error(405, "method " + request.method + " is not allowed on " + request.path);
    r.headers.emplace_back("Allow", m.allow);
    exchange->set(std::move(r));
    return exchange;
  }
  if (!m.route) {
    exchange->set(HttpResponse::error(404, "no route for " + request.method + " " + request.path));
    return exchange;
  }
  const size_t body_max = m.route->route().options.max_body_bytes;
  if (body.size() > body_max) {
    exchange->set(HttpResponse::error(413, "request body of " + std::to_string(body.size()) +
                                               " bytes is over the limit of " +
                                               std::to_string(body_max) + " bytes"));
    return exchange;
  }
  request.params = std::move(m.params);
  request.body = std::move(body);
  for (auto& [name, value] : headers) {
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  HttpResponder responder([exchange](HttpResponse r) { exchange->set(std::move(r)); });
  executor_.post(
      [route = std::move(m.route), request = std::move(request), responder = std::move(responder)] {
        run_http_route(*route, request, responder);
      });
  return exchange;
}

}  // namespace nodus::testing
