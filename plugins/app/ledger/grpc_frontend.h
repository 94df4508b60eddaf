// grpc_frontend.h: the nodus.ledger.v1.Ledger gRPC service, on gRPC's callback API.
//
// No request holds a thread while it waits: each handler copies its request, posts it to the
// executor through LedgerCore and returns; the reply is sent from the executor. Calls still
// waiting are kept in a registry, so stop() can answer them (UNAVAILABLE) without the
// executor, and a late answer for a call already answered is dropped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "ledger.grpc.pb.h"
#include "ledger_core.h"
#include "ledger_types.h"

namespace nodus::ledger {

class StreamReactor;

// Submit is registered raw so that a body that is not a SubmitRequest gets a clear
// INVALID_ARGUMENT (the generated callback handler would answer UNIMPLEMENTED).
using LedgerServiceBase =
    Ledger::WithRawCallbackMethod_Submit<Ledger::WithCallbackMethod_SubmitStream<
        Ledger::WithCallbackMethod_GetAccount<Ledger::WithCallbackMethod_Get<Ledger::Service>>>>;

class GrpcFrontend final : public LedgerServiceBase {
 public:
  // A SubmitStream stops reading while `max_stream_inflight` of its batches are read but not
  // yet written back, so a client that does not read its replies cannot pile them up here.
  explicit GrpcFrontend(LedgerCore& core, size_t max_stream_inflight = 64)
      : core_(core), max_stream_inflight_(max_stream_inflight) {}
  ~GrpcFrontend() override;
  GrpcFrontend(const GrpcFrontend&) = delete;
  GrpcFrontend& operator=(const GrpcFrontend&) = delete;

  // Binds host:port (port 0 picks one; see port()).
  Status start(const std::string& host, uint16_t port);
  void stop();
  uint16_t port() const { return port_; }

  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* ctx,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<SubmitRequest, SubmitReply>* SubmitStream(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* GetAccount(grpc::CallbackServerContext* ctx,
                                       const GetAccountRequest* request,
                                       GetAccountReply* reply) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const GetRequest* request,
                                GetReply* reply) override;

  // Used by StreamReactor.
  LedgerCore& core() { return core_; }
  size_t max_stream_inflight() const { return max_stream_inflight_; }
  uint64_t add_stream(StreamReactor* s);
  void remove_stream(uint64_t id);
  void deliver(uint64_t stream, SubmitReply reply);

 private:
  uint64_t add_call(grpc::ServerUnaryReactor* r);
  // The reactor of a call still waiting (and forgets it), or nullptr.
  grpc::ServerUnaryReactor* take_call(uint64_t id);
  // GetAccount and Get: runs `start(done)` on the executor and finishes the call with its
  // answer (the read itself is the core's: local, or behind a ReadIndex barrier).
  template <class Reply, class Start>
  grpc::ServerUnaryReactor* serve_read(grpc::CallbackServerContext* ctx, Reply* reply, Start start);

  LedgerCore& core_;
  size_t max_stream_inflight_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
  std::mutex mu_;
  bool stopped_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, grpc::ServerUnaryReactor*> calls_;
  std::map<uint64_t, StreamReactor*> streams_;
};

}  // namespace nodus::ledger
