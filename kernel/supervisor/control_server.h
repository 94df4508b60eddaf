// supervisor/control_server.h: the Control gRPC service of a running supervisor.
//
// Listens on a unix socket in the run directory ("unix:/abs/run/control.sock") or on TCP
// ("127.0.0.1:7000"); every call is answered by the Supervisor on its own thread, except the
// readiness probes of Health, which run on the API thread so they never stall supervision.
#pragma once

#include <memory>
#include <string>

#include "nodus/status.h"

namespace grpc {
class Server;
}

namespace nodus::kernel {

class Supervisor;

class ControlServer {
 public:
  static Result<std::unique_ptr<ControlServer>> start(Supervisor& supervisor,
                                                      const std::string& address);
  ~ControlServer();
  // What a client passes to grpc::CreateChannel.
  const std::string& target() const { return target_; }
  void stop();

 private:
  class Service;
  ControlServer() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
};

// GET `path` on host:port with a bound; the HTTP status, or 0 when unreachable.
int probe_http(const std::string& host, uint16_t port, const std::string& path, int timeout_ms);

}  // namespace nodus::kernel
