// transport/internal/peer_service.h: the server side of the nodus.v1.Peer service.
//
// Built on the gRPC callback API. Every envelope and call it receives is posted to the
// node's executor, where the registered handler runs. Inbound one-way messages are flow
// controlled: a stream stops reading while `receive_pending_max` of its messages wait on the
// executor, so a slow node pushes back on its senders (HTTP/2 flow control) instead of
// growing an unbounded backlog. A message or call whose claimed sender the connection cannot
// vouch for (peer_identity.h) is dropped and counted before any handler sees it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "kernel/transport/internal/handler_registry.h"
#include "kernel/transport/internal/peer_grpc.h"
#include "kernel/transport/internal/peer_identity.h"
#include "kernel/transport/internal/transport_metrics.h"
#include "nodus/services/executor.h"
#include "nodus/services/logger.h"
#include "nodus/services/transport.h"

namespace nodus::kernel::internal {

struct PeerServiceDeps {
  nodus::PeerId self = 0;
  std::shared_ptr<HandlerRegistry> registry;
  nodus::Executor* executor = nullptr;
  const TransportMetrics* metrics = nullptr;
  nodus::Logger* logger = nullptr;
  size_t receive_pending_max = 1;
  size_t max_message_bytes = 0;
  // Who may claim which sender id (peer_identity.h).
  std::string cluster;
  std::shared_ptr<const PeerDirectory> peers;
  // Refused senders so far, streams and calls together: they are logged at the 1st, 2nd, 4th,
  // 8th ... so that a flood of forged messages cannot fill the disk.
  std::shared_ptr<std::atomic<uint64_t>> refusals = std::make_shared<std::atomic<uint64_t>>(0);
};

// Whether the n-th refusal (from 1) is logged.
inline bool log_refusal(uint64_t n) {
  return (n & (n - 1)) == 0;
}

// Stream is served "raw": the reactor receives each message as bytes and decodes the Envelope
// itself, so that a corrupt message is counted and dropped while the stream goes on, instead
// of gRPC failing the whole stream before our code sees why.
class PeerService final
    : public nodus::v1::Peer::WithRawCallbackMethod_Stream<nodus::v1::Peer::CallbackService> {
 public:
  explicit PeerService(PeerServiceDeps deps) : deps_(std::move(deps)) {}

  grpc::ServerReadReactor<grpc::ByteBuffer>* Stream(grpc::CallbackServerContext* context,
                                                    grpc::ByteBuffer* ack) override;
  grpc::ServerUnaryReactor* Call(grpc::CallbackServerContext* context,
                                 const nodus::v1::CallRequest* request,
                                 nodus::v1::CallResponse* response) override;

 private:
  const PeerServiceDeps deps_;
};

}  // namespace nodus::kernel::internal
