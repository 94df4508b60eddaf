#include "kernel/runtime/executor.h"

#include <pthread.h>

#include <condition_variable>
#include <exception>
#include <utility>

#include <boost/asio/post.hpp>

namespace nodus::kernel {
namespace {

// The executor whose loop runs on the current thread, if any.
thread_local const AsioExecutor* tls_current_executor = nullptr;

constexpr size_t kThreadNameLenMax = 15;  // Linux limit, without the terminating NUL

}  // namespace

nodus::TimePoint SteadyClock::now() const {
  return std::chrono::time_point_cast<nodus::Duration>(std::chrono::steady_clock::now());
}

int64_t SteadyClock::wall_time_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

AsioExecutor::AsioExecutor(std::string name) : name_(std::move(name)) {
  work_.emplace(io_.get_executor());
}

AsioExecutor::~AsioExecutor() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void AsioExecutor::start() {
  std::lock_guard lock(lifecycle_mu_);
  if (running_.load() || stopped_.load()) return;
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] { run_loop(); });
}

void AsioExecutor::run_loop() {
  const std::string thread_name = name_.substr(0, kThreadNameLenMax);
  pthread_setname_np(pthread_self(), thread_name.c_str());
  tls_current_executor = this;
  // Handlers never throw (run_task catches), but io_context::run() is noexcept only in
  // practice; keep the loop alive whatever happens.
  while (!stopped_.load(std::memory_order_acquire)) {
    try {
      io_.run();
      break;
    } catch (const std::exception& e) {
      report_error(std::string("executor ") + name_ + ": event loop: " + e.what());
    } catch (...) {
      report_error("executor " + name_ + ": event loop: unknown exception");
    }
  }
  tls_current_executor = nullptr;
}

void AsioExecutor::stop() {
  std::lock_guard lock(lifecycle_mu_);
  stopped_.store(true, std::memory_order_release);
  running_.store(false, std::memory_order_release);
  work_.reset();
  io_.stop();
  if (in_executor()) return;  // cannot join ourselves; the destructor joins
  if (thread_.joinable()) thread_.join();
  // The loop thread is gone, so the timers can be destroyed here without a race. Their
  // aborted completions stay queued in io_ and are destroyed with it, never invoked.
  std::unordered_map<nodus::TimerId, PendingTimer> dropped;
  {
    std::lock_guard timers_lock(mu_);
    dropped.swap(timers_);
  }
}

bool AsioExecutor::in_executor() const {
  return tls_current_executor == this;
}

void AsioExecutor::post(nodus::Task task) {
  if (stopped_.load(std::memory_order_acquire) || !task) return;
  boost::asio::post(io_, [this, t = std::move(task)] { run_task(t); });
}

void AsioExecutor::run_task(const nodus::Task& task) noexcept {
  if (stopped_.load(std::memory_order_acquire)) return;
  try {
    task();
  } catch (const std::exception& e) {
    report_error("executor " + name_ + ": task threw: " + e.what());
  } catch (...) {
    report_error("executor " + name_ + ": task threw a non-standard exception");
  }
}

void AsioExecutor::report_error(const std::string& what) noexcept {
  try {
    ErrorHandler handler;
    {
      std::lock_guard lock(mu_);
      handler = error_handler_;
    }
    if (handler) handler(what);
  } catch (...) {
    // An error handler that throws has nowhere left to report to.
  }
}

void AsioExecutor::set_error_handler(ErrorHandler handler) {
  std::lock_guard lock(mu_);
  error_handler_ = std::move(handler);
}

nodus::TimerId AsioExecutor::schedule_after(nodus::Duration delay, nodus::Task task) {
  const nodus::TimerId id = next_timer_id_.fetch_add(1, std::memory_order_relaxed);
  if (stopped_.load(std::memory_order_acquire)) return id;  // never runs, like a dropped post
  auto timer = std::make_unique<boost::asio::steady_timer>(io_);
  // The expiry is fixed now, not when the loop gets round to arming the timer.
  timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
  {
    std::lock_guard lock(mu_);
    timers_.emplace(id, PendingTimer{std::move(timer), std::move(task), false});
  }
  // A steady_timer object must only be used from one thread at a time, so every operation on
  // it after construction happens on the loop thread.
  if (in_executor()) {
    arm_timer(id);
  } else {
    boost::asio::post(io_, [this, id] { arm_timer(id); });
  }
  return id;
}

void AsioExecutor::arm_timer(nodus::TimerId id) {
  boost::asio::steady_timer* timer = nullptr;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.cancelled) return;
    timer = it->second.timer.get();
  }
  // Only this thread destroys timers while the loop runs, so `timer` stays valid.
  timer->async_wait([this, id](const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    on_timer(id);
  });
}

void AsioExecutor::on_timer(nodus::TimerId id) {
  nodus::Task task;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.cancelled) return;
    task = std::move(it->second.task);
    // Destroying the timer inside its own completion is fine: asio has already moved the
    // handler out of the operation.
    timers_.erase(it);
  }
  run_task(task);
}

void AsioExecutor::erase_timer(nodus::TimerId id) {
  std::unique_ptr<boost::asio::steady_timer> timer;
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    timer = std::move(it->second.timer);
    timers_.erase(it);
  }
  // Destroying an armed timer cancels its wait; the aborted completion does nothing.
}

bool AsioExecutor::cancel(nodus::TimerId id) {
  nodus::Task dropped_task;  // destroyed outside the lock: its captures may be anything
  {
    std::lock_guard lock(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.cancelled) return false;
    it->second.cancelled = true;
    dropped_task = std::move(it->second.task);
  }
  // The entry is marked, so on_timer() will not run the task even if the timer has already
  // expired and its completion is queued. The timer itself is released on the loop thread.
  if (in_executor()) {
    erase_timer(id);
  } else if (!stopped_.load(std::memory_order_acquire)) {
    boost::asio::post(io_, [this, id] { erase_timer(id); });
  }
  return true;
}

size_t AsioExecutor::pending_timers() const {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [id, entry] : timers_)
    n += entry.cancelled ? 0 : 1;
  return n;
}

nodus::Status AsioExecutor::run_sync(std::function<void()> f, nodus::Duration timeout) {
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    nodus::Status status;
  };
  auto run_guarded = [this](const std::function<void()>& fn) -> nodus::Status {
    try {
      fn();
      return {};
    } catch (const std::exception& e) {
      return nodus::internal_error("executor " + name_ + ": task threw: " + e.what());
    } catch (...) {
      return nodus::internal_error("executor " + name_ + ": task threw a non-standard exception");
    }
  };
  if (in_executor()) return run_guarded(f);
  if (!running()) return nodus::unavailable("executor " + name_ + " is not running");

  auto state = std::make_shared<State>();
  boost::asio::post(io_, [state, run_guarded, fn = std::move(f)] {
    nodus::Status status = run_guarded(fn);
    std::lock_guard lock(state->mu);
    state->status = std::move(status);
    state->done = true;
    state->cv.notify_all();
  });
  std::unique_lock lock(state->mu);
  if (!state->cv.wait_for(lock, timeout, [&] { return state->done; })) {
    const auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout);
    return nodus::deadline_exceeded("executor " + name_ + ": task did not finish within " +
                                    std::to_string(timeout_ms.count()) + " ms");
  }
  return state->status;
}

}  // namespace nodus::kernel
