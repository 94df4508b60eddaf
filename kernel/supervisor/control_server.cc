#include "supervisor/control_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include <grpcpp/grpcpp.h>

#include "supervisor/control_grpc.h"
#include "supervisor/supervisor.h"

namespace nodus::kernel {

namespace {

grpc::Status to_grpc(const Status& st) {
  return {static_cast<grpc::StatusCode>(st.code()), st.message()};
}

// How long Health waits for one instance's /readyz.
constexpr int kProbeTimeoutMs = 1000;

}  // namespace

class ControlServer::Service final : public nodus::v1::Control::Service {
 public:
  explicit Service(Supervisor& supervisor) : supervisor_(supervisor) {}

  grpc::Status Status(grpc::ServerContext*, const nodus::v1::StatusRequest*,
                      nodus::v1::StatusReply* reply) override {
    auto st = supervisor_.status();
    if (!st.ok()) return to_grpc(st.status());
    *reply = std::move(*st);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext*, const nodus::v1::HealthRequest*,
                      nodus::v1::HealthReply* reply) override {
    auto st = supervisor_.status();
    if (!st.ok()) return to_grpc(st.status());
    bool all = true;
    for (const auto& inst : st->instances()) {
      auto* h = reply->add_instances();
      h->set_index(inst.index());
      h->set_state(inst.state());
      h->set_heartbeat_age_ms(inst.heartbeat_age_ms());
      auto port = inst.ports().find("health");
      if (port == inst.ports().end()) {
        h->set_readyz(-1);
      } else {
        h->set_readyz(probe_http(supervisor_.profile().bind_host,
                                 static_cast<uint16_t>(port->second), "/readyz", kProbeTimeoutMs));
      }
      const bool healthy = inst.state() == "ready" && (h->readyz() == 200 || h->readyz() == -1);
      h->set_healthy(healthy);
      all = all && healthy;
    }
    reply->set_healthy(all);
    return grpc::Status::OK;
  }

  grpc::Status Scale(grpc::ServerContext*, const nodus::v1::ScaleRequest* req,
                     nodus::v1::ScaleReply* reply) override {
    auto st = supervisor_.scale(req->instances());
    if (!st.ok()) return to_grpc(st.status());
    *reply = *st;
    return grpc::Status::OK;
  }

  grpc::Status Restart(grpc::ServerContext*, const nodus::v1::RestartRequest* req,
                       nodus::v1::RestartReply*) override {
    return to_grpc(supervisor_.restart(req->index()));
  }

  grpc::Status Down(grpc::ServerContext*, const nodus::v1::DownRequest*,
                    nodus::v1::DownReply*) override {
    return to_grpc(supervisor_.down());
  }

  grpc::Status Failover(grpc::ServerContext*, const nodus::v1::FailoverRequest* req,
                        nodus::v1::FailoverReply* reply) override {
    std::optional<uint32_t> to;
    if (req->has_to()) to = req->to();
    auto result = supervisor_.failover(to);
    if (!result.ok()) return to_grpc(result.status());
    *reply = *result;
    return grpc::Status::OK;
  }

 private:
  Supervisor& supervisor_;
};

Result<std::unique_ptr<ControlServer>> ControlServer::start(Supervisor& supervisor,
                                                            const std::string& address) {
  std::unique_ptr<ControlServer> server(new ControlServer());
  server->service_ = std::make_unique<Service>(supervisor);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || (address.rfind("unix:", 0) != 0 && port == 0)) {
    return unavailable("control API: cannot listen on " + address);
  }
  server->target_ = address;
  if (address.rfind("unix:", 0) != 0) {
    // HOST:0 picks a port; publish the one we got.
    const auto colon = address.rfind(':');
    server->target_ = address.substr(0, colon) + ":" + std::to_string(port);
  }
  return server;
}

ControlServer::~ControlServer() {
  stop();
}

void ControlServer::stop() {
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

int probe_http(const std::string& host, uint16_t port, const std::string& path, int timeout_ms) {
  const std::string h = host == "localhost" ? "127.0.0.1" : host;
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
  } else {
    return 0;
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int code = 0;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + h + "\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[256];
      const ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
      if (n > 0) {
        buf[n] = '\0';
        if (std::sscanf(buf, "HTTP/1.%*d %d", &code) != 1) code = 0;
      }
    }
  }
  ::close(fd);
  return code;
}

}  // namespace nodus::kernel
