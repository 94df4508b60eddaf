// supervisor/aggregate_metrics.h: the supervisor's aggregate /metrics.
//
// One scrape of the supervisor returns every instance's series (each already carries its
// `instance` label) merged family by family, so that a family's HELP and TYPE appear once as
// the exposition format requires, plus container totals computed from the supervisor's own
// view of its instances (states, restarts, CPU and RSS per process).
//
//   std::vector<std::string> scrapes = {http_get_text("127.0.0.1", 9005, "/metrics", 1s), ...};
//   std::string body = merge_exposition(scrapes) + container_totals(status_reply);
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "nodus/status.h"
#include "nodus/v1/control.pb.h"

namespace nodus::kernel {

// Merges Prometheus text expositions: families keep the order in which they first appear,
// each with one HELP and one TYPE line and the samples of every input.
std::string merge_exposition(const std::vector<std::string>& texts);

// nodus_supervisor_* and nodus_container_* families from a status snapshot.
std::string container_totals(const nodus::v1::StatusReply& status);

// One HTTP/1.0 GET on host:port with a bound on the whole exchange; the body of a 200 reply.
Result<std::string> http_get_text(const std::string& host, uint16_t port, const std::string& path,
                                  std::chrono::milliseconds timeout);

}  // namespace nodus::kernel
