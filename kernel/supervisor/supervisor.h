// supervisor/supervisor.h: `nodus up`, many node instances per container, kept alive.
//
// The Supervisor starts each instance as its own `nodus node` process (posix_spawn), watches
// it over a ZeroMQ bus (heartbeats from a thread of the instance's own that also reports its
// executor's lag, so a hung executor is caught, not only a dead PID, while a busy one is not
// restarted for being slow), restarts it per the profile's policy (always /
// on-failure / never, exponential backoff with jitter, a crash-loop breaker), reaps every
// child including orphaned grandchildren (it is a subreaper, or PID 1), forwards SIGTERM,
// SIGINT and SIGHUP, and serves the Control gRPC API for the CLI verbs. All process and
// instance state lives on the thread that calls run(); the API threads post work to it.
//
//   NODUS_ASSIGN_OR_RETURN(auto sup, Supervisor::create(profile, options));  // preflight
//   return sup->run();                                                       // exit code
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "kernel/config/profile.h"
#include "kernel/runtime/http_server.h"
#include "kernel/runtime/logger.h"
#include "kernel/supervisor/instance.h"
#include "kernel/supervisor/policy.h"
#include "nodus/v1/control.pb.h"

namespace nodus::kernel {

struct SupervisorOptions {
  // Overrides the supervisor was given (environment first, then flags). The instances inherit
  // the environment; flag overrides are passed on to them as --set.
  std::vector<ConfigOverride> overrides;
  std::vector<std::filesystem::path> plugin_dirs;  // passed on as --plugin-dir
  // Where the Control API listens: empty for unix:<run_dir>/control.sock, else HOST:PORT.
  std::string control_address;
  // The `nodus` executable the instances run; default: this process's executable.
  std::string nodus_binary;
  // Prefix instance output with "[node] " on the supervisor's stderr (besides the log files).
  bool echo_output = true;
  // Hosts (profile `hosts:`): run only the instances of this host (`nodus up --host`); empty
  // runs those whose host's address is on this machine.
  std::string host;
};

class ControlServer;

class Supervisor {
 public:
  // Exit codes of run(), as `nodus up` returns them.
  static constexpr int kExitOk = 0;
  static constexpr int kExitFailure = 1;   // an essential instance failed for good
  static constexpr int kExitBadInput = 2;  // an instance rejected its configuration at start

