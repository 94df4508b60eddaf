// process/backoff.h: the two pure pieces of a restart policy, shared by the supervisor (node
// instances) and a node's external programs (kernel/process/process_service.h): exponential
// backoff with jitter and the crash-loop breaker.
//
//   Backoff backoff(100, 5000);
//   uint32_t delay_ms = backoff.delay_ms(/*attempt=*/3, rng);   // ~400 ms, jittered
//   CrashLoopBreaker breaker(/*deaths=*/5, /*window_s=*/60);
//   if (breaker.record_death(now)) give_up();
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>

namespace nodus::kernel {

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
