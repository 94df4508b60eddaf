// peerping.h: the io.nodus.diag.peerping plugin, a transport health probe.
//
// Every interval_ms it calls io.nodus.diag.peerping.ping on every peer the transport knows,
// with a payload of payload_bytes, and records round-trip time, failures and how many peers
// answered. It answers the same method by echoing the request. It uses only the services of
// its PluginContext (executor timers, clock, transport, metrics, logger), so it runs
// unchanged under the simulation harness.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "nodus/plugin.h"

namespace nodus::diag {

struct PeerPingConfig {
  int64_t interval_ms = 1000;
  int64_t timeout_ms = 500;
  int64_t payload_bytes = 64;
};

class PeerPing final : public nodus::Plugin {
 public:
  static constexpr std::string_view kName = "io.nodus.diag.peerping";
  static constexpr std::string_view kCapability = "nodus.diag.peerping/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;
  static constexpr std::string_view kMethod = "io.nodus.diag.peerping.ping";
  static constexpr int64_t kPayloadBytesMax = 65536;

  explicit PeerPing(nodus::PluginContext& ctx);
  ~PeerPing() override;
  PeerPing(const PeerPing&) = delete;
  PeerPing& operator=(const PeerPing&) = delete;

  nodus::Status configure(const nodus::ConfigNode& config) override;
  nodus::Status start() override;
  nodus::Status stop() override;
  // The capability object is the plugin itself; it has no methods yet.
  nodus::CapabilityRef provide(std::string_view capability) override;
  bool ready() const override { return true; }  // diagnostic: never holds readiness back

 private:
  class Prober;  // the state timers and call callbacks share, by weak_ptr

  nodus::PluginContext& ctx_;
  PeerPingConfig config_;
  std::shared_ptr<Prober> prober_;
};

nodus::PluginDescriptor describe_peerping();

}  // namespace nodus::diag
