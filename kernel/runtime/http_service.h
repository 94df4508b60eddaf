// runtime/http_service.h: the HTTP servers of one node instance, one per named port, shared by
// the kernel's endpoints and every plugin (nodus/services/http.h).
//
// A port's server is created and bound the first time anything routes on it, with the limits
// set for it by then (configure()); plugins get a per-plugin view (view()) whose routes
// run on the instance's executor and are removed when the view goes, which PluginHost does at
// the plugin's stop().
//
//   HttpService http("127.0.0.1", info.ports, executor);
//   NODUS_ASSIGN_OR_RETURN(HttpServer* health, http.server("health"));
//   health->route("/livez", ...);
//   auto view = http.view("io.example.api");  // a nodus::HttpServer for that plugin
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "kernel/runtime/http_server.h"
#include "nodus/http_routing.h"
#include "nodus/services/executor.h"
#include "nodus/services/http.h"

namespace nodus::kernel {

class HttpService final : public HttpRouteHost {
 public:
  // `ports`: the instance's named ports (0 binds a free port).
  HttpService(std::string bind_host, std::map<std::string, uint16_t> ports, Executor& executor);
  ~HttpService();  // stop()
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // The listening server of `port`, bound now if it was not yet. NOT_FOUND names an unknown
  // port; a failed bind names the port and its address.
  Result<HttpServer*> server(std::string_view port);
  // Limits of `port` before it is bound; FAILED_PRECONDITION once it serves.
  Status configure(std::string_view port, const HttpServerOptions& options);
  // HttpRouteHost. Routes of `owner` (a plugin's name) run on the executor; configure_port()
  // is configure() with the plugin's limits; bound_port() is 0 while the port does not serve.
  Status route_as(const std::string& owner, std::string_view port, std::string_view method,
                  std::string_view pattern, HttpHandler handler, HttpRouteOptions options) override;
  Status remove_as(const std::string& owner, std::string_view port, std::string_view method,
                   std::string_view pattern) override;
  Status configure_port(std::string_view port, const HttpPortOptions& options) override;
  uint16_t bound_port(std::string_view port) const override;
  void remove_owner(const std::string& owner) override;
  // Stops every server. Idempotent.
  void stop();

 private:
  const std::string bind_host_;
  const std::map<std::string, uint16_t, std::less<>> ports_;
  Executor& executor_;
  mutable std::mutex mu_;
  std::map<std::string, HttpServerOptions, std::less<>> options_;
  std::map<std::string, std::unique_ptr<HttpServer>, std::less<>> servers_;
};

// The kernel's limits for a plugin's HttpPortOptions.
HttpServerOptions to_server_options(const HttpPortOptions& options);

}  // namespace nodus::kernel
