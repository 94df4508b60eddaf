#include "nodus/testing/manual_executor.h"

#include <algorithm>
#include <cassert>

namespace nodus::testing {

void ManualExecutor::post(Task task) {
  std::lock_guard lock(mu_);
  if (in_executor()) {
    // The driver's own posts take their place at once, so their order never depends on when
    // another thread's post happened to arrive.
    queue_.emplace(Key{now_, seq_++}, std::make_pair(kNoTimer, std::move(task)));
  } else {
    inbox_.push_back(std::move(task));
  }
  queued_.notify_all();
}

TimerId ManualExecutor::schedule_after(Duration delay, Task task) {
  if (delay < Duration::zero()) delay = Duration::zero();
  std::lock_guard lock(mu_);
  const TimerId id = next_timer_++;
  const Key key{now_ + delay, seq_++};
  queue_.emplace(key, std::make_pair(id, std::move(task)));
  timers_.emplace(id, key);
  queued_.notify_all();
  return id;
}

bool ManualExecutor::cancel(TimerId id) {
  std::lock_guard lock(mu_);
  auto it = timers_.find(id);
  if (it == timers_.end()) return false;
  queue_.erase(it->second);
  timers_.erase(it);
  return true;
}

bool ManualExecutor::in_executor() const {
  return driver_.load(std::memory_order_acquire) == std::this_thread::get_id();
}

TimePoint ManualExecutor::now() const {
  std::lock_guard lock(mu_);
  return now_;
}

int64_t ManualExecutor::wall_time_ns() const {
  std::lock_guard lock(mu_);
  return wall_epoch_ns_ +
         std::chrono::duration_cast<std::chrono::nanoseconds>(now_.time_since_epoch()).count();
}

size_t ManualExecutor::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + inbox_.size();
}

void ManualExecutor::discard_pending() {
  // Destroyed outside the lock: a task's captures may post (or cancel) from their destructors.
  Queue queue;
  std::vector<Task> inbox;
  {
    std::lock_guard lock(mu_);
    queue.swap(queue_);
    inbox.swap(inbox_);
    timers_.clear();
  }
}

bool ManualExecutor::wait_for_pending(size_t n, std::chrono::steady_clock::duration timeout) {
  std::unique_lock lock(mu_);
  return queued_.wait_for(lock, timeout, [&] { return queue_.size() + inbox_.size() >= n; });
}

void ManualExecutor::set_wall_epoch_ns(int64_t ns) {
  std::lock_guard lock(mu_);
  wall_epoch_ns_ = ns;
}

void ManualExecutor::drain_inbox_locked() {
  for (Task& task : inbox_)
    queue_.emplace(Key{now_, seq_++}, std::make_pair(kNoTimer, std::move(task)));
  inbox_.clear();
}

bool ManualExecutor::pop_due(TimePoint limit, Task& task) {
  std::lock_guard lock(mu_);
  drain_inbox_locked();
  if (queue_.empty()) return false;
  auto it = queue_.begin();
  if (it->first.due > limit) return false;
  now_ = std::max(now_, it->first.due);
  const TimerId id = it->second.first;
  task = std::move(it->second.second);
  queue_.erase(it);
  if (id != kNoTimer) timers_.erase(id);
  return true;
}

size_t ManualExecutor::run_until_idle(size_t max_tasks) {
  driver_.store(std::this_thread::get_id(), std::memory_order_release);
  size_t ran = 0;
  Task task;
  // The task runs without the lock: it may post, schedule or cancel.
  while (ran < max_tasks && pop_due(now(), task)) {
    task();
    task = nullptr;
    ++ran;
  }
  return ran;
}

size_t ManualExecutor::advance(Duration delta) {
  assert(delta >= Duration::zero());
  driver_.store(std::this_thread::get_id(), std::memory_order_release);
  const TimePoint target = now() + delta;
  size_t ran = 0;
  Task task;
  // Each timer runs at its own due time: pop_due() moves now_ to it.
  while (pop_due(target, task)) {
    task();
    task = nullptr;
    ++ran;
  }
  std::lock_guard lock(mu_);
  now_ = target;
  return ran;
}

}  // namespace nodus::testing
