#include "kernel/supervisor/control_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>

#include <grpcpp/grpcpp.h>

#include "kernel/supervisor/control_access.h"
#include "kernel/supervisor/control_grpc.h"
#include "kernel/supervisor/socket_address.h"
#include "kernel/supervisor/supervisor.h"

namespace nodus::kernel {

namespace {

grpc::Status to_grpc(const Status& st) {
  return {static_cast<grpc::StatusCode>(st.code()), st.message()};
}

// How long Health waits for one instance's /readyz.
constexpr int kProbeTimeoutMs = 1000;

}  // namespace

// Refuses the call unless the caller may use the API (see control_access.h). Only TCP with
// mTLS needs a check per call: unix-socket callers were checked when they connected.
#define NODUS_CONTROL_AUTHORIZE(context)                          \
  do {                                                            \
    if (grpc::Status denied = authorize(context); !denied.ok()) { \
      return denied;                                              \
    }                                                             \
  } while (false)

class ControlServer::Service final : public nodus::v1::Control::Service {
 public:
  Service(Supervisor& supervisor, const ControlServerOptions& options)
      : supervisor_(supervisor), options_(options) {}

  grpc::Status Status(grpc::ServerContext* context, const nodus::v1::StatusRequest* req,
                      nodus::v1::StatusReply* reply) override {
    NODUS_CONTROL_AUTHORIZE(context);
    auto st = req->plugins() ? supervisor_.status_with_plugins() : supervisor_.status();
    if (!st.ok()) return to_grpc(st.status());
    *reply = std::move(*st);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext* context, const nodus::v1::HealthRequest*,
                      nodus::v1::HealthReply* reply) override {
    NODUS_CONTROL_AUTHORIZE(context);
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
        h->set_readyz(probe_http(supervisor_.profile().address_of(inst.index()),
                                 static_cast<uint16_t>(port->second), "/readyz", kProbeTimeoutMs));
      }
      const bool healthy = inst.state() == "ready" && (h->readyz() == 200 || h->readyz() == -1);
      h->set_healthy(healthy);
      all = all && healthy;
    }
    reply->set_healthy(all);
    return grpc::Status::OK;
  }

  grpc::Status Scale(grpc::ServerContext* context, const nodus::v1::ScaleRequest* req,
                     nodus::v1::ScaleReply* reply) override {
    NODUS_CONTROL_AUTHORIZE(context);
    auto st = supervisor_.scale(req->instances());
    if (!st.ok()) return to_grpc(st.status());
    *reply = *st;
    return grpc::Status::OK;
  }

  grpc::Status Restart(grpc::ServerContext* context, const nodus::v1::RestartRequest* req,
                       nodus::v1::RestartReply*) override {
    NODUS_CONTROL_AUTHORIZE(context);
    return to_grpc(supervisor_.restart(req->index()));
  }

  grpc::Status Down(grpc::ServerContext* context, const nodus::v1::DownRequest*,
                    nodus::v1::DownReply*) override {
    NODUS_CONTROL_AUTHORIZE(context);
    return to_grpc(supervisor_.down());
  }

  grpc::Status Command(grpc::ServerContext* context, const nodus::v1::CommandRequest* req,
                       nodus::v1::CommandReply* reply) override {
    NODUS_CONTROL_AUTHORIZE(context);
    auto result = supervisor_.command(*req);
    if (!result.ok()) return to_grpc(result.status());
    *reply = std::move(*result);
    return grpc::Status::OK;
  }

  grpc::Status Commands(grpc::ServerContext* context, const nodus::v1::CommandsRequest*,
                        nodus::v1::CommandsReply* reply) override {
    NODUS_CONTROL_AUTHORIZE(context);
    auto result = supervisor_.commands();
    if (!result.ok()) return to_grpc(result.status());
    *reply = std::move(*result);
    return grpc::Status::OK;
  }

 private:
  grpc::Status authorize(grpc::ServerContext* context) const {
    if (!options_.tls) return grpc::Status::OK;
    const auto auth = context->auth_context();
    if (auth && is_operator(*auth, options_.cluster)) return grpc::Status::OK;
    const std::string why = "control API: " + context->peer() +
                            " is not the operator (its certificate must name " +
                            operator_uri(options_.cluster) + ")";
    if (options_.warn) options_.warn(why);
    return {grpc::StatusCode::PERMISSION_DENIED, why};
  }

  Supervisor& supervisor_;
  const ControlServerOptions options_;
};

Result<std::unique_ptr<ControlServer>> ControlServer::start(Supervisor& supervisor,
                                                            const ControlServerOptions& options) {
  const std::string& address = options.address;
  const bool unix_socket = address.rfind("unix:", 0) == 0;
  const bool mtls = options.tls && options.tls->require_client_cert;
  NODUS_RETURN_IF_ERROR(check_control_address(address, mtls));
  // Unix sockets are checked per connection (SO_PEERCRED); loopback TCP is open to local
  // users by design (docs/security.md); anything else passed the check above only with mTLS.
  const bool use_tls = !unix_socket && !check_control_address(address, false).ok();
  if (!options.run_dir.empty()) NODUS_RETURN_IF_ERROR(make_private_dir(options.run_dir));
  std::unique_ptr<ControlServer> server(new ControlServer());
  ControlServerOptions service_options = options;
  if (!use_tls) service_options.tls.reset();
  server->service_ = std::make_unique<Service>(supervisor, service_options);
  grpc::ServerBuilder builder;
  int port = 0;
  if (!unix_socket) {
    std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
    if (use_tls) {
      NODUS_ASSIGN_OR_RETURN(TransportCredentials tls, make_tls_credentials(*options.tls));
      creds = tls.server;
    }
    builder.AddListeningPort(address, creds, &port);
  }
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || (!unix_socket && port == 0)) {
    return unavailable("control API: cannot listen on " + address);
  }
  server->target_ = address;
  if (unix_socket) {
    // gRPC would create the socket with the umask's mode and admit anyone who can open it;
    // our listener makes it 0600 in a 0700 directory and checks each caller's uid.
    const std::filesystem::path socket = address.substr(std::string_view("unix:").size());
    NODUS_RETURN_IF_ERROR(make_private_dir(socket.parent_path()));
    auto warn = options.warn;
    NODUS_ASSIGN_OR_RETURN(
        server->listener_,
        UnixControlListener::open(
            socket, *server->server_, default_control_uids(), [warn](uid_t uid, pid_t pid) {
              if (!warn) return;
              warn("control API: refused a connection from uid " + std::to_string(uid) + " (pid " +
                   std::to_string(pid) + "): only root and the supervisor's user may use it");
            }));
  } else {
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
  if (listener_) listener_->stop();  // no new connections while the server drains
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }
}

int probe_http(const std::string& host, uint16_t port, const std::string& path, int timeout_ms) {
  const auto addr = numeric_socket_address(host, port);
  if (!addr) return 0;
  const std::string h = host == "localhost" ? "127.0.0.1" : host;
  const int fd = ::socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int code = 0;
  if (::connect(fd, addr->get(), addr->len) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + h + "\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      std::array<char, 256> buf{};
      const ssize_t n = ::read(fd, buf.data(), buf.size() - 1);
      if (n > 0) {
        buf[n] = '\0';
        if (std::sscanf(buf.data(), "HTTP/1.%*d %d", &code) != 1) code = 0;
      }
    }
  }
  ::close(fd);
  return code;
}

}  // namespace nodus::kernel
