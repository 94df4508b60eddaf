// nodus/services/processes.h: external programs a plugin starts, stops and watches (an Ethereum
// client, a helper daemon).
//
// The kernel starts the program with the plugin's argv, environment and working directory. It
// inherits the instance's cgroup (the instance's isolation limits cover it), leads its own
// process group, and is killed when the instance dies, even by SIGKILL. Its stdout and stderr go to
// a log file rotated by size. stop() sends SIGTERM to the program's process group and SIGKILL after
// the grace.
//
// The exit callback runs on the executor exactly once per start(), and only once the program
// is confirmed gone (reaped, its process group killed): a resource that must never be used by
// two programs at once (a validator key) may move to another node only then. Under a restart
// policy the kernel restarts a program that ended by itself and the callback waits for the
// final end: stop(), an exit the policy does not restart, or the crash-loop limit.
//
// Everything a plugin started ends with its stop(): programs still running then are stopped by
// the kernel (SIGTERM, the grace, SIGKILL) and their callbacks no longer run.
//
//   nodus::ProcessSpec spec;
//   spec.name = "geth";
//   spec.argv = {"/usr/bin/geth", "--datadir", dir.string()};
//   spec.env = {{"GOMAXPROCS", "2"}};
//   spec.restart = nodus::RestartPolicy::kOnFailure;
//   NODUS_ASSIGN_OR_RETURN(geth_, ctx.processes().start(spec, [this](const ProcessExit& e) {
//     log.info("geth ended: " + e.describe());   // gone: the key may move now
//   }));
//   ...
//   NODUS_RETURN_IF_ERROR(ctx.processes().stop(geth_));
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nodus/status.h"

namespace nodus {

// Which ends of a program the kernel answers with a new start. stop() is never restarted.
enum class RestartPolicy : uint8_t {
  kNever,      // every end is final
  kOnFailure,  // restart after a non-zero exit or a signal; exit 0 is final
  kAlways,     // restart after every end that stop() did not ask for
};

struct ProcessSpec {
  // Unique among this plugin's programs; names the program in errors, logs and the default
  // log file. Letters, digits, '-', '_' and '.'.
  std::string name;
  // argv[0] is the program: an absolute path, a path relative to working_dir, or a bare name
  // looked up in PATH (the program's environment, else the instance's).
  std::vector<std::string> argv;
  // Added to (and overriding) the instance's environment; with inherit_env false, the whole
  // environment.
  std::map<std::string, std::string> env;
  bool inherit_env = true;
  // Empty: the plugin's data directory (<instance data dir>/<plugin name>), created if needed.
  std::filesystem::path working_dir;
  // stdout+stderr. Empty: <plugin data dir>/<name>.log. Rotated past log_size_bytes_max to
  // FILE.1 ... FILE.<log_files_kept>.
  std::filesystem::path log_file;
  uint64_t log_size_bytes_max = 10 * 1024 * 1024;
  uint32_t log_files_kept = 3;
  // Between SIGTERM and SIGKILL, for stop() and for the plugin's stop(). At most 60 s.
  std::chrono::milliseconds stop_grace{10000};
  RestartPolicy restart = RestartPolicy::kNever;
  // Delay before restart n: backoff_initial * 2^(n-1), capped at backoff_max, jittered to
  // [d/2, d]. A run that lasted at least backoff_max resets n to 1.
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
  // The crash-loop limit: this many ends within crash_loop_window make the last one final.
  uint32_t crash_loop_ends = 5;
  std::chrono::seconds crash_loop_window{60};
};

using ProcessId = uint64_t;

// How a program's last run ended. Exactly one of exit_code / signal is set, unless the
// program could not be started again (then `error` says why).
struct ProcessExit {
  ProcessId id = 0;
  std::string name;
  int64_t pid = 0;               // of the last run; 0 if it never ran
  std::optional<int> exit_code;  // it exited
  std::optional<int> signal;     // it was killed by this signal
  bool stopped = false;          // ended by stop() or the plugin's stop()
  bool crash_loop = false;       // the restart policy gave up (crash_loop_ends reached)
  uint32_t restarts = 0;         // runs started by the restart policy
  std::string error;             // a restart that could not spawn the program

  // "geth (pid 4242): exit 1", "geth (pid 4242): signal 9, stopped".
  std::string describe() const;
};

using ProcessExitCallback = std::function<void(const ProcessExit&)>;

enum class ProcessState : uint8_t {
  kRunning,   // a run is alive
  kStopping,  // stop() sent SIGTERM; SIGKILL follows after the grace
  kBackoff,   // between runs, waiting for the restart delay
};

struct ProcessInfo {
  ProcessId id = 0;
  std::string name;
  ProcessState state = ProcessState::kRunning;
  int64_t pid = 0;  // 0 in kBackoff
  uint32_t restarts = 0;
  std::filesystem::path log_file;
};

// Call from the executor: like the plugin's other state, a program's bookkeeping is the
// executor's, and every callback and restart happens there.
class Processes {
 public:
  // Programs one plugin may have at a time (running, stopping or in backoff).
  static constexpr size_t kProcessesPerPluginMax = 32;

  virtual ~Processes() = default;
  // Starts a program. Checked before anything starts, each a Status naming the thing: a
  // program that does not exist or is not executable (NOT_FOUND / PERMISSION_DENIED with its
  // path), an empty or taken name, a working directory that does not exist, a log file that
  // cannot be opened, a grace or limit out of range (INVALID_ARGUMENT), and the per-plugin
  // bound (RESOURCE_EXHAUSTED). `on_exit` runs on the executor once, after the final end.
  virtual Result<ProcessId> start(ProcessSpec spec, ProcessExitCallback on_exit) = 0;
  // SIGTERM to the program's process group, SIGKILL after its stop_grace; a program waiting
  // for a restart is not started again. The exit callback follows once it is gone. Stopping a
  // program already stopping is OK; an unknown id (or one whose callback ran) is NOT_FOUND.
  virtual Status stop(ProcessId id) = 0;
  // A program of this plugin whose exit callback has not run yet, or nullopt.
  virtual std::optional<ProcessInfo> info(ProcessId id) const = 0;
  virtual std::vector<ProcessInfo> list() const = 0;
};

// The checks of a spec that need no filesystem: name, argv, ranges. Every implementation of
// Processes (the kernel's and the fake) runs them first. INVALID_ARGUMENT naming the field.
Status validate_process_spec(const ProcessSpec& spec);

}  // namespace nodus
