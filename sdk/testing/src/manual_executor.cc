#include "nodus/testing/manual_executor.h"

#include <cassert>

namespace nodus::testing {

void ManualExecutor::post(Task task) {
  queue_.emplace(Key{now_, seq_++}, std::make_pair(kNoTimer, std::move(task)));
}

TimerId ManualExecutor::schedule_after(Duration delay, Task task) {
  if (delay < Duration::zero()) delay = Duration::zero();
  const TimerId id = next_timer_++;
  const Key key{now_ + delay, seq_++};
  queue_.emplace(key, std::make_pair(id, std::move(task)));
  timers_.emplace(id, key);
  return id;
}

bool ManualExecutor::cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  queue_.erase(it->second);
  timers_.erase(it);
  return true;
}

int64_t ManualExecutor::wall_time_ns() const {
  return wall_epoch_ns_ +
         std::chrono::duration_cast<std::chrono::nanoseconds>(now_.time_since_epoch()).count();
}

size_t ManualExecutor::run_until_idle(size_t max_tasks) {
  size_t ran = 0;
  while (!queue_.empty() && ran < max_tasks) {
    auto it = queue_.begin();
    if (it->first.due > now_) break;
    auto [id, task] = std::move(it->second);
    queue_.erase(it);
    if (id != kNoTimer) timers_.erase(id);
    task();
    ++ran;
  }
  return ran;
}

size_t ManualExecutor::advance(Duration delta) {
  assert(delta >= Duration::zero());
  const TimePoint target = now_ + delta;
  size_t ran = run_until_idle();
  while (!queue_.empty() && queue_.begin()->first.due <= target) {
    now_ = queue_.begin()->first.due;
    ran += run_until_idle();
  }
  now_ = target;
  return ran + run_until_idle();
}

}  // namespace nodus::testing
