#include "grpc_frontend.h"

#include <deque>
#include <utility>
#include <vector>

namespace nodus::ledger {
namespace {

grpc::Status to_grpc(const Status& s) {
  return {static_cast<grpc::StatusCode>(s.code()), s.message()};
}

const grpc::Status kShuttingDown(grpc::StatusCode::UNAVAILABLE, "ledger is shutting down");
constexpr const char* kOverloaded =
    "ledger overloaded: too many transactions waiting for the executor; resend later";

// Every transaction of `request` answered with TX_RETRY and `reason`.
SubmitReply retry_reply(const SubmitRequest& request, const std::string& reason) {
  SubmitReply reply;
  reply.set_batch_id(request.batch_id());
  for (const auto& tx : request.txs()) {
    TxResult* r = reply.add_results();
    r->set_client_id(tx.client_id());
    r->set_seq(tx.seq());
    r->set_code(TX_RETRY);
    r->set_reason(reason);
  }
  return reply;
}

std::vector<Transaction> copy_txs(const SubmitRequest& request) {
  return {request.txs().begin(), request.txs().end()};
}

// How long the caller still waits: its gRPC deadline from now (Duration::max() without one).
Duration budget_of(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  const auto now = std::chrono::system_clock::now();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return Duration::max();
  }
  if (deadline <= now) return Duration::zero();
  return std::chrono::duration_cast<Duration>(deadline - now);
}

}  // namespace

// One SubmitStream: reads batches as they come, answers each when it is applied (in any
// order), one write at a time, and finishes after the client half-closed and every batch was
// answered.
class StreamReactor final : public grpc::ServerBidiReactor<SubmitRequest, SubmitReply> {
 public:
  StreamReactor(GrpcFrontend& frontend, Duration budget) : frontend_(frontend), budget_(budget) {
    id_ = frontend_.add_stream(this);
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard lock(mu_);
      reads_done_ = true;
      maybe_finish_locked();
      return;
    }
    {
      std::lock_guard lock(mu_);
      ++inflight_;
    }
    LedgerCore& core = frontend_.core();
    if (!core.accepting()) {
      enqueue(retry_reply(request_, "ledger is shutting down"));
    } else if (!core.admit(static_cast<size_t>(request_.txs_size()))) {
      enqueue(retry_reply(request_, kOverloaded));
    } else {
      GrpcFrontend* frontend = &frontend_;
      const uint64_t stream = id_;
      const uint64_t batch_id = request_.batch_id();
      core.post([&core, frontend, stream, batch_id, budget = budget_,
                 txs = copy_txs(request_)]() mutable {
        core.submit(
            std::move(txs),
            [frontend, stream, batch_id](std::vector<TxResult> results, std::string leader_hint) {
              SubmitReply reply;
              reply.set_batch_id(batch_id);
              reply.mutable_results()->Reserve(static_cast<int>(results.size()));
              for (auto& r : results)
                *reply.add_results() = std::move(r);
              reply.set_leader_hint(std::move(leader_hint));
              frontend->deliver(stream, std::move(reply));
            },
            budget);
      });
    }
    std::lock_guard lock(mu_);
    read_next_locked();
  }

  // Called from this reactor's own OnReadDone, or by GrpcFrontend::deliver() under the
  // registry lock (OnDone unregisters under that lock first), so this object is alive.
  void enqueue(SubmitReply reply) {
    std::lock_guard lock(mu_);
    --inflight_;
    if (finished_) return;
    writes_.push_back(std::move(reply));
    if (!writing_) {
      writing_ = true;
      StartWrite(&writes_.front());
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writes_.pop_front();
    if (!ok) writes_.clear();  // the client is gone; the remaining replies have no reader
    if (read_paused_) read_next_locked();
    if (!writes_.empty() && !finished_) {
      StartWrite(&writes_.front());
      return;
    }
    writing_ = false;
    maybe_finish_locked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    maybe_finish_locked();
  }

  // stop(): finish now with UNAVAILABLE (after the write in progress, if any).
  void abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    maybe_finish_locked();
  }

  void OnDone() override {
    frontend_.remove_stream(id_);
    delete this;
  }

 private:
  // Reads the next batch unless this stream holds max_stream_inflight batches already (read,
  // not yet written back); OnWriteDone resumes it. No reads after Finish (stop() or cancel).
  void read_next_locked() {
    read_paused_ = false;
    if (finished_ || reads_done_) return;
    if (inflight_ + writes_.size() >= frontend_.max_stream_inflight()) {
      read_paused_ = true;
      return;
    }
    StartRead(&request_);
  }

  void maybe_finish_locked() {
    if (finished_ || writing_) return;
    if (aborted_ || cancelled_) {
      finished_ = true;
      Finish(aborted_ ? kShuttingDown : grpc::Status::CANCELLED);
    } else if (reads_done_ && inflight_ == 0) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  GrpcFrontend& frontend_;
  const Duration budget_;  // the stream's deadline, as time left when it opened
  uint64_t id_ = 0;
  SubmitRequest request_;
  std::mutex mu_;
  std::deque<SubmitReply> writes_;
  size_t inflight_ = 0;
  bool writing_ = false;
  bool read_paused_ = false;
  bool reads_done_ = false;
  bool cancelled_ = false;
  bool aborted_ = false;
  bool finished_ = false;
};

GrpcFrontend::~GrpcFrontend() {
  stop();
}

Status GrpcFrontend::start(const std::string& host, uint16_t port) {
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  if (!server_ || bound == 0) {
    server_.reset();
    return unavailable("ledger gRPC: cannot listen on " + host + ":" + std::to_string(port));
  }
  port_ = static_cast<uint16_t>(bound);
  return {};
}

