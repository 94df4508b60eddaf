// supervisor/control_client.h: how the CLI verbs find and call a running supervisor.
//
// `nodus up` writes the Control API's address to <run_dir>/control.addr and holds
// <run_dir>/supervisor.lock while it runs. A verb takes --run-dir, else NODUS_RUN_DIR, else
// the run directory of --profile, else the single .nodus/*/run directory below the working
// directory that has a running supervisor.
// A TCP control address with mTLS needs the operator's certificate: NODUS_CONTROL_CA,
// NODUS_CONTROL_CERT and NODUS_CONTROL_KEY (made by `nodus certs`, docs/security.md).
//
//   NODUS_ASSIGN_OR_RETURN(auto client, ControlClient::connect(find_run_dir(flag, profile)));
//   NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply s, client->status());
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "nodus/status.h"
#include "nodus/v1/control.pb.h"

namespace nodus::kernel {

// The run directory a verb should use; NOT_FOUND / FAILED_PRECONDITION say why none applies.
Result<std::filesystem::path> find_run_dir(const std::string& run_dir_flag,
                                           const std::string& profile_file);

class ControlClient {
 public:
  // UNAVAILABLE "no cluster is running in DIR" when no supervisor holds the run directory.
  static Result<std::unique_ptr<ControlClient>> connect(const std::filesystem::path& run_dir);
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // With `plugins`, each running instance's plugin status sections too.
  Result<nodus::v1::StatusReply> status(bool plugins = false);
  Result<nodus::v1::HealthReply> health();
  Result<nodus::v1::ScaleReply> scale(uint32_t instances);
  Status restart(uint32_t index);
  Status down();
  // A plugin command (nodus/services/admin.h) on the instances it targets.
  Result<nodus::v1::CommandReply> command(const nodus::v1::CommandRequest& request);
  Result<nodus::v1::CommandsReply> commands();
  const std::string& target() const { return target_; }

 private:
  struct Impl;
  explicit ControlClient(std::unique_ptr<Impl> impl, std::string target);
  std::unique_ptr<Impl> impl_;
  std::string target_;
};

}  // namespace nodus::kernel
