// transport/internal/transport_metrics.h: the transport's metric handles, looked up once.
#pragma once

#include <array>
#include <string>

#include "nodus/services/metrics.h"
#include "nodus/status.h"

namespace nodus::kernel::internal {

inline constexpr int kStatusCodeCount = 17;  // OK .. UNAUTHENTICATED

// Handles into the node's Metrics. The series live as long as the Metrics object, which
// outlives the transport, so tasks that outlive the transport may still hold these.
struct TransportMetrics {
  explicit TransportMetrics(nodus::Metrics& metrics)
      : sent(metrics.counter("nodus_transport_messages_sent_total",
                             "One-way messages written to a peer stream")),
        received(metrics.counter("nodus_transport_messages_received_total",
                                 "One-way messages read from peer streams")),
        dropped_queue_full(dropped(metrics, "queue_full")),
        dropped_too_large(dropped(metrics, "too_large")),
        dropped_no_handler(dropped(metrics, "no_handler")),
        dropped_rejected(dropped(metrics, "rejected")),
        dropped_stopped(dropped(metrics, "stopped")),
        dropped_corrupt(dropped(metrics, "corrupt")),
        dropped_forged(dropped(metrics, "forged_sender")),
        calls_refused_forged(
            metrics.counter("nodus_transport_calls_refused_total",
                            "Inbound calls refused before any handler ran, by reason",
                            {{"reason", "forged_sender"}})),
        call_latency(metrics.histogram("nodus_transport_call_latency_seconds",
                                       "Latency of outgoing calls, any outcome",
                                       nodus::Histogram::latency_buckets())) {
    for (int i = 0; i < kStatusCodeCount; ++i) {
      const auto code = static_cast<nodus::StatusCode>(i);
      calls_by_code[static_cast<size_t>(i)] =
          &metrics.counter("nodus_transport_calls_total", "Outgoing calls by result code",
                           {{"code", std::string(nodus::status_code_name(code))}});
    }
  }

  nodus::Counter& calls(nodus::StatusCode code) const {
    const int i = static_cast<int>(code);
    // Codes outside the gRPC range are reported as UNKNOWN (index 2).
    return *calls_by_code[static_cast<size_t>(i >= 0 && i < kStatusCodeCount ? i : 2)];
  }

  nodus::Counter& sent;
  nodus::Counter& received;
  nodus::Counter& dropped_queue_full;    // send(): the peer's queue was full
  nodus::Counter& dropped_too_large;     // send()/call(): over max_message_bytes
  nodus::Counter& dropped_no_handler;    // received on a channel nobody registered
  nodus::Counter& dropped_rejected;      // the peer refused a stream (oversized or corrupt)
  nodus::Counter& dropped_stopped;       // still queued when the transport stopped
  nodus::Counter& dropped_corrupt;       // received bytes that do not decode as an Envelope
  nodus::Counter& dropped_forged;        // the connection cannot vouch for the claimed sender
  nodus::Counter& calls_refused_forged;  // inbound call, same reason
  nodus::Histogram& call_latency;
  std::array<nodus::Counter*, kStatusCodeCount> calls_by_code{};

 private:
  static nodus::Counter& dropped(nodus::Metrics& metrics, const char* reason) {
    return metrics.counter("nodus_transport_messages_dropped_total",
                           "One-way messages dropped, by reason", {{"reason", reason}});
  }
};

}  // namespace nodus::kernel::internal
