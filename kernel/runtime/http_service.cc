#include "kernel/runtime/http_service.h"

#include <utility>

namespace nodus::kernel {
namespace {

std::string route_name(std::string_view port, std::string_view method, std::string_view pattern) {
  return "port '" + std::string(port) + "': route " + std::string(method) + " " +
         std::string(pattern);
}

}  // namespace

HttpServerOptions to_server_options(const HttpPortOptions& options) {
  HttpServerOptions out;
  out.connections_max = options.max_connections;
  out.idle_timeout = options.idle_timeout;
  out.request_timeout = options.request_timeout;
  out.header_bytes_max = options.max_header_bytes;
  out.connections_max_setting = options.connections_max_setting;
  return out;
}

HttpService::HttpService(std::string bind_host, std::map<std::string, uint16_t> ports,
                         Executor& executor)
    : bind_host_(std::move(bind_host)), ports_(ports.begin(), ports.end()), executor_(executor) {}

HttpService::~HttpService() {
  stop();
}

Result<HttpServer*> HttpService::server(std::string_view port) {
  auto it = ports_.find(port);
  if (it == ports_.end()) {
    std::string known;
    for (const auto& [name, number] : ports_)
      known += (known.empty() ? "" : ", ") + name;
    return not_found("HTTP port '" + std::string(port) +
                     "' is not a port of this instance (the profile names: " +
                     (known.empty() ? std::string("none") : known) + ")");
  }
  std::lock_guard lock(mu_);
  auto& slot = servers_[it->first];
  if (slot) return slot.get();
  auto options = options_.find(port);
  auto server = std::make_unique<HttpServer>(options == options_.end() ? HttpServerOptions()
                                                                       : options->second);
  Status st = server->listen(bind_host_, it->second);
  if (!st.ok()) {
    servers_.erase(it->first);
    return st.with_context("HTTP port '" + std::string(port) + "'");
  }
  slot = std::move(server);
  return slot.get();
}

Status HttpService::configure(std::string_view port, const HttpServerOptions& options) {
  if (ports_.find(port) == ports_.end()) {
    return not_found("HTTP port '" + std::string(port) + "' is not a port of this instance");
  }
  std::lock_guard lock(mu_);
  if (servers_.count(port) != 0) {
    return failed_precondition("HTTP port '" + std::string(port) +
                               "' already serves; set its limits before its first route");
  }
  options_[std::string(port)] = options;
  return {};
}

Status HttpService::route_as(const std::string& owner, std::string_view port,
                             std::string_view method, std::string_view pattern, HttpHandler handler,
                             HttpRouteOptions options) {
  auto server = this->server(port);
  if (!server.ok()) return server.status().with_context(route_name(port, method, pattern));
  HttpRoute r;
  r.method = std::string(method);
  r.pattern = std::string(pattern);
  r.handler = std::move(handler);
  r.options = options;
  r.owner = owner;
  r.executor = &executor_;
  Status st = (*server)->routes().add(std::move(r));
  if (!st.ok()) return Status(st.code(), "port '" + std::string(port) + "': " + st.message());
  return {};
}

Status HttpService::remove_as(const std::string& owner, std::string_view port,
                              std::string_view method, std::string_view pattern) {
  std::lock_guard lock(mu_);
  auto it = servers_.find(port);
  if (it == servers_.end()) {
    return not_found(route_name(port, method, pattern) + ": nothing is routed on that port");
  }
  Status st = it->second->routes().remove(method, pattern, owner);
  if (!st.ok()) return Status(st.code(), "port '" + std::string(port) + "': " + st.message());
  return {};
}

void HttpService::remove_owner(const std::string& owner) {
  std::lock_guard lock(mu_);
  for (auto& [name, server] : servers_)
    server->routes().remove_owner(owner);
}

uint16_t HttpService::bound_port(std::string_view port) const {
  std::lock_guard lock(mu_);
  auto it = servers_.find(port);
  return it == servers_.end() ? 0 : it->second->port();
}

void HttpService::stop() {
  std::lock_guard lock(mu_);
  for (auto& [name, server] : servers_)
    server->stop();
}

Status HttpService::configure_port(std::string_view port, const HttpPortOptions& options) {
  return configure(port, to_server_options(options));
}

}  // namespace nodus::kernel
