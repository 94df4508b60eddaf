// family_convert.h: the SDK's metric snapshot (nodus::MetricFamily) as prometheus-cpp
// families, with extra labels (the instance) on every series, and the standard process_*
// families read from /proc/self.
//
//   auto families = to_prometheus(ctx.metrics().collect(), {{"instance", "0"}});
//   append_process_metrics(families, {{"instance", "0"}});
//   std::string text = prometheus::TextSerializer().Serialize(families);
#pragma once

#include <filesystem>
#include <vector>

#include <prometheus/metric_family.h>

#include "nodus/services/metrics.h"

namespace nodus::metrics {

// `extra` labels come first; a series' own label of the same name wins.
std::vector<prometheus::MetricFamily> to_prometheus(
    const std::vector<nodus::MetricFamily>& families, const nodus::MetricLabels& extra);

// Appends process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds
// and process_threads, as the Prometheus client libraries name them. `proc` is the /proc
// directory of the process (tests point it elsewhere). Families whose file is unreadable are
// left out.
void append_process_metrics(std::vector<prometheus::MetricFamily>& out,
                            const nodus::MetricLabels& extra,
                            const std::filesystem::path& proc_self = "/proc/self",
                            const std::filesystem::path& proc_stat = "/proc/stat");

}  // namespace nodus::metrics
