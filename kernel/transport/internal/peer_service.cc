#include "kernel/transport/internal/peer_service.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace nodus::kernel::internal {
namespace {

// Counts a refused sender in `counter` and logs it (the 1st, 2nd, 4th ... refusal of the
// service, see log_refusal), with the refusal number added to `fields`.
void note_refusal(const PeerServiceDeps& deps, nodus::Counter& counter, std::string_view message,
                  nodus::LogFields fields) {
  counter.inc();
  const uint64_t n = deps.refusals->fetch_add(1, std::memory_order_relaxed) + 1;
  if (!log_refusal(n)) return;
  fields.emplace_back("refused", std::to_string(n));
  deps.logger->warn(message, fields);
}

using nodus::v1::Envelope;

// ---- one-way messages ----------------------------------------------------------------

// The flow-control state a stream shares with the tasks it posted. The reactor stays valid
// until it calls Finish(), which `finished` records.
struct StreamFlow {
  std::mutex mu;
  size_t pending = 0;   // envelopes posted to the executor and not yet handled
  bool paused = false;  // no read outstanding because `pending` reached the bound
  bool finished = false;
};

void deliver_message(const HandlerRegistry& registry, nodus::Counter& no_handler,
                     nodus::Logger& logger, nodus::PeerId from, const std::string& channel,
                     std::string payload) {
  auto handler = registry.message_handler(channel);
  if (!handler) {
    if (registry.closed()) return;  // stopping: nothing is delivered any more
    no_handler.inc();
    logger.debug("dropped message on a channel with no handler",
                 {{"peer", std::to_string(from)}, {"channel", channel}});
    return;
  }
  // Caught here so that one faulty handler cannot stall the stream's flow control.
  try {
    (*handler)(from, std::move(payload));
  } catch (const std::exception& e) {
    logger.error("message handler threw",
                 {{"peer", std::to_string(from)}, {"channel", channel}, {"error", e.what()}});
  } catch (...) {
    logger.error("message handler threw", {{"peer", std::to_string(from)}, {"channel", channel}});
  }
}

class StreamReactor final : public grpc::ServerReadReactor<grpc::ByteBuffer> {
 public:
  StreamReactor(const PeerServiceDeps& deps, grpc::ByteBuffer* ack, Caller caller)
      : deps_(deps), ack_(ack), flow_(std::make_shared<StreamFlow>()), caller_(std::move(caller)) {
    StartRead(&raw_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the sender closed the stream, or it broke
      finish(grpc::Status::OK);
      return;
    }
    // Decode here rather than in gRPC: bytes that are not an Envelope are counted and skipped,
    // and the stream carries on with the next message.
    envelope_.Clear();
    const size_t bytes = raw_.Length();
    const grpc::Status decoded =
        grpc::SerializationTraits<Envelope>::Deserialize(&raw_, &envelope_);
    if (!decoded.ok()) {
      deps_.metrics->dropped_corrupt.inc();
      if (!corrupt_logged_) {  // once per stream: a broken sender must not flood the log
        corrupt_logged_ = true;
        deps_.logger->warn(
            "dropped a corrupt message (counted in "
            "nodus_transport_messages_dropped_total{reason=\"corrupt\"})",
            {{"bytes", std::to_string(bytes)}, {"error", decoded.error_message()}});
      }
      raw_.Clear();
      StartRead(&raw_);
      return;
    }
    if (!sender_allowed(envelope_.from())) {
      raw_.Clear();
      StartRead(&raw_);
      return;
    }
    received_.fetch_add(1, std::memory_order_relaxed);
    deps_.metrics->received.inc();
    post_envelope();
    bool pause = false;
    {
      std::lock_guard lock(flow_->mu);
      ++flow_->pending;
      pause = flow_->pending >= deps_.receive_pending_max;
      flow_->paused = pause;
    }
    if (!pause) StartRead(&raw_);
  }

  void OnCancel() override {
    // A paused stream has no read outstanding that would report the cancellation.
    bool paused = false;
    {
      std::lock_guard lock(flow_->mu);
      paused = flow_->paused;
    }
    if (paused) finish(grpc::Status::CANCELLED);
  }

