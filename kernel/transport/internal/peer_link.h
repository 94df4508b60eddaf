// transport/internal/peer_link.h: everything this node keeps per remote peer.
//
// A PeerLink owns the gRPC channel to one peer (shared by calls and one-way messages), a
// bounded queue of outgoing envelopes, and a sender thread that keeps one long-lived Stream
// RPC open, writes the queue to it in batches, and reopens it after a failure with
// exponential backoff and jitter. Envelopes that could not be written are kept and written
// after the reconnect, so a short outage loses at most what was in flight.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "kernel/transport/internal/peer_grpc.h"
#include "kernel/transport/internal/transport_metrics.h"
#include "nodus/services/clock.h"
#include "nodus/services/logger.h"
#include "nodus/services/metrics.h"
#include "nodus/services/transport.h"
#include "nodus/status.h"

namespace nodus::kernel::internal {

struct PeerLinkOptions {
  nodus::PeerId self = 0;
  nodus::PeerInfo peer;
  size_t queue_len_max = 1;
  size_t max_message_bytes = 0;
  nodus::Duration backoff_initial{};
  nodus::Duration backoff_max{};
  std::shared_ptr<grpc::ChannelCredentials> credentials;
};

class PeerLink {
 public:
  PeerLink(PeerLinkOptions options, const TransportMetrics& metrics, nodus::Metrics& registry,
           nodus::Logger& logger);
  ~PeerLink();
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Starts the sender thread.
  void start();
  // Cancels the stream, joins the sender thread and discards what is still queued. Bounded:
  // cancelling unblocks every gRPC operation the thread may be waiting in.
  void stop();

  // Queues one envelope for the sender thread. Safe from any thread.
  nodus::Status enqueue(std::string_view channel, std::string payload);

  const nodus::PeerInfo& peer() const { return options_.peer; }
  // "peer 2 (127.0.0.1:9004)", for messages.
  const std::string& name() const { return name_; }
  nodus::v1::Peer::Stub& stub() { return *stub_; }

 private:
  void run();
  // Writes pending_ to the stream, opening it first when needed. False when the stream failed.
  bool write_pending();
  bool open_stream();
  grpc::Status close_stream();
  void on_stream_failure();
  // Waits `delay` unless stop() comes first; returns false when stopping.
  bool wait_backoff(nodus::Duration delay);

  const PeerLinkOptions options_;
  const std::string name_;
  const TransportMetrics& metrics_;
  nodus::Counter& reconnects_;
  nodus::Logger& logger_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<nodus::v1::Peer::Stub> stub_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                         // guarded by mu_
  std::deque<nodus::v1::Envelope> queue_;         // guarded by mu_
  std::unique_ptr<grpc::ClientContext> context_;  // replaced under mu_ by the thread
  uint64_t next_seq_ = 1;                         // guarded by mu_
  std::atomic<size_t> pending_len_{0};            // pending_.size(), for the queue bound

  // Owned by the sender thread.
  std::deque<nodus::v1::Envelope> pending_;  // taken from queue_, not yet written
  nodus::v1::StreamAck ack_;
  std::unique_ptr<grpc::ClientWriter<nodus::v1::Envelope>> writer_;
  uint64_t stream_writes_ = 0;  // envelopes written on the current stream
  bool healthy_ = true;         // false after a failure, until a batch is written again

  std::thread thread_;
};

}  // namespace nodus::kernel::internal
