#include "kernel/runtime/metrics_registry.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace nodus::kernel {
namespace {

// Detached series are kept alive forever, so after this many every further one is shared.
constexpr size_t kDetachedMax = 1000;

bool name_start_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool name_char(char c) {
  return name_start_char(c) || (c >= '0' && c <= '9');
}

std::string_view type_name(nodus::MetricType type) {
  switch (type) {
    case nodus::MetricType::kCounter:
      return "counter";
    case nodus::MetricType::kGauge:
      return "gauge";
    case nodus::MetricType::kHistogram:
      return "histogram";
  }
  return "unknown";
}

}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty() || !(name_start_char(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return name_char(c) || c == ':'; });
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || !name_start_char(name[0]) || name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin(), name.end(), name_char);
}

struct MetricsRegistry::Series {
  std::unique_ptr<nodus::Counter> counter;
  std::unique_ptr<nodus::Gauge> gauge;
  std::unique_ptr<nodus::Histogram> histogram;

  static std::unique_ptr<Series> make(nodus::MetricType type, std::vector<double> bounds) {
    auto s = std::make_unique<Series>();
    switch (type) {
      case nodus::MetricType::kCounter:
        s->counter = std::make_unique<nodus::Counter>();
        break;
      case nodus::MetricType::kGauge:
        s->gauge = std::make_unique<nodus::Gauge>();
        break;
      case nodus::MetricType::kHistogram:
        s->histogram = std::make_unique<nodus::Histogram>(std::move(bounds));
        break;
    }
    return s;
  }
};

struct MetricsRegistry::Family {
  std::string help;
  nodus::MetricType type = nodus::MetricType::kCounter;
  std::vector<double> bounds;  // histograms: normalized bucket bounds shared by every series
  std::map<nodus::MetricLabels, std::unique_ptr<Series>> series;
};

MetricsRegistry::MetricsRegistry(ErrorHandler on_error) : on_error_(std::move(on_error)) {}
MetricsRegistry::~MetricsRegistry() = default;

nodus::Counter& MetricsRegistry::counter(std::string_view name, std::string_view help,
                                         const nodus::MetricLabels& labels) {
  std::string error;
  nodus::Counter& c =
      *find_or_create(name, help, nodus::MetricType::kCounter, {}, labels, &error).counter;
  report(error);
  return c;
}

nodus::Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help,
                                     const nodus::MetricLabels& labels) {
  std::string error;
  nodus::Gauge& g =
      *find_or_create(name, help, nodus::MetricType::kGauge, {}, labels, &error).gauge;
  report(error);
  return g;
}

nodus::Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help,
                                             std::vector<double> bounds,
                                             const nodus::MetricLabels& labels) {
  std::string error;
  nodus::Histogram& h =
      *find_or_create(name, help, nodus::MetricType::kHistogram, std::move(bounds), labels, &error)
           .histogram;
  report(error);
  return h;
}

MetricsRegistry::Series& MetricsRegistry::detach(std::string message, nodus::MetricType type,
                                                 std::vector<double> bounds, std::string* error) {
  // Called with mu_ held; the caller reports `error` after unlocking, so the handler may log
  // through something that itself uses this registry.
  *error = std::move(message) + " (the series is detached and not exported)";
  if (detached_.size() >= kDetachedMax) {
    for (auto& s : detached_) {
      if ((type == nodus::MetricType::kCounter && s->counter) ||
          (type == nodus::MetricType::kGauge && s->gauge) ||
          (type == nodus::MetricType::kHistogram && s->histogram)) {
        return *s;
      }
    }
  }
  detached_.push_back(Series::make(type, std::move(bounds)));
  return *detached_.back();
}

void MetricsRegistry::report(const std::string& error) const {
  if (error.empty() || !on_error_) return;
  try {
    on_error_(error);
  } catch (...) {
    // A failing error reporter must not turn a naming mistake into a crash.
  }
}

