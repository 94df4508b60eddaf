// supervisor/instance.h: what the supervisor knows about one node instance.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "kernel/process/rotating_log.h"
#include "kernel/runtime/file_util.h"
#include "kernel/supervisor/policy.h"

namespace nodus::kernel {

// The states `nodus status` shows. A stable interface: scripts match these names.
enum class InstanceState {
  kStarting,   // spawned, not yet ready
  kReady,      // heartbeats arrive and report ready
  kUnhealthy,  // heartbeats missed (being stopped), or reporting not ready after being ready
  kBackoff,    // dead, waiting out the restart delay
  kFailed,     // dead for good: crash loop, bad configuration, or no restart for a failure
  kStopping,   // asked to stop (restart, scale down, down); SIGKILL follows stop_timeout_ms
  kStopped,    // not running and not meant to be
};

std::string_view instance_state_name(InstanceState state);

// What to do once the process being stopped has exited.
enum class AfterExit { kDeath, kRestart, kRemove, kStop };

struct Instance {
  using Clock = std::chrono::steady_clock;

  Instance(uint32_t index_in, const SupervisorPolicy& policy)
      : index(index_in), breaker(policy.crash_loop_deaths, policy.crash_loop_window_s) {}

  uint32_t index;
  std::string node_name;
  std::map<std::string, uint16_t> ports;
  InstanceState state = InstanceState::kStopped;
  pid_t pid = 0;
  UniqueFd output;           // the child's stdout+stderr
  std::string partial_line;  // output not yet ended by a newline
  std::unique_ptr<RotatingLog> log;

  Clock::time_point started_at{};
  Clock::time_point last_heartbeat{};
  bool heartbeat_seen = false;
  uint64_t executor_lag_ms = 0;  // from the last heartbeat
  bool ready = false;
  bool ever_ready = false;  // this process reported ready at least once
  Clock::time_point ready_since{};
  std::string role;

  uint32_t restarts = 0;  // respawns since the first start
  uint32_t attempt = 0;   // consecutive failed runs, for the backoff
  CrashLoopBreaker breaker;
  Clock::time_point restart_at{};  // in kBackoff
  Clock::time_point kill_at{};     // in kStopping / kUnhealthy: SIGKILL then
  AfterExit after_exit = AfterExit::kDeath;
  bool stop_signalled = false;
  std::string last_failure;
  // Added by `nodus scale` (started with --join; see scale.cc).
  bool joining = false;

  bool alive() const { return pid > 0; }
};

}  // namespace nodus::kernel
