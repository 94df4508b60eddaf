#include "nodus/harness/sim_cluster.h"

#include <algorithm>
#include <cstdlib>
#include <map>

#include "kernel/config/yaml_loader.h"
#include "kernel/loader/plugin_loader.h"
#include "kernel/node/plugin_host.h"
#include "kernel/runtime/event_bus.h"
#include "kernel/runtime/metrics_registry.h"
#include "nodus/check.h"

namespace nodus::testing {
namespace {

// A logger that discards everything (capture_logs: false).
class NullLogger final : public Logger {
 public:
  void log(LogLevel, std::string_view, const LogFields&) override {}
  bool enabled(LogLevel) const override { return false; }
};

// Charges simulated disk time for every durable operation.
struct DiskModel {
  SimWorld* world = nullptr;
  SimNodeId node = 0;
  Duration latency{};
  Duration jitter{};
  SimRandom random;
  bool crash_disk = false;  // SimOptions::crash_disk
  uint64_t torn_records = 0;
  uint64_t snapshot_writes_cut = 0;

  // The time one durable operation takes.
  Duration draw() {
    if (latency == Duration::zero() && jitter == Duration::zero()) return Duration::zero();
    const auto extra =
        static_cast<int64_t>(random.uniform(0, static_cast<uint64_t>(jitter.count())));
    return latency + Duration(extra);
  }
  // A blocking durable operation: the node does nothing meanwhile.
  void charge() {
    const Duration d = draw();
    if (d != Duration::zero()) world->charge(node, d);
  }
};

// A log on the simulated disk. sync() blocks the node for the disk latency; sync_async()
// completes after it without blocking the node (a slow disk delays acknowledgements, not
// heartbeats), in request order, and only the records appended before the request become
// durable: a crash before completion loses them (the completion event dies with the node).
class SimLog final : public AppendLog {
 public:
  SimLog(std::unique_ptr<AppendLog> inner, MemoryStorage& storage, std::string name,
         DiskModel& disk)
      : inner_(std::move(inner)), storage_(storage), name_(std::move(name)), disk_(disk) {}
  ~SimLog() override { state_->alive = false; }
  SimLog(const SimLog&) = delete;
  SimLog& operator=(const SimLog&) = delete;

  Result<uint64_t> append(std::string_view r) override { return inner_->append(r); }
  Status sync() override {
    disk_.charge();
    return inner_->sync();
  }
  void sync_async(std::function<void(Status)> done) override {
    const uint64_t id = state_->next_id++;
    state_->targets[id] = inner_->last_index();
    TimePoint at = disk_.world->now() + disk_.draw();
    if (at < state_->last_completion) at = state_->last_completion;
    state_->last_completion = at;
    disk_.world->schedule(
        at, disk_.node, SimEventKind::kTask, 0,
        [state = state_, &storage = storage_, name = name_, id, done = std::move(done)] {
          if (!state->alive) return;
          const uint64_t target = state->targets[id];
          state->targets.erase(id);
          storage.mark_synced(name, target);
          done(Status());
        });
  }
  Result<std::string> read(uint64_t i) const override { return inner_->read(i); }
  uint64_t first_index() const override { return inner_->first_index(); }
  uint64_t last_index() const override { return inner_->last_index(); }
  uint64_t synced_index() const override { return inner_->synced_index(); }
  Status truncate_suffix(uint64_t from) override {
    // A pending sync covers only the records that existed at its request; records appended
    // after this truncation at the same indexes are not among them.
    for (auto& [id, target] : state_->targets)
      target = std::min(target, from == 0 ? 0 : from - 1);
    return inner_->truncate_suffix(from);
  }
  Status truncate_prefix(uint64_t before) override { return inner_->truncate_prefix(before); }

