#include "kernel/supervisor/control_client.h"

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kernel/config/profile.h"
#include "kernel/supervisor/control_grpc.h"
#include "kernel/supervisor/preflight.h"
#include "kernel/transport/tls_credentials.h"

namespace nodus::kernel {
namespace fs = std::filesystem;

namespace {

// Bound on one Control call (Health probes each instance for up to 1 s, in sequence).
constexpr std::chrono::seconds kCallTimeout{30};
// `nodus scale` waits for each new instance to catch up, one after the other.
constexpr std::chrono::seconds kScaleTimeout{300};
// A plugin command: the instances run in parallel, each bounded by at most 60 s, plus up to
// 3 s for a leadership change to show in the instances' reports.
constexpr std::chrono::seconds kCommandTimeout{70};

Status from_grpc(const grpc::Status& st, const std::string& target) {
  if (st.ok()) return {};
  if (st.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return unavailable("control API " + target + ": " + st.error_message());
  }
  return {static_cast<StatusCode>(st.error_code()), st.error_message()};
}

// Plaintext for the unix socket and loopback TCP; mTLS with the operator's certificate from
// NODUS_CONTROL_CA, NODUS_CONTROL_CERT and NODUS_CONTROL_KEY when they are set (a TCP
// control address off loopback, docs/security.md).
Result<std::shared_ptr<grpc::ChannelCredentials>> control_credentials(const std::string& target) {
  const std::array<const char*, 3> names = {"NODUS_CONTROL_CA", "NODUS_CONTROL_CERT",
                                            "NODUS_CONTROL_KEY"};
  std::array<std::string, 3> files;
  int set = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    const char* v = std::getenv(names[i]);
    if (v != nullptr && *v != '\0') {
      files[i] = v;
      ++set;
    }
  }
  if (set == 0 || target.rfind("unix:", 0) == 0) return grpc::InsecureChannelCredentials();
  if (set != 3) {
    return invalid_argument(
        "NODUS_CONTROL_CA, NODUS_CONTROL_CERT and NODUS_CONTROL_KEY must be set together");
  }
  NODUS_ASSIGN_OR_RETURN(TransportCredentials tls,
                         make_tls_credentials({files[0], files[1], files[2], true}));
  return tls.channel;
}

}  // namespace

Result<fs::path> find_run_dir(const std::string& run_dir_flag, const std::string& profile_file) {
  if (!run_dir_flag.empty()) return fs::path(run_dir_flag);
  if (const char* env = std::getenv("NODUS_RUN_DIR"); env != nullptr && *env != '\0') {
    return fs::path(env);
  }
  if (!profile_file.empty()) {
    NODUS_ASSIGN_OR_RETURN(Profile p, load_profile(profile_file));
    return p.run_dir;
  }
  std::vector<fs::path> running;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(".nodus", ec)) {
    const fs::path run = entry.path() / "run";
    if (running_supervisor(run) != 0) running.push_back(run);
  }
  if (running.empty()) {
    return unavailable(
        "no cluster is running (no supervisor holds a .nodus/*/run directory here;"
        " pass --run-dir DIR or --profile FILE)");
  }
  if (running.size() > 1) {
    return failed_precondition("several clusters are running (" + running[0].string() + ", " +
                               running[1].string() + ", ...); pass --run-dir DIR");
  }
  return running[0];
}

struct ControlClient::Impl {
  std::unique_ptr<nodus::v1::Control::Stub> stub;

  std::unique_ptr<grpc::ClientContext> context(std::chrono::seconds timeout = kCallTimeout) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
  }
};

ControlClient::ControlClient(std::unique_ptr<Impl> impl, std::string target)
    : impl_(std::move(impl)), target_(std::move(target)) {}
ControlClient::~ControlClient() = default;

Result<std::unique_ptr<ControlClient>> ControlClient::connect(const fs::path& run_dir) {
  if (running_supervisor(run_dir) == 0) {
    return unavailable("no cluster is running in " + run_dir.string() +
                       " (start one with `nodus up --profile FILE`)");
  }
  std::ifstream in(run_dir / "control.addr");
  std::string target;
  if (!std::getline(in, target) || target.empty()) {
    return unavailable("the cluster in " + run_dir.string() +
                       " is starting or stopping (no control.addr yet); try again");
  }
  NODUS_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ChannelCredentials> creds,
                         control_credentials(target));
  // A supervisor listening on every address is reached on loopback, which its certificate names.
  for (const char* any : {"0.0.0.0:", "[::]:"}) {
    if (target.rfind(any, 0) == 0) {
      target = (any[0] == '[' ? "[::1]:" : "127.0.0.1:") + target.substr(std::strlen(any));
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->stub = nodus::v1::Control::NewStub(grpc::CreateChannel(target, creds));
  return std::unique_ptr<ControlClient>(new ControlClient(std::move(impl), target));
}

Result<nodus::v1::StatusReply> ControlClient::status(bool plugins) {
  nodus::v1::StatusRequest req;
  req.set_plugins(plugins);
  nodus::v1::StatusReply reply;
  NODUS_RETURN_IF_ERROR(
      from_grpc(impl_->stub->Status(impl_->context().get(), req, &reply), target_));
  return reply;
}

Result<nodus::v1::HealthReply> ControlClient::health() {
  nodus::v1::HealthReply reply;
  NODUS_RETURN_IF_ERROR(
      from_grpc(impl_->stub->Health(impl_->context().get(), {}, &reply), target_));
  return reply;
}

Result<nodus::v1::ScaleReply> ControlClient::scale(uint32_t instances) {
  nodus::v1::ScaleRequest req;
  req.set_instances(instances);
  nodus::v1::ScaleReply reply;
  NODUS_RETURN_IF_ERROR(
      from_grpc(impl_->stub->Scale(impl_->context(kScaleTimeout).get(), req, &reply), target_));
  return reply;
}

Status ControlClient::restart(uint32_t index) {
  nodus::v1::RestartRequest req;
  req.set_index(index);
  nodus::v1::RestartReply reply;
  return from_grpc(impl_->stub->Restart(impl_->context().get(), req, &reply), target_);
}

Status ControlClient::down() {
  nodus::v1::DownReply reply;
  return from_grpc(impl_->stub->Down(impl_->context().get(), {}, &reply), target_);
}

Result<nodus::v1::CommandReply> ControlClient::command(const nodus::v1::CommandRequest& request) {
  nodus::v1::CommandReply reply;
  // The supervisor bounds each instance by the request's deadline; this one covers them all,
  // plus a leadership change settling.
  NODUS_RETURN_IF_ERROR(from_grpc(
      impl_->stub->Command(impl_->context(kCommandTimeout).get(), request, &reply), target_));
  return reply;
}

Result<nodus::v1::CommandsReply> ControlClient::commands() {
  nodus::v1::CommandsReply reply;
  NODUS_RETURN_IF_ERROR(
      from_grpc(impl_->stub->Commands(impl_->context().get(), {}, &reply), target_));
  return reply;
}

}  // namespace nodus::kernel
