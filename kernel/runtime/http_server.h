// runtime/http_server.h: a small HTTP/1.1 server for the health and metrics endpoints.
//
// A data-path component: it owns its sockets and runs its own io_context on its own thread,
// so a slow scrape never touches the node's executor. It serves GET and HEAD on exact paths
// (404 for others, 405 for other methods, 400 for malformed requests, 431 for headers over
// 8 KiB), closes every connection after its response, drops a connection that sends no
// complete request within 5 s, and serves at most kConnectionsMax connections at once (one
// more gets a 503 and is closed). A failed accept() (EMFILE) is retried after a pause.
// Handlers run on the server thread and must be thread-safe with respect to what they read.
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

#include "nodus/status.h"

namespace nodus::kernel {

struct HttpRequest {
  std::string method;
  std::string path;   // without the query string
  std::string query;  // after '?', without it; empty when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  static constexpr size_t kHeaderBytesMax = size_t{8} << 10;
  static constexpr size_t kConnectionsMax = 64;
  static constexpr std::chrono::seconds kReadTimeout{5};

  HttpServer();
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers the handler for an exact path ("/metrics"). May be called before or after
  // listen(); a later registration for the same path replaces the earlier one.
  void route(std::string path, HttpHandler handler);
  // Binds and starts serving. Port 0 picks a free port (see port()). Errors name host:port,
  // e.g. "listen 127.0.0.1:9090: Address already in use". One listen per server.
  nodus::Status listen(const std::string& host, uint16_t port);
  // The bound port, 0 before a successful listen().
  uint16_t port() const { return port_.load(std::memory_order_acquire); }
  // Closes the listener and every connection and joins the thread. Idempotent.
  void stop();

 private:
  class Session;
  friend class Session;

  void accept_next();
  void close_all();
  HttpHandler find_handler(const std::string& path) const;

  // Declared before io_: sessions destroyed along with io_ still unregister themselves here.
  std::atomic<size_t> connections_{0};
  std::map<Session*, std::weak_ptr<Session>> sessions_;  // touched only on the server thread
  bool stopping_ = false;                                // ditto
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_timer_;
  std::thread thread_;
  std::future<void> loop_done_;  // ready once the server thread has left io_.run()
  std::atomic<uint16_t> port_{0};
  std::mutex lifecycle_mu_;
  bool listened_ = false;
  mutable std::mutex routes_mu_;
  std::map<std::string, HttpHandler, std::less<>> routes_;
};

}  // namespace nodus::kernel
