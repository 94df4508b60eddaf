// prometheus_exposer.h: the io.nodus.metrics.prometheus plugin. Serves /metrics on the
// instance's "metrics" port with prometheus-cpp: every kernel and plugin metric registered
// through the SDK, with an `instance` label, plus the standard process_* metrics.
//
// It is a data-path plugin: the HTTP server (civetweb, inside prometheus-cpp) runs its own
// threads, which only read the metrics registry (thread-safe) and /proc/self.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "nodus/plugin.h"

namespace prometheus {
class Exposer;
}

namespace nodus::metrics {

struct ExposerConfig {
  std::string bind_address = "127.0.0.1";
  int64_t port = 0;  // 0: the instance's "metrics" port
  std::string path = "/metrics";
  int64_t threads = 2;
};

class PrometheusExposer final : public nodus::Plugin {
 public:
  static constexpr std::string_view kName = "io.nodus.metrics.prometheus";
  static constexpr std::string_view kCapability = "nodus.metrics.exposer/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;

  explicit PrometheusExposer(nodus::PluginContext& ctx);
  ~PrometheusExposer() override;
  PrometheusExposer(const PrometheusExposer&) = delete;
  PrometheusExposer& operator=(const PrometheusExposer&) = delete;

  nodus::Status configure(const nodus::ConfigNode& config) override;
  nodus::Status start() override;
  nodus::Status stop() override;
  nodus::CapabilityRef provide(std::string_view capability) override;

  // The port actually listened on (0 before start).
  uint16_t port() const { return bound_port_; }

 private:
  class Collector;

  nodus::PluginContext& ctx_;
  ExposerConfig config_;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint16_t bound_port_ = 0;
};

nodus::PluginDescriptor describe_prometheus_exposer();

}  // namespace nodus::metrics
