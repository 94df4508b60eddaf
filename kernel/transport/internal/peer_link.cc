#include "kernel/transport/internal/peer_link.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <utility>

namespace nodus::kernel::internal {
namespace {

// Pings on a stream with no traffic detect a peer that vanished without closing its
// connection (power loss, partition). The server side permits this interval.
constexpr int kKeepaliveTimeMs = 10'000;
constexpr int kKeepaliveTimeoutMs = 5'000;

int to_int_ms(nodus::Duration d) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 1, std::numeric_limits<int>::max()));
}

int to_int_bytes(size_t bytes) {
  return static_cast<int>(std::min<size_t>(bytes, std::numeric_limits<int>::max()));
}

// A peer that answers a stream with one of these refused its content (over its message size
// limit, unparsable), as opposed to being unreachable.
bool is_rejection(grpc::StatusCode code) {
  return code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::INVALID_ARGUMENT;
}

std::string grpc_status_text(const grpc::Status& status) {
  return std::string(nodus::status_code_name(static_cast<nodus::StatusCode>(status.error_code()))) +
         ": " + status.error_message();
}

}  // namespace

PeerLink::PeerLink(PeerLinkOptions options, const TransportMetrics& metrics,
                   nodus::Metrics& registry, nodus::Logger& logger)
    : options_(std::move(options)),
      name_("peer " + std::to_string(options_.peer.id) + " (" + options_.peer.address + ")"),
      metrics_(metrics),
      reconnects_(registry.counter("nodus_transport_reconnects_total",
                                   "Attempts to reopen a peer stream after a failure",
                                   {{"peer", std::to_string(options_.peer.id)}})),
      logger_(logger) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(to_int_bytes(options_.max_message_bytes));
  args.SetMaxSendMessageSize(to_int_bytes(options_.max_message_bytes));
  // gRPC's own connection backoff follows ours, so a restarted peer is found quickly.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, to_int_ms(options_.backoff_initial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, to_int_ms(options_.backoff_max));
  // Several transports in one process (tests, the simulation harness) never share sockets.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);  // keep probing an idle stream
  channel_ = grpc::CreateCustomChannel(options_.peer.address, options_.credentials, args);
  stub_ = nodus::v1::Peer::NewStub(channel_);
}

PeerLink::~PeerLink() {
  stop();
}

void PeerLink::start() {
  thread_ = std::thread([this] { run(); });
}

void PeerLink::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (context_) context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

nodus::Status PeerLink::enqueue(std::string_view channel, std::string payload) {
  nodus::v1::Envelope envelope;
  envelope.set_from(options_.self);
  envelope.set_channel(std::string(channel));
  envelope.set_payload(std::move(payload));
  envelope.set_seq(std::numeric_limits<uint64_t>::max());  // size with the widest seq
  const size_t size = envelope.ByteSizeLong();
  if (size > options_.max_message_bytes) {
    metrics_.dropped_too_large.inc();
    return nodus::invalid_argument(name_ + ": message on '" + std::string(channel) + "' of " +
                                   std::to_string(size) + " bytes exceeds max_message_bytes " +
                                   std::to_string(options_.max_message_bytes));
  }
  bool was_empty = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return nodus::unavailable(name_ + ": transport stopped");
    if (queue_.size() + pending_len_.load() >= options_.queue_len_max) {
      metrics_.dropped_queue_full.inc();
      return nodus::resource_exhausted(name_ + ": send queue full (" +
                                       std::to_string(options_.queue_len_max) + " messages)");
    }
    envelope.set_seq(next_seq_++);
    was_empty = queue_.empty();
    queue_.push_back(std::move(envelope));
  }
  if (was_empty) cv_.notify_all();
  return {};
}

void PeerLink::run() {
  std::minstd_rand rng(std::random_device{}());
  nodus::Duration backoff = options_.backoff_initial;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !pending_.empty(); });
      if (stopping_) break;
      while (!queue_.empty()) {
        pending_.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      pending_len_.store(pending_.size());
    }
    if (write_pending()) {
      backoff = options_.backoff_initial;
      continue;
    }
    // Equal jitter: somewhere in [backoff/2, backoff], so that peers do not retry in step.
    std::uniform_int_distribution<int64_t> jitter(0, backoff.count() / 2);
    if (!wait_backoff(backoff - nodus::Duration(jitter(rng)))) break;
    backoff = std::min(backoff * 2, options_.backoff_max);
    reconnects_.inc();
  }
  close_stream();  // stop() cancelled it, so this returns promptly
  size_t discarded = pending_.size();
  pending_.clear();
  pending_len_.store(0);
  {
    std::lock_guard lock(mu_);
    discarded += queue_.size();
    queue_.clear();
  }
  metrics_.dropped_stopped.inc(static_cast<double>(discarded));
}

bool PeerLink::write_pending() {
  if (!writer_ && !open_stream()) return false;
  while (!pending_.empty()) {
    grpc::WriteOptions options;
    // Every write but the last of a batch may sit in gRPC's buffer: one flush per batch.
    if (pending_.size() > 1) options.set_buffer_hint();
    if (!writer_->Write(pending_.front(), options)) {
      on_stream_failure();
      return false;
    }
    pending_.pop_front();
    pending_len_.fetch_sub(1);
    ++stream_writes_;
    metrics_.sent.inc();
  }
  if (!healthy_) {
    healthy_ = true;
    logger_.info("peer stream re-established", {{"peer", name_}});
  }
  return true;
}

bool PeerLink::open_stream() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    context_ = std::make_unique<grpc::ClientContext>();
  }
  ack_.Clear();
  stream_writes_ = 0;
  writer_ = stub_->Stream(context_.get(), &ack_);
  return true;
}

grpc::Status PeerLink::close_stream() {
  if (!writer_) return grpc::Status::OK;
  grpc::Status status = writer_->Finish();
  writer_.reset();
  std::lock_guard lock(mu_);
  context_.reset();
  return status;
}

void PeerLink::on_stream_failure() {
  const uint64_t writes = stream_writes_;
  const grpc::Status status = close_stream();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;  // cancelled by stop(): not a peer failure
  }
  if (is_rejection(status.error_code())) {
    metrics_.dropped_rejected.inc();
    // A stream that failed on its first write failed because of that envelope: drop it, or it
    // would wedge the link. Otherwise the culprit was already written and is gone.
    if (writes == 0 && !pending_.empty()) {
      pending_.pop_front();
      pending_len_.fetch_sub(1);
    }
    logger_.warn("peer rejected a message",
                 {{"peer", name_}, {"status", grpc_status_text(status)}});
  }
  if (healthy_) {
    healthy_ = false;
    logger_.warn("peer stream failed", {{"peer", name_}, {"status", grpc_status_text(status)}});
  }
}

bool PeerLink::wait_backoff(nodus::Duration delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return stopping_; });
}

}  // namespace nodus::kernel::internal