  void OnDone() override { delete this; }

 private:
  // The first accepted envelope binds the stream to its sender; an envelope that claims another
  // sender, or one the connection cannot vouch for, is dropped and counted.
  bool sender_allowed(nodus::PeerId from) {
    std::string reason;
    if (bound_from_) {
      if (*bound_from_ == from) return true;
      reason = "sender " + std::to_string(from) + " from " + caller_.describe +
               ": the stream already carries peer " + std::to_string(*bound_from_) + "'s messages";
    } else {
      reason = refuse_reason(caller_, from, deps_.self, *deps_.peers);
      if (reason.empty()) {
        bound_from_ = from;
        return true;
      }
    }
    note_refusal(deps_, deps_.metrics->dropped_forged,
                 "dropped a message with a forged sender (counted in "
                 "nodus_transport_messages_dropped_total{reason=\"forged_sender\"})",
                 {{"reason", reason}});
    return false;
  }

  void post_envelope() {
    deps_.executor->post([registry = deps_.registry, flow = flow_, reactor = this,
                          no_handler = &deps_.metrics->dropped_no_handler, logger = deps_.logger,
                          low_water = deps_.receive_pending_max / 2, from = envelope_.from(),
                          channel = std::move(*envelope_.mutable_channel()),
                          payload = std::move(*envelope_.mutable_payload())]() mutable {
      deliver_message(*registry, *no_handler, *logger, from, channel, std::move(payload));
      on_handled(*flow, reactor, low_water);
    });
  }

  // Runs on the executor after each envelope; resumes a paused stream at the low-water mark.
  static void on_handled(StreamFlow& flow, StreamReactor* reactor, size_t low_water) {
    {
      std::lock_guard lock(flow.mu);
      --flow.pending;
      if (!flow.paused || flow.finished || flow.pending > low_water) return;
      flow.paused = false;
    }
    // Not finished, so the reactor is alive: only Finish() leads to OnDone().
    reactor->StartRead(&reactor->raw_);
  }

  void finish(const grpc::Status& status) {
    {
      std::lock_guard lock(flow_->mu);
      if (flow_->finished) return;
      flow_->finished = true;
    }
    nodus::v1::StreamAck ack;
    ack.set_received(received_.load(std::memory_order_relaxed));
    bool own_buffer = false;
    (void)grpc::SerializationTraits<nodus::v1::StreamAck>::Serialize(ack, ack_, &own_buffer);
    Finish(status);
  }

  const PeerServiceDeps& deps_;
  grpc::ByteBuffer* const ack_;
  const std::shared_ptr<StreamFlow> flow_;
  grpc::ByteBuffer raw_;
  Envelope envelope_;
  bool corrupt_logged_ = false;
  const Caller caller_;
  std::optional<nodus::PeerId> bound_from_;
  std::atomic<uint64_t> received_{0};
};

// ---- calls ---------------------------------------------------------------------------

// One inbound call, shared by its reactor and the reply closure handed to the handler. The
// RPC completes exactly once: by the handler's reply, by cancellation, or by an error.
struct PendingCall {
  std::mutex mu;
  bool finished = false;
  grpc::ServerUnaryReactor* reactor = nullptr;  // valid until finished
  nodus::v1::CallResponse* response = nullptr;  // valid until finished
  size_t max_message_bytes = 0;
  std::string method;

  bool claim() {
    std::lock_guard lock(mu);
    if (finished) return false;
    finished = true;
    return true;
  }

  void fail(const grpc::Status& status) {
    if (claim()) reactor->Finish(status);
  }

  void reply(nodus::Result<std::string> result) {
    if (!claim()) return;  // late reply: the caller gave up or the node is stopping
    if (!result.ok()) {
      response->set_code(static_cast<int32_t>(result.status().code()));
      response->set_message(result.status().message());
      reactor->Finish(grpc::Status::OK);
      return;
    }
    response->set_payload(std::move(result).value());
    if (response->ByteSizeLong() > max_message_bytes) {
      const size_t size = response->ByteSizeLong();
      response->Clear();
      reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "reply to '" + method + "' of " + std::to_string(size) +
                                       " bytes exceeds max_message_bytes " +
                                       std::to_string(max_message_bytes)));
      return;
    }
    reactor->Finish(grpc::Status::OK);
  }
};

