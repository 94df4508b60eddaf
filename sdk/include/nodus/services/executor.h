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
//
// What a plugin posts or schedules through ctx.executor() belongs to it: after its stop()
// returns (or its start() fails) none of it runs again, so a timer or task needs no guard
// against a stopped plugin. The kernel does this with a ScopedExecutor per plugin (below),
// which a test over fakes can use the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

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

// One owner's view of an executor: the tasks and timers given to it end when it is closed.
// The kernel hands each plugin one as PluginContext::executor() and closes it after the
// plugin's stop() (or a failed start()). A test that drives a plugin over fakes does the same:
//
//   nodus::testing::ManualExecutor exec;
//   nodus::ScopedExecutor scoped(exec);  // what the plugin gets as its executor
//   ...                                  // start the plugin, run it
//   plugin.stop();
//   scoped.close();  // from here on nothing the plugin posted or scheduled runs
//
// close() cancels the view's pending timers, turns its posted tasks that have not started into
// no-ops, and drops later post() and schedule_after() calls (schedule_after() still returns a
// fresh id, which cancel() answers false). A task of the view already running on another
// thread is waited for; close() from inside one of the view's own tasks lets that one finish.
// Every method is safe from any thread. Timer ids are the view's own.
class ScopedExecutor final : public Executor {
 public:
  explicit ScopedExecutor(Executor& inner);
  ~ScopedExecutor() override;  // close()
  ScopedExecutor(const ScopedExecutor&) = delete;
  ScopedExecutor& operator=(const ScopedExecutor&) = delete;

  void post(Task task) override;
  TimerId schedule_after(Duration delay, Task task) override;
  // True when the timer will not run because of this call (it was pending).
  bool cancel(TimerId id) override;
  bool in_executor() const override;

  void close();
  bool closed() const;

 private:
  struct State;  // shared with the tasks in the inner executor, which may outlive the view
  Executor& inner_;
  std::shared_ptr<State> state_;
};

}  // namespace nodus
