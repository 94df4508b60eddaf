#include "prometheus_exposer.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <exception>

#include "family_convert.h"

namespace nodus::metrics {

// Called by the exposer's HTTP threads for every scrape.
class PrometheusExposer::Collector final : public prometheus::Collectable {
 public:
  explicit Collector(nodus::PluginContext& ctx)
      : ctx_(ctx),
        labels_{{"instance", std::to_string(ctx.instance().index)}},
        scrapes_(ctx.metrics().counter("nodus_metrics_scrapes_total",
                                       "Scrapes of this instance's /metrics endpoint")),
        collect_(ctx.metrics().histogram("nodus_metrics_collect_duration_seconds",
                                         "Time to collect and convert every series for a scrape",
                                         nodus::Histogram::latency_buckets())) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    const nodus::TimePoint started = ctx_.clock().now();
    scrapes_.inc();
    std::vector<prometheus::MetricFamily> out;
    try {
      out = to_prometheus(ctx_.metrics().collect(), labels_);
      append_process_metrics(out, labels_);
    } catch (const std::exception& e) {
      // Only allocation can throw here; a failed scrape must not take the process down.
      ctx_.logger().error(std::string("metrics scrape failed: ") + e.what());
      return {};
    }
    collect_.observe(std::chrono::duration<double>(ctx_.clock().now() - started).count());
    return out;
  }

 private:
  nodus::PluginContext& ctx_;
  const nodus::MetricLabels labels_;
  nodus::Counter& scrapes_;
  nodus::Histogram& collect_;
};

PrometheusExposer::PrometheusExposer(nodus::PluginContext& ctx) : ctx_(ctx) {}

PrometheusExposer::~PrometheusExposer() {
  (void)stop();
}

nodus::Status PrometheusExposer::configure(const nodus::ConfigNode& config) {
  NODUS_ASSIGN_OR_RETURN(config_.bind_address, config.get_string("bind_address", "127.0.0.1"));
  if (config_.bind_address.empty()) return config.at("bind_address").error("must not be empty");
  if (config_.bind_address == "localhost") config_.bind_address = "127.0.0.1";
  NODUS_ASSIGN_OR_RETURN(config_.port, config.get_int("port", 0));
  if (config_.port < 0 || config_.port > 65535)
    return config.at("port").error("must be in 0..65535");
  NODUS_ASSIGN_OR_RETURN(config_.path, config.get_string("path", "/metrics"));
  if (config_.path.empty() || config_.path[0] != '/') {
    return config.at("path").error("must start with '/'");
  }
  NODUS_ASSIGN_OR_RETURN(config_.threads, config.get_int("threads", 2));
  if (config_.threads < 1 || config_.threads > 16)
    return config.at("threads").error("must be in 1..16");
  return {};
}

nodus::Status PrometheusExposer::start() {
  const uint16_t port =
      config_.port != 0 ? static_cast<uint16_t>(config_.port) : ctx_.instance().port("metrics");
  if (port == 0) {
    return failed_precondition(std::string(kName) +
                               ": the profile defines no 'metrics' port and no port is configured");
  }
  const std::string host = config_.bind_address.find(':') != std::string::npos
                               ? "[" + config_.bind_address + "]"
                               : config_.bind_address;
  const std::string listen = host + ":" + std::to_string(port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, static_cast<size_t>(config_.threads));
  } catch (const std::exception& e) {
    return unavailable(std::string(kName) + ": cannot listen on " + listen + ": " + e.what());
  }
  collector_ = std::make_shared<Collector>(ctx_);
  exposer_->RegisterCollectable(collector_, config_.path);
  const std::vector<int> ports = exposer_->GetListeningPorts();
  bound_port_ = ports.empty() ? port : static_cast<uint16_t>(ports.front());
  ctx_.logger().info("serving metrics", {{"address", listen}, {"path", config_.path}});
  return {};
}

nodus::Status PrometheusExposer::stop() {
  // Destroying the exposer joins its HTTP threads, so no scrape outlives the collector.
  exposer_.reset();
  collector_.reset();
  bound_port_ = 0;
  return {};
}

nodus::CapabilityRef PrometheusExposer::provide(std::string_view capability) {
  if (capability == kCapability) return nodus::offer<PrometheusExposer>(this);
  return {};
}

nodus::PluginDescriptor describe_prometheus_exposer() {
  using nodus::ConfigType;
  nodus::PluginDescriptor d;
  d.name = std::string(PrometheusExposer::kName);
  d.version = "0.1.0";
  d.category = "metrics";
  d.status = nodus::PluginStatus::kStable;
  d.description = "Serves the instance's metrics and process metrics for Prometheus";
  d.provides = {std::string(PrometheusExposer::kCapability)};
  d.config = {
      {"bind_address", ConfigType::kString, false, "127.0.0.1",
       "Address to listen on (0.0.0.0 to be scraped from outside a container)"},
      {"port", ConfigType::kInteger, false, "0", "Port; 0 takes the instance's 'metrics' port"},
      {"path", ConfigType::kString, false, "/metrics", "HTTP path of the exposition"},
      {"threads", ConfigType::kInteger, false, "2", "HTTP server threads, 1..16"},
  };
  d.factory = [](nodus::PluginContext& ctx) -> std::unique_ptr<nodus::Plugin> {
    return std::make_unique<PrometheusExposer>(ctx);
  };
  return d;
}

}  // namespace nodus::metrics

NODUS_PLUGIN(nodus::metrics::describe_prometheus_exposer)
