// ScopedExecutor (nodus/services/executor.h): one owner's tasks and timers, ended at close().
#include "nodus/services/executor.h"

#include <map>
#include <mutex>
#include <utility>

#include "callback_gate.h"

namespace nodus {

struct ScopedExecutor::State {
  internal::CallbackGate gate;
  std::mutex mu;  // guards the fields below
  TimerId next_id = 1;
  std::map<TimerId, TimerId> timers;  // the view's pending timers: view id -> inner id
};

ScopedExecutor::ScopedExecutor(Executor& inner)
    : inner_(inner), state_(std::make_shared<State>()) {}

ScopedExecutor::~ScopedExecutor() {
  close();
}

void ScopedExecutor::post(Task task) {
  if (state_->gate.closed()) return;  // dropped here, so its captures go at once
  inner_.post([state = state_, task = std::move(task)] { internal::run_gated(state->gate, task); });
}

TimerId ScopedExecutor::schedule_after(Duration delay, Task task) {
  // The lock is held across the inner call: a timer that fires at once (on another thread)
  // waits in its wrapper until its id is recorded, then finds and removes it.
  std::lock_guard<std::mutex> lock(state_->mu);
  const TimerId id = state_->next_id++;
  if (state_->gate.closed()) return id;  // never runs; cancel() answers false
  const TimerId inner_id =
      inner_.schedule_after(delay, [state = state_, id, task = std::move(task)] {
        {
          std::lock_guard<std::mutex> fired(state->mu);
          // Absent: cancelled (or the view closed) after the inner timer had fired.
          if (state->timers.erase(id) == 0) return;
        }
        internal::run_gated(state->gate, task);
      });
  state_->timers.emplace(id, inner_id);
  return id;
}

bool ScopedExecutor::cancel(TimerId id) {
  TimerId inner_id = kNoTimer;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->timers.find(id);
    if (it == state_->timers.end()) return false;
    inner_id = it->second;
    state_->timers.erase(it);
  }
  // Its wrapper no longer finds the id, so it cannot run even if the inner timer fires now;
  // cancelling the inner one only frees the closure sooner.
  (void)inner_.cancel(inner_id);
  return true;
}

bool ScopedExecutor::in_executor() const {
  return inner_.in_executor();
}

void ScopedExecutor::close() {
  state_->gate.close();
  std::map<TimerId, TimerId> pending;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    pending.swap(state_->timers);
  }
  for (const auto& entry : pending)
    (void)inner_.cancel(entry.second);
}

bool ScopedExecutor::closed() const {
  return state_->gate.closed();
}

}  // namespace nodus
