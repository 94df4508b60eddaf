// nodus/services/http_client.h: outgoing HTTP/1.1 requests (http and https) for plugins.
//
// request() never blocks: the kernel connects, writes and reads on the instance's I/O, and
// the callback runs exactly once, on the instance executor, with the response or a Status:
// DEADLINE_EXCEEDED when `timeout` passed (the connection is closed), UNAVAILABLE naming the
// host:port when it cannot be reached or the connection broke, RESOURCE_EXHAUSTED when the
// plugin already has `in_flight_max` requests in flight or the response exceeds
// `response_bytes_max`, INVALID_ARGUMENT for a malformed URL or address, CANCELLED after
// cancel(). A response with any HTTP status (404, 503, ...) is a response, not an error.
// The callback never runs inside request() itself, so a plugin may call request() while
// holding its own state half-updated.
//
// Connections are kept alive and reused per (scheme, host:port), at most `connections_max`
// at once per host (more requests wait for one, their deadline running) and at most
// `idle_connections_max` idle ones kept per host. When the plugin stops, every request it
// still has in flight is dropped and its callback never runs: plugin code does not run after
// its stop(). A plugin that wants CANCELLED callbacks calls cancel() in its own stop().
//
//   nodus::HttpClientRequest req;
//   req.method = "POST";
//   req.url = "http://127.0.0.1:8545/";
//   req.headers = {{"Content-Type", "application/json"}};
//   req.body = R"({"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1})";
//   req.timeout = std::chrono::seconds(2);
//   ctx.http_client().request(std::move(req), [this](nodus::Result<nodus::HttpClientResponse> r) {
//     if (!r.ok()) return log_.warn("probe failed: " + r.status().to_string());
//     on_block_number(r->status, r->body);
//   });
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/status.h"

namespace nodus {

// Header fields in order; names compare case-insensitively (find_header()).
using HttpHeaderList = std::vector<std::pair<std::string, std::string>>;

// TLS for https. Without a CA file the system's default trust store is used.
struct HttpTlsOptions {
  std::string ca_file;      // PEM bundle of the authorities to trust
  bool verify_peer = true;  // false accepts any certificate (tests, self-signed lab setups)
  std::string server_name;  // SNI and the name checked in the certificate; default: the host
};

struct HttpClientRequest {
  std::string method = "GET";
  // Either a URL, "http://host:port/target" or "https://host[:port]/target" ...
  std::string url;
  // ... or a "host:port" address (nodus/address.h) plus a target, with `tls` for https.
  std::string address;
  std::string target = "/";
  bool tls = false;
  HttpHeaderList headers;  // Host, Content-Length and Connection are set by the client
  std::string body;
  // From the call of request() to the callback, connecting and waiting for a connection
  // included. Zero or negative: the client's default_timeout.
  Duration timeout = Duration::zero();
  HttpTlsOptions tls_options;
};

struct HttpClientResponse {
  int status = 0;  // 200, 404, ...
  HttpHeaderList headers;
  std::string body;
};

// The first value of header `name` (case-insensitive), or "" when absent.
inline std::string_view find_header(const HttpHeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < key.size() && same; ++i) {
      const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
      same = lower(key[i]) == lower(name[i]);
    }
    if (same) return value;
  }
  return {};
}

// The bounds of one plugin's client. The kernel's defaults are below; tests of the kernel
// and the fakes take their own.
struct HttpClientLimits {
  size_t in_flight_max = 256;             // requests of the plugin not yet called back
  size_t connections_max = 8;             // open connections per (scheme, host:port)
  size_t idle_connections_max = 4;        // idle kept-alive connections per host
  size_t response_bytes_max = 16u << 20;  // header + body of one response
  Duration default_timeout = std::chrono::seconds(30);
  Duration idle_timeout = std::chrono::seconds(30);  // an idle connection is closed after it
};

using HttpClientCallback = std::function<void(Result<HttpClientResponse> response)>;
using HttpRequestId = uint64_t;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Starts a request. `done` runs exactly once on the executor (see above), never inside this
  // call. Safe to call from any thread. Returns an id for cancel(); never 0.
  virtual HttpRequestId request(HttpClientRequest request, HttpClientCallback done) = 0;
  // Ends a request still in flight: its callback runs with CANCELLED (on the executor, not
  // inside this call) and its connection is closed. False when it already finished.
  // Call on the executor.
  virtual bool cancel(HttpRequestId id) = 0;
  // Requests started and not yet called back.
  virtual size_t in_flight() const = 0;
  virtual const HttpClientLimits& limits() const = 0;
};

}  // namespace nodus
