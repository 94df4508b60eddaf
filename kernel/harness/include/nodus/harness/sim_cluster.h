// nodus/harness/sim_cluster.h: N node instances of real plugin .so files in one process, on
// simulated time, network and disks, driven by one seed.
//
// Each node is composed exactly as a real node is (kernel loader, PluginHost: ordering,
// config validation, configure, start) but its services are simulated: a SimExecutor (one
// global event queue, per-node clock skew), a SimNetwork transport with fault rules, and
// per-plugin MemoryStorage that survives crashes except for unsynced appends. crash() destroys
// the node's plugins without stop(); restart() builds fresh ones over the surviving storage.
// A slow disk makes sync()/put_state()/write_snapshot() cost simulated time: the node is busy
// (runs nothing, its clock advances) for that long, like a thread blocked in fsync.
// AppendLog::sync_async() completes after the same latency without making the node busy, in
// request order; a crash before completion loses the records it covered. SimOptions::
// crash_disk adds torn log records and interruptible snapshot writes to crashes.
//
//   SimCluster sim({.seed = seed, .nodes = 3});
//   ASSERT_TRUE(sim.add_plugin(COUNTER_PLUGIN, "replication_timeout_ms: 50").ok());
//   ASSERT_TRUE(sim.start().ok());
//   sim.network().set_all({.drop = 0.05});
//   sim.post(0, [&] { sim.find<CounterService>(0)->increment(1, on_done); });
//   sim.run_for(std::chrono::seconds(5));
//   sim.crash(0);
//   ASSERT_TRUE(sim.restart(0).ok());
//   EXPECT_TRUE(sim.failure().ok()) << sim.failure().to_string();
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nodus/capabilities/membership.h"
#include "nodus/plugin.h"
#include "nodus/services/admin.h"
#include "nodus/testing/capture_logger.h"
#include "nodus/testing/fake_http.h"
#include "nodus/testing/fake_processes.h"
#include "nodus/testing/memory_storage.h"
#include "nodus/testing/sim_datagrams.h"
#include "nodus/testing/sim_http.h"
#include "nodus/testing/sim_network.h"
#include "nodus/testing/sim_world.h"

namespace nodus::testing {

struct SimOptions {
  uint64_t seed = 1;
  uint32_t nodes = 3;
  std::string profile = "sim";
  LinkFaults network;
  size_t max_message_bytes = 4 << 20;
  // Keep plugin log lines (logs(node)); off makes long runs cheaper.
  bool capture_logs = true;
  // The crash-disk model. A crash that loses unsynced writes may also tear the first lost log
  // record (half written, cut by the next open_log() as FileAppendLog cuts a torn tail; half
  // the time, from the node's disk random stream), and write_snapshot_async() takes
  // simulated time off the executor (the disk latency, at least 1 ms) like the file storage's
  // writer thread, so a crash can cut it: the previous snapshot stays and `done` never runs.
  // Off, a snapshot write is durable the moment it is asked for. NODUS_SIM_CRASH_DISK=0|1 in
  // the environment overrides it.
  bool crash_disk = false;
  // InstanceInfo::ports of every node, the same on each simulated host as in a multi-host
  // profile. Datagrams: node i's "gossip" port is sim-i:<port>. HTTP server: plugins' routes
  // on them are served by an in-memory server per node (http(node)); requests are injected,
  // handlers run on the node's simulated executor, and a crash ends them with the node.
  std::map<std::string, uint16_t> ports = {};
};

class SimCluster {
 public:
  explicit SimCluster(SimOptions options);
  ~SimCluster();
  SimCluster(const SimCluster&) = delete;
  SimCluster& operator=(const SimCluster&) = delete;

  // Adds a plugin to every node, with the same config section (YAML text) ...
  Status add_plugin(const std::filesystem::path& file, const std::string& config_yaml = "");
  // ... or with a section per node.
  Status add_plugin(const std::filesystem::path& file,
                    const std::function<std::string(SimNodeId)>& config_for);
  // Loads, configures and starts every node. Errors name the node.
  Status start();

  // ---- growth ----
  // Adds a node while the simulation runs (after start()): the next id, linked to every node,
  // started with the same plugins (config from the same YAML or function as the others) and
  // InstanceInfo::joining set, as `nodus scale` starts an instance: cluster state comes from
  // the running members. Every other node's transport lists it as a peer from now on.
  Result<SimNodeId> add_node();
  // The node leaves for good: its plugins are stopped (stop(), not a crash), it is dropped
  // from every peer list, and it never restarts. Its id is not reused. A consensus plugin
  // should have removed it from its configuration first, as an operator would.
  Status remove_node(SimNodeId node);
  bool removed(SimNodeId node) const;

  // ---- time ----
  TimePoint now() const { return world_.now(); }
  // Runs every event up to now() + d. False when an invariant failed (see failure()).
  bool run_for(Duration d);
  // Runs until `done` holds (checked after every event), at most `limit`. False on timeout or
  // a failed invariant.
  bool run_until(const std::function<bool()>& done, Duration limit);
  // Runs `fn` on `node`'s executor now (dropped if the node is down when it comes due).
  void post(SimNodeId node, Task fn);
  // Runs `fn` as a test event after `delay` (faults, client operations); never voided.
  void at(Duration delay, Task fn);

