// runtime/http_server.h: the kernel's HTTP/1.1 server, one per listening port. It serves the
// kernel's own endpoints (/livez, /readyz, /status, /metrics) and the routes plugins register
// through nodus/services/http.h, from one route table (nodus/http_routing.h).
//
// A data-path component: it owns its sockets and runs its own io_context on its own thread,
// so a slow client never touches a node's executor. Routes with an executor run their handler
// there and answer through an HttpResponder from any thread; routes without one run on the
// server thread (the kernel's probes, which must answer while the executor is stuck).
// Limits (HttpServerOptions): header size (431), body size per route (413), a deadline for
// the next request header on an idle connection and for a request body, a write deadline, and
// a connection cap (one more connection gets a 503 naming the setting, and is closed).
// Connections are kept alive (HTTP/1.1); one request at a time per connection, so requests
// waiting for handlers are bounded by the connection cap. A failed accept() (EMFILE) is
// retried after a pause instead of stopping the listener.
//
//   HttpServer server;
//   server.route("/metrics", [&](const HttpRequest&) {
//     return HttpResponse{200, "text/plain; version=0.0.4", render_prometheus_text(...)};
//   });
//   NODUS_RETURN_IF_ERROR(server.listen("0.0.0.0", 9090));
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "nodus/http_routing.h"
#include "nodus/services/http.h"
#include "nodus/status.h"

namespace nodus::kernel {

struct HttpServerOptions {
  size_t header_bytes_max = 8 * 1024;
  size_t connections_max = 1024;
  // An open connection must start its next request header within this long (after the accept
  // or the previous response), and the header must be complete by then.
  Duration idle_timeout = std::chrono::seconds(30);
  // A request body must be complete within this long after its header.
  Duration request_timeout = std::chrono::seconds(30);
  // A response must be taken by the client within this long.
  Duration write_timeout = std::chrono::seconds(10);
  Duration accept_retry = std::chrono::milliseconds(100);
  // Names the setting that raises the connection cap, in the 503 answer past it.
  std::string connections_max_setting = "connections_max";
};

class HttpServer {
 public:
  using SyncHandler = std::function<HttpResponse(const HttpRequest&)>;

  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The routes of this port. Thread-safe; may change while serving.
  HttpRouteTable& routes() { return routes_; }
  // A kernel endpoint: GET (and HEAD) of the exact `path`, answered on the server thread.
  // A later registration for the same path replaces the earlier one.
  void route(const std::string& path, SyncHandler handler);
  // Binds and starts serving. Port 0 picks a free port (see port()). Errors name host:port,
  // e.g. "listen 127.0.0.1:9090: Address already in use". One listen per server.
  Status listen(const std::string& host, uint16_t port);
  // The bound port, 0 before a successful listen().
  uint16_t port() const { return port_.load(std::memory_order_acquire); }
  const HttpServerOptions& options() const { return options_; }
  size_t open_connections() const { return connections_.load(std::memory_order_relaxed); }
  uint64_t accept_errors() const { return accept_errors_.load(std::memory_order_relaxed); }
  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();

 private:
  class Session;
  friend class Session;

  void accept_next();
  void refuse(boost::asio::ip::tcp::socket& socket);
  void close_all();

  const HttpServerOptions options_;
  HttpRouteTable routes_;
  // Declared before io_: sessions destroyed along with io_ still unregister themselves here.
  std::atomic<size_t> connections_{0};
  std::atomic<uint64_t> accept_errors_{0};
  std::map<Session*, std::weak_ptr<Session>> sessions_;  // touched only on the server thread
  bool stopping_ = false;                                // ditto
  // Shared, so that a responder on another thread can post an answer without keeping the
  // server alive: it holds the io_context weakly and the session weakly.
  std::shared_ptr<boost::asio::io_context> io_;
  // Sessions whose request is with a handler (no I/O pending holds them). Server thread only.
  std::map<Session*, std::shared_ptr<Session>> waiting_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_timer_;
  std::thread thread_;
  std::future<void> loop_done_;  // ready once the server thread has left io_.run()
  std::atomic<uint16_t> port_{0};
  std::mutex lifecycle_mu_;
  bool listened_ = false;
};

}  // namespace nodus::kernel