MetricsRegistry::Series& MetricsRegistry::find_or_create(
    std::string_view name, std::string_view help, nodus::MetricType type,
    std::vector<double> bounds, const nodus::MetricLabels& labels, std::string* error) {
  std::lock_guard lock(mu_);
  const std::string metric = "metric '" + std::string(name) + "'";
  if (!valid_metric_name(name)) {
    return detach(metric + ": invalid name, expected [a-zA-Z_:][a-zA-Z0-9_:]*", type,
                  std::move(bounds), error);
  }
  nodus::MetricLabels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    const std::string& label = sorted[i].first;
    if (!valid_label_name(label)) {
      return detach(metric + ": invalid label name '" + label + "'", type, std::move(bounds),
                    error);
    }
    if (type == nodus::MetricType::kHistogram && label == "le") {
      return detach(metric + ": label 'le' is reserved for histogram buckets", type,
                    std::move(bounds), error);
    }
    if (i > 0 && sorted[i - 1].first == label) {
      return detach(metric + ": label '" + label + "' given twice", type, std::move(bounds), error);
    }
  }
  if (type == nodus::MetricType::kHistogram) {
    if (std::any_of(bounds.begin(), bounds.end(), [](double b) { return std::isnan(b); })) {
      return detach(metric + ": NaN histogram bound", type, std::move(bounds), error);
    }
    // +Inf is implicit and duplicate bounds would give two buckets with the same `le`.
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    while (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0)
      bounds.pop_back();
  }

  auto fit = families_.find(name);
  if (fit == families_.end()) {
    Family family;
    family.help = std::string(help);
    family.type = type;
    family.bounds = bounds;
    fit = families_.emplace(std::string(name), std::move(family)).first;
  } else if (fit->second.type != type) {
    return detach(metric + ": registered as a " + std::string(type_name(fit->second.type)) +
                      ", requested as a " + std::string(type_name(type)),
                  type, std::move(bounds), error);
  } else if (type == nodus::MetricType::kHistogram && fit->second.bounds != bounds) {
    return detach(metric + ": histogram buckets differ from the first registration", type,
                  std::move(bounds), error);
  }
  Family& family = fit->second;
  auto sit = family.series.find(sorted);
  if (sit != family.series.end()) return *sit->second;
  if (series_count_ >= kSeriesMax) {
    return detach(metric + ": more than " + std::to_string(kSeriesMax) + " series registered", type,
                  std::move(bounds), error);
  }
  ++series_count_;
  auto inserted = family.series.emplace(std::move(sorted), Series::make(type, family.bounds));
  return *inserted.first->second;
}

std::vector<nodus::MetricFamily> MetricsRegistry::collect() const {
  std::lock_guard lock(mu_);
  std::vector<nodus::MetricFamily> out;
  out.reserve(families_.size());
  for (const auto& [name, family] : families_) {
    nodus::MetricFamily f;
    f.name = name;
    f.help = family.help;
    f.type = family.type;
    f.samples.reserve(family.series.size());
    for (const auto& [labels, series] : family.series) {
      nodus::MetricSample s;
      s.labels = labels;
      if (series->counter) s.value = series->counter->value();
      if (series->gauge) s.value = series->gauge->value();
      if (series->histogram) {
        const nodus::Histogram& h = *series->histogram;
        s.bucket_bounds = h.bounds();
        s.bucket_counts.resize(h.bounds().size() + 1);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < s.bucket_counts.size(); ++i) {
          cumulative += h.bucket_count(i);
          s.bucket_counts[i] = cumulative;
        }
        s.count = cumulative;
        s.sum = h.sum();
      }
      f.samples.push_back(std::move(s));
    }
    out.push_back(std::move(f));
  }
  return out;
}

size_t MetricsRegistry::detached_count() const {
  std::lock_guard lock(mu_);
  return detached_.size();
}

}  // namespace nodus::kernel
