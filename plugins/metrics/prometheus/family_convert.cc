#include "family_convert.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

namespace nodus::metrics {
namespace {

std::vector<prometheus::ClientMetric::Label> labels_of(const nodus::MetricLabels& extra,
                                                       const nodus::MetricLabels& own) {
  std::vector<prometheus::ClientMetric::Label> out;
  out.reserve(extra.size() + own.size());
  for (const auto& [name, value] : extra) {
    bool overridden = false;
    for (const auto& o : own)
      overridden = overridden || o.first == name;
    if (!overridden) out.push_back({name, value});
  }
  for (const auto& [name, value] : own)
    out.push_back({name, value});
  return out;
}

prometheus::MetricFamily family(std::string name, std::string help, prometheus::MetricType type,
                                double value, const nodus::MetricLabels& extra) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  m.label = labels_of(extra, {});
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

// strtod: no exception on a malformed field (it reads as 0).
double num(const std::string& s) {
  return std::strtod(s.c_str(), nullptr);
}

}  // namespace

std::vector<prometheus::MetricFamily> to_prometheus(
    const std::vector<nodus::MetricFamily>& families, const nodus::MetricLabels& extra) {
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size());
  for (const nodus::MetricFamily& f : families) {
    if (f.samples.empty()) continue;
    prometheus::MetricFamily pf;
    pf.name = f.name;
    pf.help = f.help;
    pf.metric.reserve(f.samples.size());
    switch (f.type) {
      case nodus::MetricType::kCounter:
        pf.type = prometheus::MetricType::Counter;
        break;
      case nodus::MetricType::kGauge:
        pf.type = prometheus::MetricType::Gauge;
        break;
      case nodus::MetricType::kHistogram:
        pf.type = prometheus::MetricType::Histogram;
        break;
    }
    for (const nodus::MetricSample& s : f.samples) {
      prometheus::ClientMetric m;
      m.label = labels_of(extra, s.labels);
      switch (f.type) {
        case nodus::MetricType::kCounter:
          m.counter.value = s.value;
          break;
        case nodus::MetricType::kGauge:
          m.gauge.value = s.value;
          break;
        case nodus::MetricType::kHistogram:
          m.histogram.sample_count = s.count;
          m.histogram.sample_sum = s.sum;
          m.histogram.bucket.reserve(s.bucket_counts.size());
          // bucket_counts is cumulative and ends with the +Inf bucket.
          for (size_t i = 0; i < s.bucket_counts.size(); ++i) {
            const double bound = i < s.bucket_bounds.size()
                                     ? s.bucket_bounds[i]
                                     : std::numeric_limits<double>::infinity();
            m.histogram.bucket.push_back({s.bucket_counts[i], bound});
          }
          break;
      }
      pf.metric.push_back(std::move(m));
    }
    out.push_back(std::move(pf));
  }
  return out;
}

void append_process_metrics(std::vector<prometheus::MetricFamily>& out,
                            const nodus::MetricLabels& extra,
                            const std::filesystem::path& proc_self,
                            const std::filesystem::path& proc_stat) {
  using prometheus::MetricType;
  std::ifstream stat_file(proc_self / "stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command, which is in parentheses and may itself hold spaces.
  const size_t close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string w; in >> w;)
      f.push_back(w);
    // f[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, starttime 22,
    // vsize 23, rss 24 (pages).
    if (f.size() > 21) {
      const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
      const double cpu = (num(f[11]) + num(f[12])) / ticks;
      out.push_back(family("process_cpu_seconds_total",
                           "Total user and system CPU time spent in seconds.", MetricType::Counter,
                           cpu, extra));
      out.push_back(family("process_threads", "Number of OS threads in the process.",
                           MetricType::Gauge, num(f[17]), extra));
      out.push_back(family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                           MetricType::Gauge, num(f[20]), extra));
      out.push_back(family("process_resident_memory_bytes", "Resident memory size in bytes.",
                           MetricType::Gauge, num(f[21]) * page, extra));
      std::ifstream boot(proc_stat);
      for (std::string line; std::getline(boot, line);) {
        if (line.rfind("btime ", 0) != 0) continue;
        const double start = num(line.substr(6)) + num(f[19]) / ticks;
        out.push_back(family("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             MetricType::Gauge, start, extra));
        break;
      }
    }
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator(proc_self / "fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++fds;
  if (!ec) {
    out.push_back(family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
                         fds, extra));
  }
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    out.push_back(family("process_max_fds", "Maximum number of open file descriptors.",
                         MetricType::Gauge, static_cast<double>(rl.rlim_cur), extra));
  }
}

}  // namespace nodus::metrics
