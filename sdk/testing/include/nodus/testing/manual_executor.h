// nodus/testing/manual_executor.h: an executor and clock that only move when the test says.
//
// Tasks and timers run on the thread that drives the executor (the one that calls
// run_until_idle() or advance(); at first, the one that built it), in time order (ties in
// scheduling order), so a plugin test is deterministic: nothing happens between two test
// statements. As Executor promises, post() is safe from any thread: a task posted from another
// thread (a plugin's own I/O thread) waits in an inbox and joins the queue, in arrival order,
// at the driver's next run_until_idle() or advance(). in_executor() is true on the driving
// thread only.
//
//   nodus::testing::ManualExecutor exec;
//   exec.schedule_after(std::chrono::seconds(1), [&] { fired = true; });
//   exec.advance(std::chrono::milliseconds(999));  // fired == false
//   exec.advance(std::chrono::milliseconds(1));    // fired == true
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/services/executor.h"

namespace nodus::testing {

class ManualExecutor final : public Executor, public Clock {
 public:
  // Executor. post() may be called from any thread; schedule_after() and cancel() too, but only
  // calls from the driving thread keep a run deterministic.
  void post(Task task) override;
  TimerId schedule_after(Duration delay, Task task) override;
  bool cancel(TimerId id) override;
  bool in_executor() const override;
  // Clock
  TimePoint now() const override;
  int64_t wall_time_ns() const override;

  // Runs every task that is due now, including tasks those tasks post (and tasks other threads
  // posted). Returns how many ran. Bounded: stops after `max_tasks` to catch a plugin that
  // posts itself forever. The calling thread becomes the driving thread.
  size_t run_until_idle(size_t max_tasks = 1'000'000);
  // Moves time forward by `delta`, running each timer at its own due time. The calling thread
  // becomes the driving thread.
  size_t advance(Duration delta);
  // Number of tasks and timers not yet run, including posts from other threads.
  size_t pending() const;
  // Drops every task and timer not yet run (posts from other threads included) without running
  // it; time stays where it is. What a restarted process starts with: TestNode::restart().
  void discard_pending();
  // Blocks until at least `n` tasks and timers are pending (posted by other threads, say a
  // storage's background thread), or `timeout` passes; false then. Runs nothing.
  bool wait_for_pending(size_t n, std::chrono::steady_clock::duration timeout);
  // Wall clock = this epoch + elapsed simulated time.
  void set_wall_epoch_ns(int64_t ns);

 private:
  struct Key {
    TimePoint due;
    uint64_t seq;
    bool operator<(const Key& o) const { return due != o.due ? due < o.due : seq < o.seq; }
  };
  using Queue = std::map<Key, std::pair<TimerId, Task>>;

  // Moves the inbox into the queue at now_, in arrival order. Caller holds mu_.
  void drain_inbox_locked();
  // Takes the first task due at or before `limit`, if any (inbox drained first).
  bool pop_due(TimePoint limit, Task& task);

  // The thread that drives the executor; only it is "in" the executor.
  std::atomic<std::thread::id> driver_{std::this_thread::get_id()};
  mutable std::mutex mu_;           // guards everything below
  std::condition_variable queued_;  // signalled on every post and timer
  Queue queue_;
  std::map<TimerId, Key> timers_;
  std::vector<Task> inbox_;  // posts from threads other than the driver
  TimePoint now_{};
  uint64_t seq_ = 0;
  TimerId next_timer_ = 1;
  int64_t wall_epoch_ns_ = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
};

}  // namespace nodus::testing
