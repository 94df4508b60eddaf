#include "nodus/harness/test_node.h"

#include <map>
#include <utility>

#include "kernel/config/yaml_loader.h"
#include "kernel/loader/plugin_loader.h"
#include "kernel/node/plugin_host.h"
#include "kernel/runtime/event_bus.h"
#include "kernel/runtime/metrics_registry.h"

namespace nodus::testing {
namespace {

// The host owns one Storage per plugin; tests want to reach the same MemoryStorage, so the
// host gets a thin forwarder and TestNode keeps the real thing.
class ForwardingStorage final : public Storage {
 public:
  explicit ForwardingStorage(MemoryStorage& s) : s_(s) {}
  Result<std::unique_ptr<AppendLog>> open_log(std::string_view n) override {
    return s_.open_log(n);
  }
  Status put_state(std::string_view k, std::string_view v) override { return s_.put_state(k, v); }
  Result<std::optional<std::string>> get_state(std::string_view k) const override {
    return s_.get_state(k);
  }
  Status write_snapshot(std::string_view n, std::string_view d) override {
    return s_.write_snapshot(n, d);
  }
  Result<std::optional<std::string>> read_snapshot(std::string_view n) const override {
    return s_.read_snapshot(n);
  }
  std::filesystem::path directory() const override { return s_.directory(); }

 private:
  MemoryStorage& s_;
};

}  // namespace

struct TestNode::Impl {
  TestNodeOptions options;
  kernel::MetricsRegistry metrics;
  std::unique_ptr<kernel::LocalEventBus> events;
  std::map<std::string, std::unique_ptr<MemoryStorage>> storages;
  std::vector<std::pair<std::filesystem::path, std::string>> queued;
  std::unique_ptr<kernel::PluginHost> host;
  bool configured = false;
  std::string no_role;
};

TestNode::TestNode(TestNodeOptions options)
    : logs_(std::make_shared<LogLines>()), impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  std::vector<PeerInfo> peers;
  for (uint32_t i = 0; i < options.instances; ++i) {
    if (i != options.index) peers.push_back({i, "peer-" + std::to_string(i)});
  }
  transport_ = std::make_unique<FakeTransport>(options.index, peers, executor_);
  impl_->events = std::make_unique<kernel::LocalEventBus>(executor_);
}

TestNode::~TestNode() {
  if (impl_->host) (void)impl_->host->stop();
  impl_->host.reset();
}

Status TestNode::add_plugin(const std::filesystem::path& file, const std::string& config_yaml) {
  if (impl_->configured) return failed_precondition("add_plugin after configure()");
  impl_->queued.emplace_back(file, config_yaml);
  return {};
}

Status TestNode::configure() {
  if (impl_->configured) return {};
  InstanceInfo info;
  info.profile = impl_->options.profile;
  info.index = impl_->options.index;
  info.instances = impl_->options.instances;
  info.joining = impl_->options.joining;
  info.node_name = info.profile + "-" + std::to_string(info.index);

  kernel::HostServices services;
  services.executor = &executor_;
  services.clock = &executor_;
  services.transport = transport_.get();
  services.metrics = &impl_->metrics;
  services.events = impl_->events.get();
  services.make_logger = [this](const std::string& component) -> std::unique_ptr<Logger> {
    return std::make_unique<CaptureLogger>(component, logs_);
  };
  services.make_storage = [this](const std::string& name) -> Result<std::unique_ptr<Storage>> {
    return std::unique_ptr<Storage>(std::make_unique<ForwardingStorage>(storage(name)));
  };
  impl_->host = std::make_unique<kernel::PluginHost>(info, services);

  std::vector<kernel::LoadedPlugin> plugins;
  std::vector<ConfigNode> configs;
  for (size_t i = 0; i < impl_->queued.size(); ++i) {
    const auto& [file, yaml] = impl_->queued[i];
    kernel::PluginLoader loader({file.parent_path()});
    NODUS_ASSIGN_OR_RETURN(auto plugin, loader.open(file));
    const std::string source = "test-config[" + std::to_string(i) + "]";
    NODUS_ASSIGN_OR_RETURN(ConfigNode config, kernel::load_yaml_string(yaml, source));
    plugins.push_back(std::move(plugin));
    configs.push_back(std::move(config));
  }
  for (const auto& p : plugins)
    pinned_libraries_.push_back(p.library);
  NODUS_RETURN_IF_ERROR(impl_->host->load_plugins(std::move(plugins), configs));
  impl_->configured = true;
  return {};
}

Status TestNode::start() {
  NODUS_RETURN_IF_ERROR(configure());
  Status st = impl_->host->start();
  executor_.run_until_idle();
  return st;
}

Status TestNode::stop() {
  if (!impl_->host) return {};
  Status st = impl_->host->stop();
  executor_.run_until_idle();
  return st;
}

bool TestNode::ready() const {
  return impl_->host && impl_->host->ready();
}

const std::string& TestNode::role() const {
  return impl_->host ? impl_->host->role() : impl_->no_role;
}

Metrics& TestNode::metrics() {
  return impl_->metrics;
}
EventBus& TestNode::events() {
  return *impl_->events;
}

MemoryStorage& TestNode::storage(const std::string& plugin_name) {
  auto& slot = impl_->storages[plugin_name];
  if (!slot) slot = std::make_unique<MemoryStorage>();
  return *slot;
}

double TestNode::metric_value(const std::string& name) const {
  for (const auto& family : impl_->metrics.collect()) {
    if (family.name != name) continue;
    double total = 0;
    for (const auto& s : family.samples) {
      total += family.type == MetricType::kHistogram ? static_cast<double>(s.count) : s.value;
    }
    return total;
  }
  return -1;
}

void* TestNode::find_capability(std::string_view capability) {
  return impl_->host ? impl_->host->find_capability(capability) : nullptr;
}

Result<ConfigNode> parse_config_yaml(const std::string& text, const std::string& source_name) {
  return kernel::load_yaml_string(text, source_name);
}

}  // namespace nodus::testing