void GrpcFrontend::stop() {
  if (!server_) return;
  {
    // Answer every call still waiting for the executor; their late answers are dropped.
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [id, r] : calls_)
      r->Finish(kShuttingDown);
    calls_.clear();
    for (auto& [id, s] : streams_)
      s->abort();
  }
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_.reset();
}

uint64_t GrpcFrontend::add_call(grpc::ServerUnaryReactor* r) {
  std::lock_guard lock(mu_);
  if (stopped_) {
    r->Finish(kShuttingDown);
    return 0;
  }
  const uint64_t id = next_id_++;
  calls_.emplace(id, r);
  return id;
}

grpc::ServerUnaryReactor* GrpcFrontend::take_call(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = calls_.find(id);
  if (it == calls_.end()) return nullptr;
  auto* r = it->second;
  calls_.erase(it);
  return r;
}

uint64_t GrpcFrontend::add_stream(StreamReactor* s) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  streams_.emplace(id, s);
  if (stopped_) s->abort();
  return id;
}

void GrpcFrontend::remove_stream(uint64_t id) {
  std::lock_guard lock(mu_);
  streams_.erase(id);
}

void GrpcFrontend::deliver(uint64_t stream, SubmitReply reply) {
  std::lock_guard lock(mu_);
  auto it = streams_.find(stream);
  if (it != streams_.end()) it->second->enqueue(std::move(reply));
}

grpc::ServerUnaryReactor* GrpcFrontend::Submit(grpc::CallbackServerContext* ctx,
                                               const grpc::ByteBuffer* request,
                                               grpc::ByteBuffer* response) {
  auto* reactor = ctx->DefaultReactor();
  if (!core_.accepting()) {
    reactor->Finish(kShuttingDown);
    return reactor;
  }
  SubmitRequest parsed;
  grpc::ByteBuffer body(*request);  // shares the slices; Deserialize consumes its argument
  if (!grpc::SerializationTraits<SubmitRequest>::Deserialize(&body, &parsed).ok()) {
    reactor->Finish({grpc::StatusCode::INVALID_ARGUMENT,
                     "request is not a valid nodus.ledger.v1.SubmitRequest"});
    return reactor;
  }
  if (!core_.admit(static_cast<size_t>(parsed.txs_size()))) {
    bool own = false;
    reactor->Finish(grpc::SerializationTraits<SubmitReply>::Serialize(
        retry_reply(parsed, kOverloaded), response, &own));
    return reactor;
  }
  const uint64_t id = add_call(reactor);
  if (id == 0) return reactor;
  core_.post([this, id, response, batch_id = parsed.batch_id(), budget = budget_of(ctx),
              txs = copy_txs(parsed)]() mutable {
    core_.submit(
        std::move(txs),
        [this, id, response, batch_id](std::vector<TxResult> results, std::string leader_hint) {
          grpc::ServerUnaryReactor* r = take_call(id);
          if (r == nullptr) return;  // answered by stop()
          SubmitReply reply;
          reply.set_batch_id(batch_id);
          reply.mutable_results()->Reserve(static_cast<int>(results.size()));
          for (auto& res : results)
            *reply.add_results() = std::move(res);
          reply.set_leader_hint(std::move(leader_hint));
          bool own = false;
          grpc::Status st =
              grpc::SerializationTraits<SubmitReply>::Serialize(reply, response, &own);
          r->Finish(st);
        },
        budget);
  });
  return reactor;
}

grpc::ServerBidiReactor<SubmitRequest, SubmitReply>* GrpcFrontend::SubmitStream(
    grpc::CallbackServerContext* ctx) {
  return new StreamReactor(*this, budget_of(ctx));
}

template <class Reply, class Start>
grpc::ServerUnaryReactor* GrpcFrontend::serve_read(grpc::CallbackServerContext* ctx, Reply* reply,
                                                   Start start) {
  auto* reactor = ctx->DefaultReactor();
  if (!core_.accepting()) {
    reactor->Finish(kShuttingDown);
    return reactor;
  }
  if (!core_.admit_read()) {
    reactor->Finish(
        {grpc::StatusCode::RESOURCE_EXHAUSTED,
         "ledger overloaded: too many reads waiting (max_pending_reads); resend later"});
    return reactor;
  }
  const uint64_t id = add_call(reactor);
  if (id == 0) return reactor;  // stopping: the admitted read never reaches the core
  core_.post([this, id, reply, start = std::move(start)]() mutable {
    start([this, id, reply](Status s, Reply out) {
      grpc::ServerUnaryReactor* r = take_call(id);
      if (r == nullptr) return;
      if (s.ok()) *reply = std::move(out);
      r->Finish(to_grpc(s));
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* GrpcFrontend::GetAccount(grpc::CallbackServerContext* ctx,
                                                   const GetAccountRequest* request,
                                                   GetAccountReply* reply) {
  return serve_read(ctx, reply,
                    [this, account = request->account(),
                     lin = request->linearizable()](LedgerCore::ReadDone<GetAccountReply> done) {
                      core_.get_account(account, lin, std::move(done));
                    });
}

grpc::ServerUnaryReactor* GrpcFrontend::Get(grpc::CallbackServerContext* ctx,
                                            const GetRequest* request, GetReply* reply) {
  return serve_read(
      ctx, reply,
      [this, key = request->key(), lin = request->linearizable()](
          LedgerCore::ReadDone<GetReply> done) { core_.get(key, lin, std::move(done)); });
}

}  // namespace nodus::ledger
