// runtime/executor.h: the real clock and the serial executor of a node instance.
//
// SteadyClock reads std::chrono::steady_clock (and system_clock for wall time).
// AsioExecutor is one serial event loop on its own thread, built on boost::asio::io_context:
// every task and timer callback runs there, one at a time. A task that throws is caught and
// reported through the error handler; it never stops the loop.
//
//   nodus::kernel::AsioExecutor exec("aurigraph-0");
//   exec.set_error_handler([&](std::string e) { log.error(e); });
//   exec.start();
//   exec.schedule_after(std::chrono::milliseconds(100), [] { tick(); });
//   NODUS_RETURN_IF_ERROR(exec.run_sync([&] { plugin.start(); }, std::chrono::seconds(5)));
//   exec.stop();
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "nodus/services/clock.h"
#include "nodus/services/executor.h"
#include "nodus/status.h"

namespace nodus::kernel {

class SteadyClock final : public nodus::Clock {
 public:
  nodus::TimePoint now() const override;
  int64_t wall_time_ns() const override;
};

class AsioExecutor final : public nodus::Executor {
 public:
  using ErrorHandler = std::function<void(std::string)>;

  // `name` names the thread (truncated to 15 characters, the Linux limit) and error messages.
  explicit AsioExecutor(std::string name);
  // Stops the loop (see stop()).
  ~AsioExecutor() override;
  AsioExecutor(const AsioExecutor&) = delete;
  AsioExecutor& operator=(const AsioExecutor&) = delete;

  // Spawns the loop thread. Tasks posted before start() run once it has started. An executor
  // runs once: start() after stop() does nothing.
  void start();
  // Stops promptly: the task that is running finishes, no further task or timer runs, pending
  // ones are dropped, and the thread is joined. Idempotent. Called from a task on this
  // executor, it stops the loop without joining (the destructor joins).
  void stop();
  bool running() const { return running_.load(std::memory_order_acquire); }

  void post(nodus::Task task) override;
  nodus::TimerId schedule_after(nodus::Duration delay, nodus::Task task) override;
  bool cancel(nodus::TimerId id) override;
  bool in_executor() const override;

  // Runs `f` on the executor and waits for it. Inline when already on the executor thread.
  // DEADLINE_EXCEEDED when `f` has not finished within `timeout` (it may still run later),
  // UNAVAILABLE when the executor is not running, INTERNAL when `f` throws.
  nodus::Status run_sync(std::function<void()> f, nodus::Duration timeout);

  // Receives one line per task or timer callback that threw. Called on the executor thread.
  void set_error_handler(ErrorHandler handler);

  // Timers that are scheduled and have neither fired nor been cancelled.
  size_t pending_timers() const;
  const std::string& name() const { return name_; }
  boost::asio::io_context& io() { return io_; }

 private:
  struct PendingTimer {
    std::unique_ptr<boost::asio::steady_timer> timer;
    nodus::Task task;
    bool cancelled = false;
  };

  void run_loop();
  void run_task(const nodus::Task& task) noexcept;
  void report_error(const std::string& what) noexcept;
  void arm_timer(nodus::TimerId id);
  void on_timer(nodus::TimerId id);
  void erase_timer(nodus::TimerId id);

  const std::string name_;
  // Declared before every timer so that timers are destroyed first.
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::mutex lifecycle_mu_;  // serializes start() and stop()
  std::thread thread_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<nodus::TimerId> next_timer_id_{1};

  mutable std::mutex mu_;  // guards timers_, error_handler_ and the start/stop transitions
  std::unordered_map<nodus::TimerId, PendingTimer> timers_;
  ErrorHandler error_handler_;
};

}  // namespace nodus::kernel
