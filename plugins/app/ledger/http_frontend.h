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

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

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

class HttpFrontend {
 public:
  HttpFrontend(LedgerCore& core, size_t max_body_bytes);
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
  size_t max_body_bytes() const { return max_body_bytes_; }

 private:
  void accept();

  boost::asio::io_context ioc_;  // first: destroyed last, after every session
  boost::asio::ip::tcp::acceptor acceptor_;
  LedgerCore& core_;
  size_t max_body_bytes_;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<Session>> parked_;
};

}  // namespace nodus::ledger
