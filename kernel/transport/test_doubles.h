// transport/test_doubles.h: helpers for the transport's tests: a metrics stand-in that reads a
// series back, and mailboxes for results that arrive on other threads. The executor is the
// node's real one (runtime/executor.h) and the logger the SDK's CaptureLogger
// (nodus/testing/capture_logger.h).
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

#include "nodus/services/metrics.h"
#include "nodus/services/transport.h"
#include "nodus/testing/capture_logger.h"

namespace nodus::kernel::fakes {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
