// nodus/services/clock.h: time as plugins see it.
//
// Plugins never read the system clock directly; they ask the Clock they were given. In a real
// node it is the monotonic clock; under the simulation harness it is simulated time, which is
// what makes timing-dependent plugins reproducible from a seed.
//
//   nodus::TimePoint started = ctx.clock().now();
//   ...
//   auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
//       ctx.clock().now() - started).count();
#pragma once

#include <chrono>
#include <cstdint>

namespace nodus {

using Duration = std::chrono::nanoseconds;
// A point on the node's monotonic timeline (arbitrary epoch).
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time; never goes backwards within one process.
  virtual TimePoint now() const = 0;
  // Wall-clock time in nanoseconds since the Unix epoch, for timestamps shown to people
  // and written into records. Never use it to measure intervals.
  virtual int64_t wall_time_ns() const = 0;
};

}  // namespace nodus
