// http_frontend.h: the ledger's HTTP/JSON API for curl, on Boost.Beast with one I/O thread.
//
//   POST /v1/tx            one proto3-JSON Transaction, or {"txs": [...]}
//   GET  /v1/accounts/NAME balance (?linearizable=true for a ReadIndex read)
//   GET  /v1/kv/KEY        value, base64 as in proto3 JSON (?linearizable=true)
//   GET  /v1/leader        who leads, and its addresses
//
// JSON is parsed with protobuf's JsonStringToMessage (strict: unknown fields are errors).
// Requests waiting for the executor are kept by id, so stop() can drop them without it.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ledger_core.h"

namespace nodus::ledger {

struct HttpResponse {
  unsigned status = 200;
  std::string body;  // JSON
  bool retry_after = false;
};

// Maps a request (method, target, body) to its answer. `respond` runs once, on any thread.
// Exposed for tests of the routing and JSON handling without sockets.
void handle_http(LedgerCore& core, const std::string& method, const std::string& target,
                 const std::string& body, std::function<void(HttpResponse)> respond);

struct HttpFrontendOptions {
  size_t max_body_bytes = 4 << 20;
  // Open connections; one more gets a 503 and is closed (its file descriptor freed at once).
  size_t max_connections = 1024;
  // A connection that sends nothing for this long, mid-request or between requests, is closed.
  Duration idle_timeout = std::chrono::seconds(30);
  // After accept() fails for lack of file descriptors (EMFILE/ENFILE), the next try waits this
  // long instead of spinning; accepting never stops for good.
  Duration accept_retry = std::chrono::milliseconds(100);
};

class HttpFrontend {
 public:
  HttpFrontend(LedgerCore& core, HttpFrontendOptions options);
  ~HttpFrontend();
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  Status start(const std::string& host, uint16_t port);
  void stop();
  uint16_t port() const { return port_; }

  class Session;
  // Used by Session: parks a session until its answer comes back from the executor.
  uint64_t park(std::shared_ptr<Session> s);
  std::shared_ptr<Session> unpark(uint64_t id);
  LedgerCore& core() { return core_; }
  const HttpFrontendOptions& options() const { return options_; }
  size_t open_connections() const { return open_connections_.load(); }
  uint64_t accept_errors() const { return accept_errors_.load(); }
  // Used by Session: one connection fewer.
  void closed() { open_connections_.fetch_sub(1); }

 private:
  void accept();
  void refuse(boost::asio::ip::tcp::socket socket);

  // Sessions count themselves out when destroyed, also while ioc_ is destroyed: before it.
  std::atomic<size_t> open_connections_{0};
  boost::asio::io_context ioc_;  // destroyed after every other member but the count above
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer accept_retry_timer_;
  LedgerCore& core_;
  HttpFrontendOptions options_;
  std::atomic<uint64_t> accept_errors_{0};
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Session>> parked_;
};

}  // namespace nodus::ledger