 private:
  struct State {
    bool alive = true;
    uint64_t next_id = 1;
    std::map<uint64_t, uint64_t> targets;  // pending request -> last index it covers
    TimePoint last_completion{};
  };
  std::unique_ptr<AppendLog> inner_;
  MemoryStorage& storage_;
  const std::string name_;
  DiskModel& disk_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

class SimStorage final : public Storage {
 public:
  SimStorage(MemoryStorage& s, DiskModel& disk) : s_(s), disk_(disk) {}
  Result<std::unique_ptr<AppendLog>> open_log(std::string_view n) override {
    NODUS_ASSIGN_OR_RETURN(auto log, s_.open_log(n));
    return std::unique_ptr<AppendLog>(
        std::make_unique<SimLog>(std::move(log), s_, std::string(n), disk_));
  }
  Status put_state(std::string_view k, std::string_view v) override {
    disk_.charge();
    return s_.put_state(k, v);
  }
  Result<std::optional<std::string>> get_state(std::string_view k) const override {
    return s_.get_state(k);
  }
  Status write_snapshot(std::string_view n, std::string_view d) override {
    disk_.charge();
    return s_.write_snapshot(n, d);
  }
  // With the crash-disk model: written after the disk latency (at least 1 ms), in request
  // order, without making the node busy; a crash first leaves the previous snapshot and drops
  // the completion (the event dies with the node).
  void write_snapshot_async(std::string name, std::shared_ptr<const std::string> data,
                            std::function<void(Status)> done) override {
    if (!disk_.crash_disk) {
      done(write_snapshot(name, *data));
      return;
    }
    TimePoint at = disk_.world->now() + std::max(disk_.draw(), kSnapshotWriteMin);
    if (at < state_->last_completion) at = state_->last_completion;
    state_->last_completion = at;
    ++state_->pending;
    disk_.world->schedule(at, disk_.node, SimEventKind::kTask, 0,
                          [state = state_, &storage = s_, name = std::move(name),
                           data = std::move(data), done = std::move(done)] {
                            if (!state->alive) return;
                            --state->pending;
                            done(storage.write_snapshot(name, *data));
                          });
  }
  Result<std::optional<std::string>> read_snapshot(std::string_view n) const override {
    return s_.read_snapshot(n);
  }
  std::filesystem::path directory() const override { return s_.directory(); }
  ~SimStorage() override {
    state_->alive = false;
    // Destroyed by a crash (the node is already down): the writes still queued are lost.
    if (!disk_.world->up(disk_.node)) disk_.snapshot_writes_cut += state_->pending;
  }
  SimStorage(const SimStorage&) = delete;
  SimStorage& operator=(const SimStorage&) = delete;

 private:
  static constexpr Duration kSnapshotWriteMin = std::chrono::milliseconds(1);
  struct State {
    bool alive = true;
    uint64_t pending = 0;  // asked for, not yet on the disk
    TimePoint last_completion{};
  };
  MemoryStorage& s_;
  DiskModel& disk_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace

// A plugin file opened once, with its config section per node.
struct SimCluster::PluginSource {
  kernel::LoadedPlugin plugin;
  std::function<std::string(SimNodeId)> config_for;  // for nodes added later as well
  std::vector<ConfigNode> configs;                   // one per node
  Status add_config(SimNodeId node) {
    const std::string name = "sim-config[" + plugin.name() + "@" + std::to_string(node) + "]";
    NODUS_ASSIGN_OR_RETURN(ConfigNode config, kernel::load_yaml_string(config_for(node), name));
    configs.push_back(std::move(config));
    return {};
  }
};

struct SimCluster::Node {
  Node(SimWorld& world, SimNodeId id) : executor(world, id) {
    disk.world = &world;
    disk.node = id;
  }
  SimExecutor executor;
  DiskModel disk;
  std::shared_ptr<LogLines> logs = std::make_shared<LogLines>();
  std::map<std::string, std::unique_ptr<MemoryStorage>> disks;  // survives crashes
  // Processes (nodus/services/processes.h): one fake per plugin, declared before `host`, whose
  // contexts hold handles to them. A crash shuts them down (the instance's programs die with it).
  std::map<std::string, std::unique_ptr<FakeProcesses>> processes;
  // One incarnation of the process; the host is destroyed first.
  std::unique_ptr<kernel::MetricsRegistry> metrics;
  std::unique_ptr<kernel::LocalEventBus> events;
  // Admin (nodus/services/admin.h): per incarnation, destroyed after the host.
  std::unique_ptr<kernel::AdminRegistry> admin;
  std::unique_ptr<MemberTable> membership;  // Membership: the static one, per incarnation
  std::unique_ptr<kernel::PluginHost> host;
  // Datagrams (nodus/services/datagram.h)
  std::unique_ptr<Datagrams> datagrams;  // this incarnation's sockets
  // HTTP server (nodus/services/http.h); per incarnation, outlives the host.
  std::unique_ptr<FakeHttpServer> http;
  bool removed = false;  // SimCluster::remove_node(): down for good

