// supervisor/control_access.h: who may reach the Control API (stop, scale, fail over).
//
// The Control API can stop the cluster, so it is closed by default:
//  - the unix socket lives in a run directory of mode 0700, the socket itself is 0600, and
//    every connection's uid (SO_PEERCRED) must be root's or the supervisor's own; anyone else
//    is disconnected before gRPC reads a byte;
//  - a TCP control address must be a loopback address, unless mTLS is configured: then the
//    client must present a certificate of the cluster's CA that names the operator
//    ("nodus://<profile>/operator", made by `nodus certs init`).
//
//   NODUS_RETURN_IF_ERROR(make_private_dir(run_dir));
//   auto server = grpc::ServerBuilder().RegisterService(&service).BuildAndStart();
//   NODUS_ASSIGN_OR_RETURN(auto listener,
//       UnixControlListener::open(run_dir / "control.sock", *server, default_control_uids()));
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "nodus/status.h"

namespace grpc {
class AuthContext;
class Server;
}  // namespace grpc

namespace nodus::kernel {

// Creates `dir` if needed and makes it 0700. Refuses a directory another user owns: its owner
// could replace the socket. PERMISSION_DENIED names the directory.
Status make_private_dir(const std::filesystem::path& dir);

// root and the effective uid of this process.
std::vector<uid_t> default_control_uids();

// OK for a loopback "HOST:PORT" (127.0.0.0/8, ::1, localhost); otherwise, without mTLS,
// INVALID_ARGUMENT naming the address.
Status check_control_address(const std::string& address, bool mtls);

// The URI subjectAltName that an operator's certificate carries.
std::string operator_uri(const std::string& cluster);
// Whether an mTLS caller's certificate names the operator of `cluster`.
bool is_operator(const grpc::AuthContext& auth, const std::string& cluster);

// Serves a gRPC server on a unix socket, admitting only connections whose peer uid is in
// `allowed_uids`. The accept loop runs on its own thread; refusals are counted and reported
// through `on_refused` (from that thread).
class UnixControlListener {
 public:
  using RefusedCallback = std::function<void(uid_t uid, pid_t pid)>;
  static Result<std::unique_ptr<UnixControlListener>> open(const std::filesystem::path& socket,
                                                           grpc::Server& server,
                                                           std::vector<uid_t> allowed_uids,
                                                           RefusedCallback on_refused = {});
  ~UnixControlListener();  // stop()
  UnixControlListener(const UnixControlListener&) = delete;
  UnixControlListener& operator=(const UnixControlListener&) = delete;

  // Stops accepting and removes the socket file. Idempotent.
  void stop();
  uint64_t refused() const { return refused_.load(); }

 private:
  UnixControlListener(grpc::Server& server, std::vector<uid_t> allowed_uids,
                      RefusedCallback on_refused);
  void run();

  grpc::Server& server_;
  const std::vector<uid_t> allowed_uids_;
  const RefusedCallback on_refused_;
  std::filesystem::path socket_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() wakes the accept loop
  std::thread thread_;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace nodus::kernel
