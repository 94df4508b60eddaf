// transport/test_doubles.h: small stand-ins for the node's executor, metrics and logger, for
// the transport's tests (kernel/runtime provides the real ones).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nodus/services/executor.h"
#include "nodus/services/logger.h"
#include "nodus/services/metrics.h"
#include "nodus/services/transport.h"

namespace nodus::kernel::fakes {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A serial executor: one thread, a task queue and timers.
class ThreadExecutor final : public nodus::Executor {
 public:
  ThreadExecutor() : thread_([this] { run(); }) {}
  ~ThreadExecutor() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(nodus::Task task) override {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_all();
  }
  nodus::TimerId schedule_after(nodus::Duration delay, nodus::Task task) override {
    std::lock_guard lock(mu_);
    const nodus::TimerId id = next_id_++;
    timers_.emplace(id, Timer{Clock::now() + delay, std::move(task)});
    cv_.notify_all();
    return id;
  }
  bool cancel(nodus::TimerId id) override {
    std::lock_guard lock(mu_);
    return timers_.erase(id) > 0;
  }
  bool in_executor() const override { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct Timer {
    Clock::time_point due;
    nodus::Task task;
  };

  void run() {
    std::unique_lock lock(mu_);
    while (true) {
      if (!tasks_.empty()) {
        nodus::Task task = std::move(tasks_.front());
        tasks_.pop_front();
        lock.unlock();
        task();
        lock.lock();
        continue;
      }
      if (stopping_) return;
      auto next = timers_.begin();
      for (auto it = timers_.begin(); it != timers_.end(); ++it) {
        if (it->second.due < next->second.due) next = it;
      }
      if (next == timers_.end()) {
        cv_.wait(lock);
      } else if (next->second.due <= Clock::now()) {
        nodus::Task task = std::move(next->second.task);
        timers_.erase(next);
        lock.unlock();
        task();
        lock.lock();
      } else {
        cv_.wait_until(lock, next->second.due);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<nodus::Task> tasks_;
  std::map<nodus::TimerId, Timer> timers_;
  nodus::TimerId next_id_ = 1;
  std::thread thread_;  // last: starts once everything above exists
};

class TestMetrics final : public nodus::Metrics {
 public:
  nodus::Counter& counter(std::string_view name, std::string_view,
                          const nodus::MetricLabels& labels) override {
    return get(counters_, name, labels);
  }
  nodus::Gauge& gauge(std::string_view name, std::string_view,
                      const nodus::MetricLabels& labels) override {
    return get(gauges_, name, labels);
  }
  nodus::Histogram& histogram(std::string_view name, std::string_view, std::vector<double> bounds,
                              const nodus::MetricLabels& labels) override {
    std::lock_guard lock(mu_);
    auto& slot = histograms_[key(name, labels)];
    if (!slot) slot = std::make_unique<nodus::Histogram>(std::move(bounds));
    return *slot;
  }
  std::vector<nodus::MetricFamily> collect() const override { return {}; }

  double value(std::string_view name, const nodus::MetricLabels& labels = {}) {
    return counter(name, "", labels).value();
  }

 private:
  static std::string key(std::string_view name, const nodus::MetricLabels& labels) {
    std::string k(name);
    for (const auto& [label, v] : labels)
      k += "|" + label + "=" + v;
    return k;
  }
  template <class T>
  T& get(std::map<std::string, std::unique_ptr<T>>& series, std::string_view name,
         const nodus::MetricLabels& labels) {
    std::lock_guard lock(mu_);
    auto& slot = series[key(name, labels)];
    if (!slot) slot = std::make_unique<T>();
    return *slot;
  }

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<nodus::Counter>> counters_;
  std::map<std::string, std::unique_ptr<nodus::Gauge>> gauges_;
  std::map<std::string, std::unique_ptr<nodus::Histogram>> histograms_;
};

class TestLogger final : public nodus::Logger {
 public:
  void log(nodus::LogLevel, std::string_view message, const nodus::LogFields& fields) override {
    std::string line(message);
    for (const auto& [k, v] : fields)
      line += " " + k + "=" + v;
    std::lock_guard lock(mu_);
    lines_.push_back(std::move(line));
  }
  bool enabled(nodus::LogLevel) const override { return true; }
  bool contains(std::string_view needle) {
    std::lock_guard lock(mu_);
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// Collects values from callbacks on other threads; tests wait on it.
template <class T>
class Mailbox {
 public:
  void push(T value) {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(value));
    cv_.notify_all();
  }
  bool wait_size(size_t n, nodus::Duration timeout = 10s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return items_.size() >= n; });
  }
  std::vector<T> items() {
    std::lock_guard lock(mu_);
    return items_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<T> items_;
};

using Results = Mailbox<nodus::Result<std::string>>;

// Polls `predicate` until it holds or `timeout` passes; for effects that trail a delivery.
template <class Predicate>
bool eventually(Predicate predicate, nodus::Duration timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (!predicate()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace nodus::kernel::fakes