  // Checks everything that can be checked before a process starts (run directory and its
  // lock, every local instance's plugins resolved and configured as `nodus config validate`
  // does, ports free, data directories writable, bus and control endpoints), then binds the
  // bus and the control API. On error nothing is left running and no instance was spawned.
  static Result<std::unique_ptr<Supervisor>> create(Profile profile, SupervisorOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the instances and supervises them until `nodus down`, SIGTERM/SIGINT or the
  // failure of an essential instance; returns the exit code.
  int run();

  // Thread-safe entry points for the Control API: each runs on the supervisor thread.
  Result<nodus::v1::StatusReply> status();
  // Scaling with consensus membership changes, step by step (scale.cc). Runs on the calling
  // (control) thread; returns once every step is done, or with the step that failed.
  Result<nodus::v1::ScaleReply> scale(uint32_t instances);
  Status restart(uint32_t index);
  Status down();
  // status() plus each running instance's plugin status sections, asked in parallel with a
  // bound (commands.cc). Runs on the calling (control) thread.
  Result<nodus::v1::StatusReply> status_with_plugins();
  // A plugin command routed to its instances (commands.cc): one result per instance, each
  // bounded by the request's deadline. Runs on the calling (control) thread.
  Result<nodus::v1::CommandReply> command(const nodus::v1::CommandRequest& request);
  // The plugin commands of the running instances, for `nodus help`.
  Result<nodus::v1::CommandsReply> commands();
  // Moves the leader role off the current leader (to `to`, or any voter) through the
  // consensus plugin's "failover" command; what `nodus scale` does before removing the leader.
  // Returns the instance that leads now.
  Result<uint32_t> failover(std::optional<uint32_t> to);

  const Profile& profile() const { return profile_; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Bus;

  Supervisor(Profile profile, SupervisorOptions options, SupervisorPolicy policy);
  Status open_run_dir();
  // The aggregate /metrics on supervisor.metrics_port (when set).
  Status serve_aggregate_metrics();
  Status install_signals();

  // The loop and what it dispatches (supervisor.cc).
  void loop_once();
  Clock::duration next_wakeup(Clock::time_point now) const;
  void handle_signals();
  void run_posted();
  Status post_and_wait(std::function<void()> task);
  void begin_shutdown(int exit_code, const std::string& why);

  // Instances (instances.cc).
  Instance& add_instance(uint32_t index);
  Status spawn(Instance& inst);
  void request_stop(Instance& inst, AfterExit after);
  void reap_children();
  void on_exit(Instance& inst, int wait_status);
  void on_death(Instance& inst, bool failed, const std::string& why);
  void mark_failed(Instance& inst, const std::string& why, int exit_code_if_essential);
  void drain_bus();
  void drain_output(Instance& inst, bool flush);
  void check_deadlines(Clock::time_point now);
  void set_state(Instance& inst, InstanceState state);
  bool any_alive() const;
  nodus::v1::InstanceStatus describe(const Instance& inst) const;
  Status apply_scale(uint32_t target, nodus::v1::ScaleReply& reply);
  // Membership steps of `nodus scale` (scale.cc), on the control thread.
  Result<nodus::v1::MembershipReply> membership_call(const nodus::v1::InstanceStatus& inst,
                                                     const nodus::v1::MembershipRequest& req);
  Result<nodus::v1::MembershipReply> leader_call(nodus::v1::MembershipRequest::Op op, uint32_t peer,
                                                 uint32_t instances);
  Status wait_caught_up(uint32_t index, uint64_t commit, uint32_t instances);
  // One Peer.Call on an instance's peer endpoint (commands.cc). With TLS, the request presents
  // that instance's own certificate (`as_instance`) or the profile's base files.
  Result<std::string> instance_call(const nodus::v1::InstanceStatus& inst, std::string_view method,
                                    const std::string& payload, std::chrono::milliseconds deadline,
                                    bool as_instance = true);
  Result<nodus::v1::AdminCallReply> admin_call(const nodus::v1::InstanceStatus& inst,
                                               const nodus::v1::AdminCallRequest& request,
                                               std::chrono::milliseconds deadline);
  Status settle_leader(nodus::v1::CommandResult& result);
  std::vector<std::string> instance_argv(const Instance& inst) const;
  std::vector<std::string> instance_env(const Instance& inst) const;

  Profile profile_;
  SupervisorOptions options_;
  SupervisorPolicy policy_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  std::filesystem::path run_dir_;
  std::filesystem::path log_dir_;
  std::shared_ptr<LogSink> sink_;
  std::unique_ptr<ComponentLogger> log_;
  UniqueFd lock_fd_;
  // Set once we hold the run directory's lock: only then are its sockets and control.addr
  // ours to remove. A refused start (another supervisor holds the lock) must touch nothing.
  bool owns_run_dir_ = false;
  UniqueFd signal_fd_;
  UniqueFd wake_fd_;
  std::unique_ptr<Bus> bus_;
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<HttpServer> metrics_http_;
  std::map<uint32_t, std::unique_ptr<Instance>> instances_;
  uint32_t target_instances_ = 0;
  // Hosts (profile `hosts:`): the hosts whose instances run under this supervisor.
  std::set<std::string> local_hosts_;
  bool runs_here(uint32_t index) const { return local_hosts_.count(profile_.host_of(index).name); }
  bool starting_up_ = true;  // no instance has been ready yet since `up`
  bool shutting_down_ = false;
  bool done_ = false;
  int exit_code_ = kExitOk;
  Clock::time_point shutdown_deadline_{};

  std::mutex posted_mu_;
  std::deque<std::function<void()>> posted_;  // guarded by posted_mu_
  bool closed_ = false;                       // guarded by posted_mu_
};

}  // namespace nodus::kernel
