// nodus/services/metrics.h: counters, gauges and histograms that exporters can read.
//
// Names follow `nodus_<area>_<what>_<unit>` (for example nodus_raft_commit_latency_seconds).
// The kernel adds the `instance` label; plugins add their own labels per series. Handles are
// stable for the life of the node, so look them up once and keep the reference: updating a
// metric is one relaxed atomic operation.
//
//   nodus::Counter& sent = ctx.metrics().counter("nodus_ping_sent_total", "Pings sent");
//   nodus::Histogram& rtt = ctx.metrics().histogram(
//       "nodus_ping_rtt_seconds", "Round-trip time", nodus::Histogram::latency_buckets());
//   sent.inc();
//   rtt.observe(0.0012);
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nodus {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Monotonically increasing value.
class Counter {
 public:
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Distribution over fixed, sorted upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds)
      : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
    std::sort(bounds_.begin(), bounds_.end());
    for (size_t i = 0; i <= bounds_.size(); ++i)
      counts_[i].store(0, std::memory_order_relaxed);
  }

  void observe(double v) {
    const size_t i =
        static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }

  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size() is the +Inf bucket).
  uint64_t bucket_count(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  // 100 us .. 10 s, roughly x2.5 apart: suits RPC, fsync and commit latencies.
  static std::vector<double> latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
            0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,  10.0};
  }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // NOLINT(*c-arrays): atomics, sized once
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// A point-in-time copy of one series, for exporters.
struct MetricSample {
  MetricLabels labels;
  double value = 0;                     // counter / gauge
  std::vector<double> bucket_bounds;    // histogram
  std::vector<uint64_t> bucket_counts;  // histogram, cumulative, last is +Inf
  double sum = 0;                       // histogram
  uint64_t count = 0;                   // histogram
};

struct MetricFamily {
  std::string name;
  std::string help;
  MetricType type = MetricType::kCounter;
  std::vector<MetricSample> samples;
};

class Metrics {
 public:
  virtual ~Metrics() = default;
  // Returns the series with this name and labels, creating it on first use. Asking again
  // with the same name and labels returns the same object. A name that is not a valid
  // Prometheus name, or that is reused with another type, is logged as an error and gets a
  // detached series that is never exported.
  virtual Counter& counter(std::string_view name, std::string_view help,
                           const MetricLabels& labels = {}) = 0;
  virtual Gauge& gauge(std::string_view name, std::string_view help,
                       const MetricLabels& labels = {}) = 0;
  virtual Histogram& histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, const MetricLabels& labels = {}) = 0;
  // A consistent-enough copy of every registered family, sorted by name.
  virtual std::vector<MetricFamily> collect() const = 0;
};

}  // namespace nodus
