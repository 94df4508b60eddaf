// nodus/services/executor.h: where plugin code runs, and timers.
//
// Each node instance has one serial executor: every task and timer callback of every plugin
// runs on it, one at a time, so plugins need no locks for state they only touch from
// callbacks. Code on other threads (a data-path plugin's own I/O threads) hands work over
// with post().
//
//   TimerId t = ctx.executor().schedule_after(std::chrono::milliseconds(100), [this] {
//     tick();
//   });
//   ctx.executor().cancel(t);
#pragma once

#include <cstdint>
#include <functional>

#include "nodus/services/clock.h"

namespace nodus {

using Task = std::function<void()>;
using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `task` soon on the executor. Safe to call from any thread.
  virtual void post(Task task) = 0;
  // Runs `task` once after `delay`. Returns an id for cancel(); never kNoTimer.
  virtual TimerId schedule_after(Duration delay, Task task) = 0;
  // Cancels a pending timer. Returns false when it already ran or was never scheduled.
  virtual bool cancel(TimerId id) = 0;
  // True when called from the executor's own thread.
  virtual bool in_executor() const = 0;
};

}  // namespace nodus
