// supervisor/policy.h: the profile's `supervisor:` section as typed values. The two pure pieces
// of restart policy (backoff with jitter, the crash-loop breaker) are kernel/process/backoff.h,
// shared with the plugins' external programs.
//
//   NODUS_ASSIGN_OR_RETURN(SupervisorPolicy p, parse_supervisor_policy(profile.supervisor));
//   Backoff backoff(p.backoff_initial_ms, p.backoff_max_ms);
//   uint32_t delay_ms = backoff.delay_ms(/*attempt=*/3, rng);   // ~400 ms, jittered
//   CrashLoopBreaker breaker(p.crash_loop_deaths, p.crash_loop_window_s);
//   if (breaker.record_death(now)) mark_failed();
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string_view>

#include "kernel/process/backoff.h"
#include "nodus/config.h"
#include "nodus/status.h"

namespace nodus::kernel {

enum class RestartMode { kAlways, kOnFailure, kNever };

std::string_view restart_mode_name(RestartMode mode);

struct SupervisorPolicy {
  RestartMode restart = RestartMode::kOnFailure;
  uint32_t backoff_initial_ms = 100;
  uint32_t backoff_max_ms = 5000;
  uint32_t stop_timeout_ms = 10000;
  uint32_t heartbeat_ms = 1000;
  // Missed heartbeats: 0 means the default, max(10 * heartbeat_ms, 5000). Heartbeats come
  // from a thread that does nothing else, so missing them means stopped or dead; the margin
  // keeps a starved 2-core machine from restarting its own members.
  uint32_t heartbeat_timeout_ms = 0;
  // Hung: the instance's executor has had a task waiting this long without running it.
  uint32_t hang_timeout_ms = 30000;
  uint32_t crash_loop_deaths = 5;
  uint32_t crash_loop_window_s = 60;
  bool essential = false;
  uint32_t metrics_port = 0;  // aggregate /metrics of all instances; 0 = not served

  // An instance that sent no heartbeat for this long is unhealthy.
  uint32_t heartbeat_deadline_ms() const {
    if (heartbeat_timeout_ms != 0) return heartbeat_timeout_ms;
    return std::max<uint32_t>(10 * heartbeat_ms, 5000);
  }
  // Should a process that exited this way be started again?
  bool should_restart(bool failed) const {
    return restart == RestartMode::kAlways || (restart == RestartMode::kOnFailure && failed);
  }
};

// Reads the section (null means every default). The kernel already checked its structure and
// ranges; this re-checks what it relies on and names the key on error.
nodus::Result<SupervisorPolicy> parse_supervisor_policy(const nodus::ConfigNode& section);

}  // namespace nodus::kernel
