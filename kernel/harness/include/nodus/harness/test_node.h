// nodus/harness/test_node.h: load a real plugin .so into an in-process node with fake
// services, for plugin unit tests.
//
// The plugin goes through the kernel's real loader (ABI and descriptor checks), the real
// composition (ordering, declared-key validation, configure, start, stop) and gets fakes for
// every service: a ManualExecutor/clock, a FakeTransport, MemoryStorage, a real metrics
// registry and a capturing logger.
//
//   nodus::testing::TestNode node({.instances = 3});
//   ASSERT_TRUE(node.add_plugin(PLUGIN_PATH, "interval_ms: 100").ok());
//   ASSERT_TRUE(node.start().ok());
//   node.executor().advance(std::chrono::milliseconds(100));
//   EXPECT_EQ(node.transport().calls().size(), 2u);  // pinged both peers
//   EXPECT_EQ(node.metric_value("nodus_peerping_sent_total"), 2);
//   node.datagrams().deliver("gossip", "10.0.0.2:7946", "ping");  // with options.ports
//
// Identity and config: the node is instance `index` of `instances` in profile `profile`, so its
// InstanceInfo::node_name is "<profile>-<index>" ("test-0" by default). The config section of
// the i-th add_plugin() call (0-based, in call order) is YAML text whose source is named
// "test-config[i]", so a plugin's error reads "test-config[0]:1:1: interval_ms: must be
// positive" (key paths start at the section: no "plugins[0].config." prefix).
//
// Recovery: restart() stops the plugins and starts new ones over the same storage and ports,
// as a restarted process would find them:
//   node.storage("io.example.kv").crash();  // optional: lose what was not synced, as a crash
//   ASSERT_TRUE(node.restart().ok());
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nodus/plugin.h"
#include "nodus/services/admin.h"
#include "nodus/testing/capture_logger.h"
#include "nodus/testing/fake_datagrams.h"
#include "nodus/testing/fake_http_client.h"
#include "nodus/testing/fake_membership.h"
#include "nodus/testing/fake_processes.h"
#include "nodus/testing/fake_transport.h"
#include "nodus/testing/manual_executor.h"
#include "nodus/testing/memory_storage.h"

namespace nodus::testing {

struct TestNodeOptions {
  uint32_t index = 0;
  uint32_t instances = 1;
  std::string profile = "test";
  bool joining = false;  // InstanceInfo::joining (started by `nodus scale`)
  // InstanceInfo::ports: the named ports the plugins may bind with datagrams(), and serve HTTP
  // routes on for real, by the kernel's server on 127.0.0.1 (0 binds a free port: see
  // TestNode::http_port()); handlers run on the ManualExecutor, so a test drives it while a
  // client thread waits.
  std::map<std::string, uint16_t> ports = {};
};

class TestNode {
 public:
  explicit TestNode(TestNodeOptions options = {});
  ~TestNode();
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;

  // Queues a plugin file with its config section (YAML text, may be empty). The file's
  // directory becomes a plugin directory. Plugins are opened and configured by configure().
  Status add_plugin(const std::filesystem::path& file, const std::string& config_yaml = "");
  // Opens, orders, validates and configures every queued plugin.
  Status configure();
  // configure() if needed, then start() in dependency order; runs the executor until idle.
  Status start();
  Status stop();
  // The node's process restarts: stop() if running, the plugin objects are destroyed, and the
  // same files are opened, configured with the same sections and started again, over the same
  // storage (each plugin's MemoryStorage, kept whole: call storage(name).crash() first to lose
  // unsynced writes) and the same ports (an HTTP port bound to 0 keeps the port it got). As in
  // a new process, the plugins find no pending task or timer on the executor (the test's own
  // are dropped too), no transport handler (what was sent stays recorded), a new event bus
  // (subscribe again through events()) and new HTTP client fakes (http_client(name) again).
  // Metrics, membership, datagrams, processes and admin carry on. Returns the first error of
  // the stop or the start.
  Status restart();
  bool ready() const;
  const std::string& role() const;

  ManualExecutor& executor() { return executor_; }
  FakeTransport& transport() { return *transport_; }
  Metrics& metrics();
  EventBus& events();  // this incarnation's (restart() makes a new one)
  LogLines& logs() { return *logs_; }
  MemoryStorage& storage(const std::string& plugin_name);
  // Sum of a counter or gauge over all its label sets; -1 when absent.
  double metric_value(const std::string& name) const;
  // A capability object provided by a started plugin, checked by name and revision as
  // PluginContext::find() does (nodus/capability.h); nullptr when there is none.
  template <CapabilityInterface Interface>
  Interface* find() {
    auto found = capability_cast<Interface>(find_capability(Interface::kCapability));
    return found.ok() ? *found : nullptr;
  }
  CapabilityRef find_capability(std::string_view capability);
  // Membership (nodus/capabilities/membership.h): the static membership plugins see unless one
  // of them provides nodus.membership/v1; instances 0..instances-1 alive at start, and the test
  // drives joins, failures and leaves through it.
  FakeMembership& membership() { return *membership_; }

  // Admin (nodus/services/admin.h): runs a plugin command as the supervisor would (arguments
  // as typed text), driving the executor, and simulated time up to `wait`, until it answers.
  Result<CommandResult> command(const std::string& name,
                                const std::map<std::string, std::string>& args = {},
                                Duration wait = std::chrono::seconds(30));
  // A plugin's status section as /status shows it; nullopt when the plugin set none.
  std::optional<StatusSection> status_section(const std::string& plugin_name);

  // HTTP client (nodus/services/http_client.h)
  // The fake behind the plugin's ctx.http_client(): script answers before start(), inspect the
  // requests after. It ends (no more callbacks) with the plugin's stop().
  FakeHttpClient& http_client(const std::string& plugin_name);
  // Datagrams (nodus/services/datagram.h)
  // What the plugins bound, sent and receive (deliver()); TestNodeOptions::ports names ports.
  FakeDatagrams& datagrams();
  // Processes (nodus/services/processes.h)
  // The fake behind a plugin's ctx.processes(): script exits, inspect starts and stops. The
  // plugin's stop() shuts it down (what still runs is recorded in stopped_at_shutdown()).
  FakeProcesses& processes(const std::string& plugin_name);

  // HTTP server (nodus/services/http.h)
  // The TCP port serving the named port, 0 until a plugin routes on it.
  uint16_t http_port(std::string_view port) const;

 private:
  struct Impl;
  // Declared first so it is destroyed last: the fakes below may still hold closures whose code
  // lives in the plugin libraries.
  std::vector<std::shared_ptr<void>> pinned_libraries_;
  ManualExecutor executor_;
  std::shared_ptr<LogLines> logs_;
  std::unique_ptr<FakeTransport> transport_;
  std::unique_ptr<FakeMembership> membership_;  // Membership
  std::unique_ptr<Impl> impl_;
};

// Parses YAML text into a ConfigNode the way the kernel reads a profile (positions, key paths),
// for unit tests of a plugin's config parsing without the kernel's headers:
//   NODUS_ASSIGN_OR_RETURN(ConfigNode node, parse_config_yaml("heartbeat_ms: 50"));
Result<ConfigNode> parse_config_yaml(const std::string& text,
                                     const std::string& source_name = "test.yaml");

}  // namespace nodus::testing