  // ---- faults ----
  SimNetwork& network() { return *network_; }
  // Kills the node's process: plugins are destroyed without stop(), queued work vanishes,
  // and with `lose_unsynced_writes` every appended-but-unsynced log record is lost.
  void crash(SimNodeId node, bool lose_unsynced_writes = true);
  // Starts fresh plugin objects over the node's surviving storage. FAILED_PRECONDITION for a
  // node that is up or was removed.
  Status restart(SimNodeId node);
  bool up(SimNodeId node) const { return world_.up(node); }
  void set_clock_drift_ppm(SimNodeId node, double ppm);
  void jump_clock(SimNodeId node, Duration d);
  // Each durable write on the node costs `latency` + uniform [0, jitter] of simulated time.
  void set_disk_latency(SimNodeId node, Duration latency, Duration jitter = Duration::zero());

  // ---- observing ----
  // Node ids run from 0 to size() - 1, removed nodes included (they stay down).
  uint32_t size() const { return static_cast<uint32_t>(nodes_.size()); }
  uint64_t seed() const { return options_.seed; }
  // The test's own random stream, independent of the network's draws.
  SimRandom& random() { return driver_random_; }
  uint64_t trace_hash() const { return world_.trace_hash(); }
  uint64_t events_run() const { return world_.events_run(); }
  SimWorld& world() { return world_; }
  Executor& executor(SimNodeId node);
  Clock& clock(SimNodeId node);
  CapabilityRef find_capability(SimNodeId node, std::string_view capability);
  // Admin (nodus/services/admin.h): starts a plugin command on `node` (arguments as typed
  // text); `done` runs on that node's executor when it answers. Run the simulation to get it.
  void command(SimNodeId node, const std::string& name,
               const std::map<std::string, std::string>& args, CommandReply done);
  // A plugin's status section on `node` now; nullopt when none (or the node is down).
  std::optional<StatusSection> status_section(SimNodeId node, const std::string& plugin_name);
  // The capability object of a running node's plugin, checked by name and revision as
  // PluginContext::find() does (nodus/capability.h), or nullptr (none, or the node is down).
  template <CapabilityInterface Interface>
  Interface* find(SimNodeId node) {
    auto found = capability_cast<Interface>(find_capability(node, Interface::kCapability));
    return found.ok() ? *found : nullptr;
  }
  // Sum of a counter or gauge over its label sets in the node's current incarnation; -1 when
  // absent.
  double metric_value(SimNodeId node, const std::string& name) const;
  LogLines& logs(SimNodeId node);
  // What the crash-disk model did so far, over all nodes (a test shows its faults happened).
  struct DiskCrashStats {
    uint64_t torn_records = 0;         // log records a crash left torn
    uint64_t snapshot_writes_cut = 0;  // write_snapshot_async() calls a crash cut short
  };
  DiskCrashStats disk_crash_stats() const;
  MemoryStorage& storage(SimNodeId node, const std::string& plugin_name);

  // ---- checking ----
  // A test's invariant, checked after every event; the first failure stops the run. Every
  // plugin's own Plugin::check_invariants() is checked after every event as well.
  void add_invariant(std::string name, std::function<Status()> check);
  // Records a failure found by the test (for example by a checker); the run stops.
  void fail(Status why);
  const Status& failure() const { return failure_; }

  // HTTP client (nodus/services/http_client.h)
  // Where simulated HTTP endpoints live, by address; every node's ctx.http_client() is a
  // SimHttpClient over the simulated network (nodus/testing/sim_http.h).
  SimHttpEndpoints& http_endpoints() { return http_endpoints_; }
  // Datagrams (nodus/services/datagram.h)
  // The simulated UDP network (same links, rules and cuts as network()).
  SimDatagramNetwork& datagrams() { return *datagrams_; }
  // An executor stall: the node runs nothing for `d` of simulated time (a CPU-starved process);
  // its timers, deliveries and datagram handlers wait, datagrams queue at its sockets.
  void stall(SimNodeId node, Duration d);
  // Processes (nodus/services/processes.h)
  // The fake behind a node's plugin's ctx.processes() (scripted exits, recorded starts and
  // stops); it survives the node's crashes, which shut it down as the instance's death would.
  FakeProcesses& processes(SimNodeId node, const std::string& plugin_name);
  // HTTP server (nodus/services/http.h)
  // The HTTP routes of a running node's plugins: http(n).send(port, method, target, body)
  // delivers a request whose handler runs on node n's simulated executor. Node must be up.
  FakeHttpServer& http(SimNodeId node);

 private:
  struct Node;
  struct PluginSource;
  Status start_node(SimNodeId node);
  void make_node();
  static Member sim_member(SimNodeId node);
  bool after_event();

  SimOptions options_;
  // Declared first so it is destroyed last: queued closures hold code of the plugin libraries.
  std::vector<std::shared_ptr<void>> pinned_libraries_;
  SimWorld world_;
  SimRandom driver_random_;
  std::unique_ptr<SimNetwork> network_;
  std::vector<std::unique_ptr<PluginSource>> sources_;
  bool started_ = false;
  bool crash_disk_ = false;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::pair<std::string, std::function<Status()>>> invariants_;
  Status failure_;
  // HTTP client (nodus/services/http_client.h)
  SimHttpEndpoints http_endpoints_;
  // Datagrams (nodus/services/datagram.h)
  std::unique_ptr<SimDatagramNetwork> datagrams_;
};

}  // namespace nodus::testing
