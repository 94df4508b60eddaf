// transport/grpc_transport.h: nodus::Transport over gRPC, the node-to-node transport of a
// real node.
//
// Each node serves the nodus.v1.Peer service (sdk/proto/nodus/v1/transport.proto) on its
// peer endpoint and keeps, per remote peer, one channel with a long-lived Stream RPC for
// one-way messages and unary Call RPCs for requests. Handlers always run on the executor.
//
//   GrpcTransportOptions options;
//   options.self = 0;
//   options.listen_address = "127.0.0.1:9004";
//   options.peers = {{1, "127.0.0.1:9014"}, {2, "127.0.0.1:9024"}};
//   GrpcTransport transport(std::move(options), executor, metrics, logger);
//   NODUS_RETURN_IF_ERROR(transport.on_message("raft", handle_raft));
//   NODUS_RETURN_IF_ERROR(transport.start());
//   ...
//   transport.stop();
//
// Delivery: one-way messages to one peer arrive in order while its stream stays up; across a
// reconnect, envelopes the stream had accepted but not delivered may be lost (best effort).
// Every queue is bounded: send() answers RESOURCE_EXHAUSTED on a full peer queue, and an
// inbound stream stops reading while `receive_pending_max` of its messages wait for the
// executor, which pushes back on the sender through HTTP/2 flow control.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "kernel/transport/internal/handler_registry.h"
#include "kernel/transport/internal/transport_metrics.h"
#include "nodus/capabilities/membership.h"
#include "nodus/services/executor.h"
#include "nodus/services/logger.h"
#include "nodus/services/metrics.h"
#include "nodus/services/transport.h"
#include "nodus/status.h"

namespace nodus::kernel {

namespace internal {
class PeerDirectory;
class PeerLink;
class PeerService;
struct OutstandingCall;
}  // namespace internal

// How the server and the client channels authenticate. This is the extension point for
// TLS/mTLS: fill both from the node's certificates. The default is plaintext.
struct TransportCredentials {
  std::shared_ptr<grpc::ServerCredentials> server = grpc::InsecureServerCredentials();
  std::shared_ptr<grpc::ChannelCredentials> channel = grpc::InsecureChannelCredentials();
};

struct GrpcTransportOptions {
  nodus::PeerId self = 0;
  // The profile name. With mTLS a peer's certificate must name it and the peer's instance in
  // a URI subjectAltName "nodus://<cluster>/instance/<id>" (`nodus certs`); see
  // internal/peer_identity.h for how each inbound sender id is checked.
  std::string cluster;
  std::string listen_address;          // "127.0.0.1:9004"; port 0 picks a free port (bound_port())
  std::vector<nodus::PeerInfo> peers;  // an entry for `self` is ignored
  size_t max_message_bytes = 4 << 20;  // per serialized envelope / request / reply
  size_t send_queue_len_max = 4096;    // per peer
  size_t receive_pending_max = 4096;   // per inbound stream, waiting for the executor
  nodus::Duration reconnect_backoff_initial = std::chrono::milliseconds(50);
  nodus::Duration reconnect_backoff_max = std::chrono::seconds(2);
  TransportCredentials credentials;
};

class GrpcTransport final : public nodus::Transport {
 public:
  // `executor`, `metrics` and `logger` must outlive this object and every task it posted.
  GrpcTransport(GrpcTransportOptions options, nodus::Executor& executor, nodus::Metrics& metrics,
                nodus::Logger& logger);
  ~GrpcTransport() override;  // stop()
  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  // Validates the options, starts the server and the per-peer senders. A port that cannot be
  // bound is UNAVAILABLE "peer endpoint 127.0.0.1:9004: Address already in use". Once only.
  nodus::Status start();
  // Cancels streams and outstanding calls, shuts the server down with a short deadline and
  // joins every thread. Idempotent. No handler starts after it returns. Call it before the
  // executor stops: pending `done` callbacks are posted to it.
  void stop();
  // The port the server listens on (useful with port 0); 0 before start().
  uint16_t bound_port() const;
  // Replaces the peer list (for tests whose peers bind port 0 and are known only after
  // start). Links to unchanged peers are kept.
  nodus::Status set_peers(std::vector<nodus::PeerInfo> peers);
  // Membership (nodus/capabilities/membership.h): the peers become the alive and suspect
  // members with a "peer" port, at their address. Links to dead and left members are dropped,
  // and send()/call() to them fail at once with UNAVAILABLE naming the member and its state,
  // until a later view has them alive again.
  nodus::Status follow_membership(const std::vector<nodus::Member>& members);

  // nodus::Transport
  nodus::PeerId self() const override { return options_.self; }
  std::vector<nodus::PeerInfo> peers() const override;
  nodus::Status send(nodus::PeerId to, std::string_view channel, std::string payload) override;
  void call(nodus::PeerId to, std::string_view method, std::string request, nodus::Duration timeout,
            nodus::CallCallback done) override;
  nodus::Status on_message(std::string channel, nodus::MessageHandler handler) override;
  nodus::Status on_call(std::string method, nodus::CallHandler handler) override;

 private:
  enum class State { kNew, kRunning, kStopped };

  nodus::Status validate_peers(const std::vector<nodus::PeerInfo>& peers) const;
  nodus::Status start_server();
  std::shared_ptr<internal::PeerLink> make_link(const nodus::PeerInfo& peer);
  // Counts the outcome and runs `done(result)` on the executor. `started` is set for calls
  // that went on the wire (their latency is recorded).
  void complete_call(nodus::CallCallback done, nodus::Result<std::string> result,
                     std::optional<std::chrono::steady_clock::time_point> started);
  void on_call_done(internal::OutstandingCall* call, const grpc::Status& status);

  const GrpcTransportOptions options_;
  nodus::Executor& executor_;
  nodus::Metrics& metrics_;
  nodus::Logger& logger_;
  const internal::TransportMetrics handles_;
  const std::shared_ptr<internal::HandlerRegistry> registry_;
  const std::shared_ptr<internal::PeerDirectory> directory_;  // peers_, for the server

  mutable std::mutex mu_;
  State state_ = State::kNew;                                           // guarded by mu_
  std::vector<nodus::PeerInfo> peers_;                                  // guarded by mu_
  std::map<nodus::PeerId, std::shared_ptr<internal::PeerLink>> links_;  // guarded by mu_
  // Membership: why each departed member is not dialled ("peer 2 left the cluster").
  std::map<nodus::PeerId, std::string> departed_;  // guarded by mu_
  std::unique_ptr<internal::PeerService> service_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t bound_port_ = 0;  // guarded by mu_

  // Outgoing calls still in flight; stop() cancels them and waits for their callbacks.
  std::mutex calls_mu_;
  std::condition_variable calls_cv_;
  bool calls_closed_ = false;  // guarded by calls_mu_
  std::map<internal::OutstandingCall*, std::unique_ptr<internal::OutstandingCall>>
      calls_;  // guarded by calls_mu_
};

}  // namespace nodus::kernel