  void kill() {
    host.reset();
    admin.reset();
    membership.reset();
    datagrams.reset();  // after the plugins' views of it, before the metrics it counts in
    events.reset();
    metrics.reset();
    http.reset();  // HTTP server: a crash ends the node's routes
  }
};

SimCluster::SimCluster(SimOptions options)
    : options_(std::move(options)), world_(options_.seed), driver_random_(world_.random().fork()) {
  network_ = std::make_unique<SimNetwork>(world_, options_.nodes, options_.network,
                                          options_.max_message_bytes);
  // NODUS_SIM_CRASH_DISK=0|1 overrides the test's choice (to compare runs of one seed).
  const char* env = std::getenv("NODUS_SIM_CRASH_DISK");
  const bool crash_disk =
      env != nullptr && *env != '\0' ? std::string(env) != "0" : options_.crash_disk;
  crash_disk_ = crash_disk;
  for (uint32_t i = 0; i < options_.nodes; ++i)
    make_node();
  // Datagrams (nodus/services/datagram.h)
  datagrams_ = std::make_unique<SimDatagramNetwork>(world_, *network_);
}

Member SimCluster::sim_member(SimNodeId node) {
  Member m;
  m.id = node;
  m.address = "sim-" + std::to_string(node);
  return m;
}

void SimCluster::make_node() {
  const SimNodeId id = world_.add_node();
  nodes_.push_back(std::make_unique<Node>(world_, id));
  nodes_.back()->disk.random = world_.random().fork();
  nodes_.back()->disk.crash_disk = crash_disk_;
}

SimCluster::~SimCluster() {
  for (auto& n : nodes_)
    n->kill();
}

Status SimCluster::add_plugin(const std::filesystem::path& file, const std::string& config_yaml) {
  // By value: nodes added later (add_node()) ask for their section long after this call.
  return add_plugin(file, [config_yaml](SimNodeId) { return config_yaml; });
}

Status SimCluster::add_plugin(const std::filesystem::path& file,
                              const std::function<std::string(SimNodeId)>& config_for) {
  kernel::PluginLoader loader({file.parent_path()});
  NODUS_ASSIGN_OR_RETURN(auto plugin, loader.open(file));
  if (started_) return failed_precondition("add_plugin() after start()");
  auto source = std::make_unique<PluginSource>();
  pinned_libraries_.push_back(plugin.library);
  source->plugin = std::move(plugin);
  source->config_for = config_for;
  for (uint32_t i = 0; i < options_.nodes; ++i)
    NODUS_RETURN_IF_ERROR(source->add_config(i));
  sources_.push_back(std::move(source));
  return {};
}

Status SimCluster::start() {
  if (started_) return failed_precondition("start() called twice");
  started_ = true;
  for (uint32_t i = 0; i < options_.nodes; ++i) {
    NODUS_RETURN_IF_ERROR(start_node(i).with_context("node " + std::to_string(i)));
  }
  return {};
}

Status SimCluster::start_node(SimNodeId id) {
  Node& n = *nodes_[id];
  InstanceInfo info;
  info.profile = options_.profile;
  info.index = id;
  info.instances = size();
  info.node_name = info.profile + "-" + std::to_string(id);
  info.joining = id >= options_.nodes;

  n.metrics = std::make_unique<kernel::MetricsRegistry>();
  n.events = std::make_unique<kernel::LocalEventBus>(n.executor);
  kernel::HostServices services;
  services.executor = &n.executor;
  services.clock = &n.executor;
  services.transport = &network_->transport(id);
  services.metrics = n.metrics.get();
  services.events = n.events.get();
  const bool capture = options_.capture_logs;
  services.make_logger = [logs = n.logs, capture](const std::string& c) -> std::unique_ptr<Logger> {
    if (!capture) return std::make_unique<NullLogger>();
    return std::make_unique<CaptureLogger>(c, logs);
  };
  services.make_storage = [this, id](const std::string& name) -> Result<std::unique_ptr<Storage>> {
    return std::unique_ptr<Storage>(
        std::make_unique<SimStorage>(storage(id, name), nodes_[id]->disk));
  };
  // Admin (nodus/services/admin.h)
  n.admin = std::make_unique<kernel::AdminRegistry>(n.executor, std::chrono::seconds(60));
  services.admin = n.admin.get();
  // Membership (nodus/capabilities/membership.h): every node of the cluster alive (nodes added
  // since the start included, removed ones left out), as the static membership of a profile
  // that `nodus scale` changed.
  n.membership = std::make_unique<MemberTable>(id, n.executor);
  for (SimNodeId i = 0; i < size(); ++i) {
    if (!removed(i)) NODUS_RETURN_IF_ERROR(n.membership->join(sim_member(i)));
  }
  services.membership = n.membership.get();
  // HTTP client (nodus/services/http_client.h)
  services.make_http_client = [this, id](const std::string&) {
    auto client = std::make_unique<SimHttpClient>(world_, *network_, http_endpoints_, id,
                                                  nodes_[id]->executor);
    SimHttpClient* raw = client.get();
    return kernel::HostServices::PluginHttpClient{std::move(client), [raw] { raw->shutdown(); }};
  };
  // Datagrams (nodus/services/datagram.h)
  info.ports = options_.ports;
  n.datagrams = datagrams_->open(id, info.ports, *n.metrics);
  services.datagrams = n.datagrams.get();
  // Processes (nodus/services/processes.h)
  services.make_processes = [this, id](const std::string& name, Logger&) {
    return processes(id, name).handle();
  };
  // HTTP server (nodus/services/http.h)
  n.http = std::make_unique<FakeHttpServer>(n.executor, info.ports, "sim");
  services.make_http = [http = n.http.get()](const std::string& plugin) {
    return http->view(plugin);
  };
  n.host = std::make_unique<kernel::PluginHost>(info, services);
  std::vector<kernel::LoadedPlugin> plugins;
  std::vector<ConfigNode> configs;
  for (const auto& s : sources_) {
    plugins.push_back(s->plugin);
    configs.push_back(s->configs[id]);
  }
  NODUS_RETURN_IF_ERROR(n.host->load_plugins(std::move(plugins), configs));
  return n.host->start();
}

bool SimCluster::after_event() {
  if (!failure_.ok()) return true;
  for (const auto& [name, check] : invariants_) {
    Status st = check();
    if (!st.ok()) {
      failure_ = st.with_context("invariant " + name);
      return true;
    }
  }
  // Every plugin's own invariants (Plugin::check_invariants), after every event of any node.
  for (SimNodeId id = 0; id < nodes_.size(); ++id) {
    const auto& host = nodes_[id]->host;
    if (!host || !world_.up(id)) continue;
    Status st = host->check_invariants();
    if (!st.ok()) {
      failure_ = st.with_context("seed " + std::to_string(options_.seed) + ": node " +
                                 std::to_string(id) + ": invariant");
      return true;
    }
  }
  return false;
}

bool SimCluster::run_for(Duration d) {
  if (!failure_.ok()) return false;
  world_.run_until(world_.now() + d, [this] { return after_event(); });
  return failure_.ok();
}

bool SimCluster::run_until(const std::function<bool()>& done, Duration limit) {
  if (!failure_.ok()) return false;
  if (done()) return true;
  bool met = false;
  world_.run_until(world_.now() + limit, [&] {
    if (after_event()) return true;
    met = done();
    return met;
  });
  return met && failure_.ok();
}

void SimCluster::post(SimNodeId node, Task fn) {
  nodes_[node]->executor.post(std::move(fn));
}

void SimCluster::at(Duration delay, Task fn) {
  world_.schedule(world_.now() + delay, kWorldNode, SimEventKind::kWorld, 0, std::move(fn));
}

void SimCluster::crash(SimNodeId node, bool lose_unsynced_writes) {
  if (!world_.up(node)) return;
  world_.kill(node);
  network_->reset_node(node);
  nodes_[node]->kill();
  if (lose_unsynced_writes) {
    DiskModel& model = nodes_[node]->disk;
    for (auto& [name, disk] : nodes_[node]->disks)
      model.torn_records += disk->crash(model.crash_disk && model.random.uniform(0, 1) == 1);
  }
}

Status SimCluster::restart(SimNodeId node) {
  if (removed(node)) return failed_precondition("node " + std::to_string(node) + " was removed");
  if (world_.up(node)) return failed_precondition("node " + std::to_string(node) + " is up");
  world_.revive(node);
  Status st = start_node(node);
  if (!st.ok()) fail(st.with_context("restart of node " + std::to_string(node)));
  return st;
}

Result<SimNodeId> SimCluster::add_node() {
  if (!started_) return failed_precondition("add_node() before start(): use SimOptions::nodes");
  make_node();
  const SimNodeId id = network_->add_node();
  NODUS_CHECK_EQ(id, size() - 1) << "the network and the cluster number nodes alike";
  for (auto& source : sources_)
    NODUS_RETURN_IF_ERROR(source->add_config(id));
  // The running nodes' static membership learns of it, as `nodus scale` tells every instance.
  for (SimNodeId i = 0; i < id; ++i) {
    if (nodes_[i]->membership && world_.up(i))
      NODUS_RETURN_IF_ERROR(nodes_[i]->membership->join(sim_member(id)));
  }
  Status st = start_node(id).with_context("added node " + std::to_string(id));
  if (!st.ok()) return st;
  return id;
}

Status SimCluster::remove_node(SimNodeId node) {
  if (node >= size()) return not_found("no node " + std::to_string(node));
  if (removed(node)) return failed_precondition("node " + std::to_string(node) + " was removed");
  Node& n = *nodes_[node];
  Status stopped;
  if (world_.up(node) && n.host) stopped = n.host->stop();
  world_.kill(node);
  network_->remove_node(node);
  n.kill();
  n.removed = true;
  for (SimNodeId i = 0; i < size(); ++i) {
    if (i != node && nodes_[i]->membership && world_.up(i))
      (void)nodes_[i]->membership->set_state(node, MemberState::kLeft);  // known: it joined
  }
  return stopped.with_context("stop of removed node " + std::to_string(node));
}

bool SimCluster::removed(SimNodeId node) const {
  return node < size() && nodes_[node]->removed;
}

void SimCluster::set_clock_drift_ppm(SimNodeId node, double ppm) {
  nodes_[node]->executor.set_drift_ppm(ppm);
}

void SimCluster::jump_clock(SimNodeId node, Duration d) {
  nodes_[node]->executor.jump(d);
}

void SimCluster::set_disk_latency(SimNodeId node, Duration latency, Duration jitter) {
  nodes_[node]->disk.latency = latency;
  nodes_[node]->disk.jitter = jitter;
}

Executor& SimCluster::executor(SimNodeId node) {
  return nodes_[node]->executor;
}

Clock& SimCluster::clock(SimNodeId node) {
  return nodes_[node]->executor;
}

CapabilityRef SimCluster::find_capability(SimNodeId node, std::string_view capability) {
  const auto& host = nodes_[node]->host;
  return host && world_.up(node) ? host->find_capability(capability) : CapabilityRef{};
}

double SimCluster::metric_value(SimNodeId node, const std::string& name) const {
  const auto& metrics = nodes_[node]->metrics;
  if (!metrics) return -1;
  for (const auto& family : metrics->collect()) {
    if (family.name != name) continue;
    double total = 0;
    for (const auto& s : family.samples)
      total += family.type == MetricType::kHistogram ? static_cast<double>(s.count) : s.value;
    return total;
  }
  return -1;
}

LogLines& SimCluster::logs(SimNodeId node) {
  return *nodes_[node]->logs;
}

SimCluster::DiskCrashStats SimCluster::disk_crash_stats() const {
  DiskCrashStats out;
  for (const auto& n : nodes_) {
    out.torn_records += n->disk.torn_records;
    out.snapshot_writes_cut += n->disk.snapshot_writes_cut;
  }
  return out;
}

MemoryStorage& SimCluster::storage(SimNodeId node, const std::string& plugin_name) {
  auto& slot = nodes_[node]->disks[plugin_name];
  if (!slot) slot = std::make_unique<MemoryStorage>();
  return *slot;
}

void SimCluster::add_invariant(std::string name, std::function<Status()> check) {
  invariants_.emplace_back(std::move(name), std::move(check));
}

void SimCluster::fail(Status why) {
  if (failure_.ok() && !why.ok()) failure_ = std::move(why);
}

// Admin (nodus/services/admin.h)
void SimCluster::command(SimNodeId node, const std::string& name,
                         const std::map<std::string, std::string>& args, CommandReply done) {
  post(node, [this, node, name, args, done] {
    Node& n = *nodes_[node];
    if (!n.admin || !n.host) return done(unavailable("node " + std::to_string(node) + " is down"));
    n.admin->run(name, args, done);
  });
}

std::optional<StatusSection> SimCluster::status_section(SimNodeId node,
                                                        const std::string& plugin_name) {
  Node& n = *nodes_[node];
  if (!n.admin || !world_.up(node)) return std::nullopt;
  auto sections = n.admin->sections();
  auto it = sections.find(plugin_name);
  if (it == sections.end()) return std::nullopt;
  return it->second;
}

// Datagrams (nodus/services/datagram.h)
void SimCluster::stall(SimNodeId node, Duration d) {
  world_.charge(node, d);
}

// Processes (nodus/services/processes.h)
FakeProcesses& SimCluster::processes(SimNodeId node, const std::string& plugin_name) {
  NODUS_CHECK_LT(node, nodes_.size()) << "processes(): no such node";
  auto& fake = nodes_[node]->processes[plugin_name];
  if (!fake) fake = std::make_unique<FakeProcesses>(nodes_[node]->executor, nodes_[node]->executor);
  return *fake;
}

// HTTP server (nodus/services/http.h)
FakeHttpServer& SimCluster::http(SimNodeId node) {
  NODUS_CHECK(node < nodes_.size() && nodes_[node]->http != nullptr)
      << "SimCluster::http(" << node << "): the node is not running";
  return *nodes_[node]->http;
}

}  // namespace nodus::testing