// Completes the call when the handler drops every copy of its reply without using it, so the
// caller learns at once instead of at its deadline.
struct ReplyGuard {
  explicit ReplyGuard(std::shared_ptr<PendingCall> p) : pending(std::move(p)) {}
  ReplyGuard(const ReplyGuard&) = delete;
  ReplyGuard& operator=(const ReplyGuard&) = delete;
  ~ReplyGuard() {
    pending->fail(grpc::Status(grpc::StatusCode::INTERNAL,
                               "handler for '" + pending->method + "' dropped its reply"));
  }
  std::shared_ptr<PendingCall> pending;
};

class CallReactor final : public grpc::ServerUnaryReactor {
 public:
  explicit CallReactor(std::shared_ptr<PendingCall> pending) : pending_(std::move(pending)) {}
  void OnCancel() override { pending_->fail(grpc::Status::CANCELLED); }
  void OnDone() override { delete this; }

 private:
  const std::shared_ptr<PendingCall> pending_;
};

void dispatch_call(const HandlerRegistry& registry, nodus::Logger& logger, nodus::PeerId self,
                   const std::shared_ptr<PendingCall>& pending, nodus::PeerId from,
                   std::string payload) {
  if (registry.closed()) {
    pending->fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "peer " + std::to_string(self) + " is stopping"));
    return;
  }
  auto handler = registry.call_handler(pending->method);
  if (!handler) {
    pending->fail(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                               "no handler registered for '" + pending->method + "'"));
    return;
  }
  auto guard = std::make_shared<ReplyGuard>(pending);
  try {
    (*handler)(from, std::move(payload), [guard](nodus::Result<std::string> response) {
      guard->pending->reply(std::move(response));
    });
  } catch (const std::exception& e) {
    logger.error("call handler threw", {{"method", pending->method}, {"error", e.what()}});
    pending->fail(grpc::Status(grpc::StatusCode::INTERNAL,
                               "handler for '" + pending->method + "' threw: " + e.what()));
  } catch (...) {
    logger.error("call handler threw", {{"method", pending->method}});
    pending->fail(
        grpc::Status(grpc::StatusCode::INTERNAL, "handler for '" + pending->method + "' threw"));
  }
}

}  // namespace

grpc::ServerReadReactor<grpc::ByteBuffer>* PeerService::Stream(grpc::CallbackServerContext* context,
                                                               grpc::ByteBuffer* ack) {
  return new StreamReactor(deps_, ack, caller_of(*context, deps_.cluster));
}

grpc::ServerUnaryReactor* PeerService::Call(grpc::CallbackServerContext* context,
                                            const nodus::v1::CallRequest* request,
                                            nodus::v1::CallResponse* response) {
  const std::string reason =
      refuse_reason(caller_of(*context, deps_.cluster), request->from(), deps_.self, *deps_.peers);
  if (!reason.empty()) {
    note_refusal(deps_, deps_.metrics->calls_refused_forged,
                 "refused a call with a forged sender (counted in "
                 "nodus_transport_calls_refused_total{reason=\"forged_sender\"})",
                 {{"method", request->method()}, {"reason", reason}});
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "peer transport: " + reason));
    return reactor;
  }
  auto pending = std::make_shared<PendingCall>();
  auto* reactor = new CallReactor(pending);
  pending->reactor = reactor;
  pending->response = response;
  pending->max_message_bytes = deps_.max_message_bytes;
  pending->method = request->method();
  // The reactor may be finished from the executor before this returns; gRPC keeps the
  // Finish() until the reactor is bound to the call.
  deps_.executor->post([registry = deps_.registry, logger = deps_.logger, self = deps_.self,
                        pending, from = request->from(), payload = request->payload()]() mutable {
    dispatch_call(*registry, *logger, self, pending, from, std::move(payload));
  });
  return reactor;
}

}  // namespace nodus::kernel::internal
