// nodus/testing/manual_executor.h: an executor and clock that only move when the test says.
//
// Tasks and timers run on the test's own thread, in time order (ties in scheduling order), so
// a plugin test is deterministic: nothing happens between two test statements.
//
//   nodus::testing::ManualExecutor exec;
//   exec.schedule_after(std::chrono::seconds(1), [&] { fired = true; });
//   exec.advance(std::chrono::milliseconds(999));  // fired == false
//   exec.advance(std::chrono::milliseconds(1));    // fired == true
#pragma once

#include <cstdint>
#include <map>
#include <utility>

#include "nodus/services/clock.h"
#include "nodus/services/executor.h"

namespace nodus::testing {

class ManualExecutor final : public Executor, public Clock {
 public:
  // Executor
  void post(Task task) override;
  TimerId schedule_after(Duration delay, Task task) override;
  bool cancel(TimerId id) override;
  bool in_executor() const override { return true; }
  // Clock
  TimePoint now() const override { return now_; }
  int64_t wall_time_ns() const override;

  // Runs every task that is due now, including tasks those tasks post. Returns how many ran.
  // Bounded: stops after `max_tasks` to catch a plugin that posts itself forever.
  size_t run_until_idle(size_t max_tasks = 1'000'000);
  // Moves time forward by `delta`, running each timer at its own due time.
  size_t advance(Duration delta);
  // Number of tasks and timers not yet run.
  size_t pending() const { return queue_.size(); }
  // Wall clock = this epoch + elapsed simulated time.
  void set_wall_epoch_ns(int64_t ns) { wall_epoch_ns_ = ns; }

 private:
  struct Key {
    TimePoint due;
    uint64_t seq;
    bool operator<(const Key& o) const { return due != o.due ? due < o.due : seq < o.seq; }
  };
  std::map<Key, std::pair<TimerId, Task>> queue_;
  std::map<TimerId, Key> timers_;
  TimePoint now_{};
  uint64_t seq_ = 0;
  TimerId next_timer_ = 1;
  int64_t wall_epoch_ns_ = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
};

}  // namespace nodus::testing
