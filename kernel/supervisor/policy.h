// supervisor/policy.h: the profile's `supervisor:` section as typed values, and the two pure
// pieces of restart policy: exponential backoff with jitter and the crash-loop breaker.
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

// Delay before restart attempt `attempt` (1-based): initial * 2^(attempt-1), capped at max,
// then "equal jitter": uniformly in [d/2, d], so that instances that died together do not
// restart in lockstep, while the delay never drops below half the nominal one.
class Backoff {
 public:
  Backoff(uint32_t initial_ms, uint32_t max_ms) : initial_ms_(initial_ms), max_ms_(max_ms) {}
  uint32_t nominal_ms(uint32_t attempt) const;
  uint32_t delay_ms(uint32_t attempt, std::mt19937_64& rng) const;

 private:
  uint32_t initial_ms_;
  uint32_t max_ms_;
};

// Trips when `deaths` deaths fall within `window_s` seconds. Bounded: it keeps at most
// `deaths` timestamps.
class CrashLoopBreaker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  CrashLoopBreaker(uint32_t deaths, uint32_t window_s) : deaths_(deaths), window_s_(window_s) {}
  // Records one death; true when this one trips the breaker.
  bool record_death(TimePoint now);
  void reset() { times_.clear(); }
  size_t recent() const { return times_.size(); }

 private:
  uint32_t deaths_;
  uint32_t window_s_;
  std::deque<TimePoint> times_;
};

}  // namespace nodus::kernel
