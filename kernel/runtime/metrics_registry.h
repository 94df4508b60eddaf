// runtime/metrics_registry.h: MetricsRegistry, the kernel's nodus::Metrics, and the
// Prometheus text exposition (format 0.0.4) of what it collects.
//
// Registration takes a mutex; updates are the SDK types' relaxed atomics. Every series lives
// in a node-stable container for the life of the registry, so references handed out stay
// valid. Labels are sorted by name, so {a,b} and {b,a} are the same series. A bad metric or
// label name, a type conflict, different histogram buckets under one name, or more than
// kSeriesMax series is reported through `on_error` and answered with a detached series that
// works but is never exported.
//
//   nodus::kernel::MetricsRegistry registry([&](std::string e) { log.error(e); });
//   registry.counter("nodus_ping_sent_total", "Pings sent").inc();
//   std::string body = render_prometheus_text(registry.collect(), {{"instance", "0"}});
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/services/metrics.h"

namespace nodus::kernel {

class MetricsRegistry final : public nodus::Metrics {
 public:
  using ErrorHandler = std::function<void(std::string)>;
  // Exported series across all families; beyond it new series are detached (a label with
  // unbounded values is a bug that must not exhaust memory).
  static constexpr size_t kSeriesMax = 100'000;

  explicit MetricsRegistry(ErrorHandler on_error = nullptr);
  ~MetricsRegistry() override;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  nodus::Counter& counter(std::string_view name, std::string_view help,
                          const nodus::MetricLabels& labels = {}) override;
  nodus::Gauge& gauge(std::string_view name, std::string_view help,
                      const nodus::MetricLabels& labels = {}) override;
  nodus::Histogram& histogram(std::string_view name, std::string_view help,
                              std::vector<double> bounds,
                              const nodus::MetricLabels& labels = {}) override;
  std::vector<nodus::MetricFamily> collect() const override;

  // Detached series handed out so far (bad names, conflicts, overflow). `on_error` runs
  // outside the registry lock, so it may itself use the registry.
  size_t detached_count() const;

 private:
  struct Series;
  struct Family;

  // Both fill `error` instead of calling on_error_, which runs after mu_ is released.
  Series& find_or_create(std::string_view name, std::string_view help, nodus::MetricType type,
                         std::vector<double> bounds, const nodus::MetricLabels& labels,
                         std::string* error);
  Series& detach(std::string message, nodus::MetricType type, std::vector<double> bounds,
                 std::string* error);
  void report(const std::string& error) const;

  ErrorHandler on_error_;
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::vector<std::unique_ptr<Series>> detached_;
  size_t series_count_ = 0;
};

// True for [a-zA-Z_:][a-zA-Z0-9_:]*.
bool valid_metric_name(std::string_view name);
// True for [a-zA-Z_][a-zA-Z0-9_]* not starting with "__" (reserved by Prometheus).
bool valid_label_name(std::string_view name);

// Prometheus text exposition format 0.0.4. `extra_labels` (for example instance="0") come
// first on every sample; a sample's own label of the same name wins over an extra one.
std::string render_prometheus_text(const std::vector<nodus::MetricFamily>& families,
                                   const nodus::MetricLabels& extra_labels = {});

}  // namespace nodus::kernel
