// runtime/http_client.h: the kernel's HTTP client for plugins (nodus/services/http_client.h),
// on Boost.Beast.
//
// All I/O runs on an io_context whose thread is the instance executor (AsioExecutor::io()), so
// the client's state needs no lock and nothing it does blocks: name resolution runs on Asio's
// resolver thread, connect/TLS/read/write are asynchronous. Callbacks are posted to the
// executor. One AsioHttpClient per plugin: the PluginHost makes it on first use and calls
// shutdown() after the plugin's stop(), which drops every request in flight without calling
// back (plugin code does not run after its stop) and closes every connection.
//
//   AsioHttpClient client(executor.io(), executor, "io.example.probe");
//   client.request({.url = "http://127.0.0.1:8080/healthz"}, [](auto r) { ... });
//   ...
//   client.shutdown();  // on the executor
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "nodus/services/executor.h"
#include "nodus/services/http_client.h"

namespace nodus::kernel {

class AsioHttpClient final : public HttpClient {
 public:
  // `io` must be run by the thread of `executor` (AsioExecutor::io()). `owner` names the
  // plugin in log-worthy messages.
  AsioHttpClient(boost::asio::io_context& io, Executor& executor, std::string owner,
                 HttpClientLimits limits = {});
  // shutdown(); call on the executor, or once its loop no longer runs.
  ~AsioHttpClient() override;
  AsioHttpClient(const AsioHttpClient&) = delete;
  AsioHttpClient& operator=(const AsioHttpClient&) = delete;

  HttpRequestId request(HttpClientRequest request, HttpClientCallback done) override;
  bool cancel(HttpRequestId id) override;
  size_t in_flight() const override;
  const HttpClientLimits& limits() const override;

  // Drops every request in flight (no callback runs), closes every connection, and makes
  // later requests do nothing. Call on the executor. Idempotent.
  void shutdown();

  // Figures for tests and metrics. Read on the executor.
  struct Stats {
    uint64_t connections_opened = 0;  // TCP connections established (TLS ones included)
    uint64_t connections_reused = 0;  // requests sent on a kept-alive connection
    size_t connections_open = 0;      // open now, busy or idle, over every host
    size_t connections_idle = 0;      // idle now, over every host
  };
  Stats stats() const;

 private:
  class Core;
  std::shared_ptr<Core> core_;
};

}  // namespace nodus::kernel
