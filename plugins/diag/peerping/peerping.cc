#include "peerping.h"

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace nodus::diag {

// Runs on the executor only (timer and call callbacks), except stop(), which may come from
// the kernel's thread and therefore touches only atomics.
class PeerPing::Prober : public std::enable_shared_from_this<PeerPing::Prober> {
 public:
  Prober(nodus::PluginContext& ctx, const PeerPingConfig& config)
      : ctx_(ctx),
        interval_(std::chrono::milliseconds(config.interval_ms)),
        timeout_(std::chrono::milliseconds(config.timeout_ms)),
        payload_(static_cast<size_t>(config.payload_bytes), 'p'),
        reachable_(ctx.metrics().gauge("nodus_peerping_peers_reachable",
                                       "Peers that answered their last ping")) {}

  // The timer and the calls' callbacks need no "stopped" check: the kernel runs none of them
  // after this plugin's stop() (nodus/services/executor.h, transport.h).
  void schedule() {
    timer_.store(ctx_.executor().schedule_after(interval_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->tick();
    }));
  }

  void stop() { ctx_.executor().cancel(timer_.load()); }

 private:
  enum class Reach { kUnknown, kReachable, kUnreachable };

  struct PeerState {
    nodus::Histogram* rtt = nullptr;
    nodus::Counter* failures = nullptr;
    Reach reach = Reach::kUnknown;
    bool in_flight = false;  // at most one ping per peer at a time
  };

  void tick() {
    const std::vector<nodus::PeerInfo> peers = ctx_.transport().peers();
    forget_departed(peers);
    for (const nodus::PeerInfo& peer : peers) {
      if (peer.id == ctx_.transport().self()) continue;
      PeerState& state = state_for(peer.id);
      if (state.in_flight) continue;  // still waiting: timeout_ms exceeds interval_ms
      state.in_flight = true;
      const nodus::TimePoint sent = ctx_.clock().now();
      ctx_.transport().call(
          peer.id, kMethod, payload_, timeout_,
          [weak = weak_from_this(), id = peer.id, sent](nodus::Result<std::string> response) {
            if (auto self = weak.lock()) {
              self->on_response(id, sent, std::move(response));
            }
          });
    }
    schedule();
  }

  void on_response(nodus::PeerId id, nodus::TimePoint sent, nodus::Result<std::string> response) {
    auto it = peers_.find(id);
    if (it == peers_.end()) return;  // the peer left the cluster meanwhile
    PeerState& state = it->second;
    state.in_flight = false;
    const std::string peer = std::to_string(id);
    if (response.ok() && response.value() == payload_) {
      state.rtt->observe(std::chrono::duration<double>(ctx_.clock().now() - sent).count());
      if (state.reach != Reach::kReachable) ctx_.logger().info("peer reachable", {{"peer", peer}});
      state.reach = Reach::kReachable;
    } else {
      state.failures->inc();
      if (state.reach != Reach::kUnreachable) {
        const std::string error =
            response.ok() ? "echo did not match the request" : response.status().to_string();
        ctx_.logger().info("peer unreachable", {{"peer", peer}, {"error", error}});
      }
      state.reach = Reach::kUnreachable;
    }
    update_reachable();
  }

  PeerState& state_for(nodus::PeerId id) {
    auto [it, inserted] = peers_.try_emplace(id);
    if (inserted) {
      const nodus::MetricLabels labels = {{"peer", std::to_string(id)}};
      it->second.rtt = &ctx_.metrics().histogram("nodus_peerping_rtt_seconds",
                                                 "Round-trip time of answered pings",
                                                 nodus::Histogram::latency_buckets(), labels);
      it->second.failures = &ctx_.metrics().counter("nodus_peerping_failures_total",
                                                    "Pings that failed or timed out", labels);
    }
    return it->second;
  }

  void forget_departed(const std::vector<nodus::PeerInfo>& peers) {
    std::erase_if(peers_, [&](const auto& entry) {
      for (const nodus::PeerInfo& p : peers) {
        if (p.id == entry.first) return false;
      }
      return true;
    });
    update_reachable();
  }

  void update_reachable() {
    int reachable = 0;
    for (const auto& [id, state] : peers_)
      reachable += state.reach == Reach::kReachable ? 1 : 0;
    reachable_.set(reachable);
  }

  nodus::PluginContext& ctx_;
  const nodus::Duration interval_;
  const nodus::Duration timeout_;
  const std::string payload_;
  nodus::Gauge& reachable_;
  std::map<nodus::PeerId, PeerState> peers_;
  std::atomic<nodus::TimerId> timer_{nodus::kNoTimer};
};

PeerPing::PeerPing(nodus::PluginContext& ctx) : ctx_(ctx) {}

PeerPing::~PeerPing() {
  // Callbacks still queued on the executor hold only weak references: they do nothing.
  if (prober_) prober_->stop();
}

nodus::Status PeerPing::configure(const nodus::ConfigNode& config) {
  NODUS_ASSIGN_OR_RETURN(config_.interval_ms, config.get_int("interval_ms", 1000));
  if (config_.interval_ms <= 0) return config.at("interval_ms").error("must be positive");
  NODUS_ASSIGN_OR_RETURN(config_.timeout_ms, config.get_int("timeout_ms", 500));
  if (config_.timeout_ms <= 0) return config.at("timeout_ms").error("must be positive");
  NODUS_ASSIGN_OR_RETURN(config_.payload_bytes, config.get_int("payload_bytes", 64));
  if (config_.payload_bytes < 0 || config_.payload_bytes > kPayloadBytesMax) {
    return config.at("payload_bytes").error("must be in 0..65536");
  }
  return {};
}

nodus::Status PeerPing::start() {
  // The echo handler captures nothing, so it needs nothing of this object; after stop() the
  // kernel answers the method UNAVAILABLE itself.
  nodus::Status registered = ctx_.transport().on_call(
      std::string(kMethod), [](nodus::PeerId, std::string request, nodus::CallReply reply) {
        reply(std::move(request));
      });
  if (!registered.ok()) return registered.with_context(kName);
  prober_ = std::make_shared<Prober>(ctx_, config_);
  prober_->schedule();
  return {};
}

nodus::Status PeerPing::stop() {
  if (prober_) prober_->stop();
  return {};
}

nodus::CapabilityRef PeerPing::provide(std::string_view capability) {
  if (capability == kCapability) return nodus::offer<PeerPing>(this);
  return {};
}

nodus::PluginDescriptor describe_peerping() {
  nodus::PluginDescriptor d;
  d.name = std::string(PeerPing::kName);
  d.version = "0.1.0";
  d.category = "diagnostics";
  d.status = nodus::PluginStatus::kExperimental;
  d.description = "Pings every peer over the transport; reports reachability and round-trip time";
  d.provides = {std::string(PeerPing::kCapability)};
  d.config = {
      {"interval_ms", nodus::ConfigType::kInteger, false, "1000",
       "Time between ping rounds, in milliseconds (> 0)"},
      {"timeout_ms", nodus::ConfigType::kInteger, false, "500",
       "Deadline of each ping, in milliseconds (> 0)"},
      {"payload_bytes", nodus::ConfigType::kInteger, false, "64",
       "Size of each ping's payload, in bytes (0..65536)"},
  };
  d.factory = [](nodus::PluginContext& ctx) -> std::unique_ptr<nodus::Plugin> {
    return std::make_unique<PeerPing>(ctx);
  };
  return d;
}

}  // namespace nodus::diag

NODUS_PLUGIN(nodus::diag::describe_peerping)
