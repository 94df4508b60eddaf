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
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nodus/plugin.h"
#include "nodus/testing/capture_logger.h"
#include "nodus/testing/fake_transport.h"
#include "nodus/testing/manual_executor.h"
#include "nodus/testing/memory_storage.h"

namespace nodus::testing {

struct TestNodeOptions {
  uint32_t index = 0;
  uint32_t instances = 1;
  std::string profile = "test";
  bool joining = false;  // InstanceInfo::joining (started by `nodus scale`)
  // HTTP server (nodus/services/http.h)
  // InstanceInfo::ports. Plugins' HTTP routes on these are served for real, by the kernel's
  // server on 127.0.0.1 (0 binds a free port: see TestNode::http_port()); handlers run on the
  // ManualExecutor, so a test drives it while a client thread waits.
  std::map<std::string, uint16_t> ports;
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
  bool ready() const;
  const std::string& role() const;

  ManualExecutor& executor() { return executor_; }
  FakeTransport& transport() { return *transport_; }
  Metrics& metrics();
  EventBus& events();
  LogLines& logs() { return *logs_; }
  MemoryStorage& storage(const std::string& plugin_name);
  // Sum of a counter or gauge over all its label sets; -1 when absent.
  double metric_value(const std::string& name) const;
  // A capability object provided by a loaded plugin.
  template <class Interface>
  Interface* find() {
    return static_cast<Interface*>(find_capability(Interface::kCapability));
  }
  void* find_capability(std::string_view capability);

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
  std::unique_ptr<Impl> impl_;
};

// Parses YAML text into a ConfigNode the way the kernel reads a profile (positions, key paths),
// for unit tests of a plugin's config parsing without the kernel's headers:
//   NODUS_ASSIGN_OR_RETURN(ConfigNode node, parse_config_yaml("heartbeat_ms: 50"));
Result<ConfigNode> parse_config_yaml(const std::string& text,
                                     const std::string& source_name = "test.yaml");

}  // namespace nodus::testing
