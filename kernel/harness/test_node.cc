#include "nodus/harness/test_node.h"

#include <map>
#include <utility>

#include "kernel/config/yaml_loader.h"
#include "kernel/loader/plugin_loader.h"
#include "kernel/node/plugin_host.h"
#include "kernel/runtime/event_bus.h"
#include "kernel/runtime/http_service.h"
#include "kernel/runtime/metrics_registry.h"
#include "nodus/check.h"

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

// HTTP client (nodus/services/http_client.h)
// The host owns one client per plugin; tests script the same FakeHttpClient through TestNode.
class ForwardingHttpClient final : public HttpClient {
 public:
  explicit ForwardingHttpClient(FakeHttpClient& c) : c_(c) {}
  HttpRequestId request(HttpClientRequest r, HttpClientCallback done) override {
    return c_.request(std::move(r), std::move(done));
  }
  bool cancel(HttpRequestId id) override { return c_.cancel(id); }
  size_t in_flight() const override { return c_.in_flight(); }
  const HttpClientLimits& limits() const override { return c_.limits(); }

 private:
  FakeHttpClient& c_;
};

}  // namespace

struct TestNode::Impl {
  TestNodeOptions options;
  kernel::MetricsRegistry metrics;
  std::unique_ptr<kernel::LocalEventBus> events;
  // Admin (nodus/services/admin.h): outlives the host, whose contexts hold its Admin objects.
  std::unique_ptr<kernel::AdminRegistry> admin;
  std::map<std::string, std::unique_ptr<MemoryStorage>> storages;
  std::vector<std::pair<std::filesystem::path, std::string>> queued;
  std::unique_ptr<kernel::PluginHost> host;
  bool configured = false;
  std::string no_role;
  // HTTP client (nodus/services/http_client.h)
  std::map<std::string, std::unique_ptr<FakeHttpClient>> http_clients;
  // Datagrams (nodus/services/datagram.h)
  std::unique_ptr<FakeDatagrams> datagrams;
  // Processes (nodus/services/processes.h)
  std::map<std::string, std::unique_ptr<FakeProcesses>> processes;
  // HTTP server (nodus/services/http.h); outlives the host (~TestNode resets the host first).
  std::unique_ptr<kernel::HttpService> http;
};

TestNode::TestNode(TestNodeOptions options)
    : logs_(std::make_shared<LogLines>()), impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  const TestNodeOptions& opts = impl_->options;  // `options` is moved from
  std::vector<PeerInfo> peers;
  for (uint32_t i = 0; i < opts.instances; ++i) {
    if (i != opts.index) peers.push_back({i, "peer-" + std::to_string(i)});
  }
  transport_ = std::make_unique<FakeTransport>(opts.index, peers, executor_);
  // Membership (nodus/capabilities/membership.h): every instance alive, as a profile's.
  membership_ = std::make_unique<FakeMembership>(opts.index, executor_);
  NODUS_CHECK(membership_->add_static(opts.instances, "127.0.0.1", {}).ok())
      << "instances is bounded far below kMembersMax";
  impl_->events = std::make_unique<kernel::LocalEventBus>(executor_);
  // Admin (nodus/services/admin.h)
  impl_->admin = std::make_unique<kernel::AdminRegistry>(executor_, std::chrono::seconds(60));
  // Datagrams (nodus/services/datagram.h)
  impl_->datagrams = std::make_unique<FakeDatagrams>(opts.ports, executor_, impl_->metrics);
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
  // Admin (nodus/services/admin.h)
  services.admin = impl_->admin.get();
  services.membership = membership_.get();  // Membership
  // HTTP client (nodus/services/http_client.h)
  services.make_http_client = [this](const std::string& name) {
    FakeHttpClient& fake = http_client(name);
    return kernel::HostServices::PluginHttpClient{std::make_unique<ForwardingHttpClient>(fake),
                                                  [&fake] { fake.shutdown(); }};
  };
  // Datagrams (nodus/services/datagram.h)
  info.ports = impl_->options.ports;
  services.datagrams = impl_->datagrams.get();
  // Processes (nodus/services/processes.h)
  services.make_processes = [this](const std::string& name, Logger&) {
    return processes(name).handle();
  };
  // HTTP server (nodus/services/http.h); kept by restart(), so that its ports stay bound.
  if (!impl_->http) {
    impl_->http = std::make_unique<kernel::HttpService>("127.0.0.1", info.ports, executor_);
  }
  services.make_http = [http = impl_->http.get()](const std::string& plugin) {
    return http->view(plugin);
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

Status TestNode::restart() {
  if (!impl_->configured) return failed_precondition("restart() before configure()");
  const Status stopped = stop();
  // What the old process had goes with it; storage, ports and the fakes the test holds stay.
  impl_->host.reset();
  executor_.discard_pending();
  transport_->forget_handlers();
  impl_->events = std::make_unique<kernel::LocalEventBus>(executor_);
  impl_->http_clients.clear();
  impl_->configured = false;
  NODUS_RETURN_IF_ERROR(start().with_context("restart"));
  return stopped.with_context("stop before the restart");
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

CapabilityRef TestNode::find_capability(std::string_view capability) {
  return impl_->host ? impl_->host->find_capability(capability) : CapabilityRef{};
}

// HTTP client (nodus/services/http_client.h)
FakeHttpClient& TestNode::http_client(const std::string& plugin_name) {
  auto& slot = impl_->http_clients[plugin_name];
  if (!slot) slot = std::make_unique<FakeHttpClient>(executor_);
  return *slot;
}

// Datagrams (nodus/services/datagram.h)
FakeDatagrams& TestNode::datagrams() {
  return *impl_->datagrams;
}

// HTTP server (nodus/services/http.h)
uint16_t TestNode::http_port(std::string_view port) const {
  return impl_->http ? impl_->http->bound_port(port) : 0;
}

Result<ConfigNode> parse_config_yaml(const std::string& text, const std::string& source_name) {
  return kernel::load_yaml_string(text, source_name);
}

// Admin (nodus/services/admin.h)
Result<CommandResult> TestNode::command(const std::string& name,
                                        const std::map<std::string, std::string>& args,
                                        Duration wait) {
  auto answer = std::make_shared<std::optional<Result<CommandResult>>>();
  impl_->admin->run(name, args, [answer](Result<CommandResult> r) { *answer = std::move(r); });
  executor_.run_until_idle();
  // Simulated time moves in small steps, so that timers a command waits on fire in order.
  constexpr Duration kStep = std::chrono::milliseconds(10);
  for (Duration waited{0}; !answer->has_value() && waited < wait; waited += kStep)
    executor_.advance(kStep);
  if (!answer->has_value()) {
    return deadline_exceeded("command '" + name + "' did not answer within the wait");
  }
  return **answer;
}

std::optional<StatusSection> TestNode::status_section(const std::string& plugin_name) {
  auto sections = impl_->admin->sections();
  auto it = sections.find(plugin_name);
  if (it == sections.end()) return std::nullopt;
  return it->second;
}

// Processes (nodus/services/processes.h)
FakeProcesses& TestNode::processes(const std::string& plugin_name) {
  auto& fake = impl_->processes[plugin_name];
  if (!fake) fake = std::make_unique<FakeProcesses>(executor_, executor_);
  return *fake;
}

}  // namespace nodus::testing
