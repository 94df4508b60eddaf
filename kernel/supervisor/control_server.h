// supervisor/control_server.h: the Control gRPC service of a running supervisor.
//
// Listens on a unix socket in the run directory ("unix:/abs/run/control.sock") or on TCP
// ("127.0.0.1:7000"); every call is answered by the Supervisor on its own thread, except the
// readiness probes of Health, which run on the API thread so they never stall supervision.
// Who may connect is decided in control_access.h: the socket admits root and the supervisor's
// own user only, and TCP is loopback-only unless mTLS names the operator.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "kernel/transport/tls_credentials.h"
#include "nodus/status.h"

namespace grpc {
class Server;
}

namespace nodus::kernel {

class Supervisor;

class UnixControlListener;

struct ControlServerOptions {
  std::string address;  // "unix:/abs/run/control.sock" or HOST:PORT
  // Made 0700 before anything listens (it holds the bus socket and the lock, too).
  std::filesystem::path run_dir;
  std::string cluster;  // the profile name, which an operator certificate names
  // mTLS for a TCP address off loopback: clients need a certificate of this CA naming the
  // operator. Loopback TCP stays plaintext, so that the local CLI keeps working.
  std::optional<TlsFiles> tls;
  // Reports a refused connection or call (one line, for the supervisor's log).
  std::function<void(const std::string&)> warn;
};

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> start(Supervisor& supervisor,
                                                      const ControlServerOptions& options);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  // What a client passes to grpc::CreateChannel.
  const std::string& target() const { return target_; }
  void stop();

 private:
  class Service;
  ControlServer() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<UnixControlListener> listener_;
  std::string target_;
};

// GET `path` on host:port with a bound; the HTTP status, or 0 when unreachable.
int probe_http(const std::string& host, uint16_t port, const std::string& path, int timeout_ms);

}  // namespace nodus::kernel
