// Unit tests of io.nodus.isolation.linux loaded through the real loader into a TestNode, with
// its cgroup side pointed at fixture trees (fs_root) and its CPU pinning real.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>

#include "affinity.h"
#include "isolation_fixtures.h"
#include "nodus/harness/test_node.h"

namespace nodus::isolation {
namespace {

using nodus::testing::TestNode;
using testing_fixtures::FakeTree;

std::string dump(const nodus::testing::LogLines& logs) {
  std::string out;
  for (const std::string& line : logs.lines())
    out += line + "\n";
  return out;
}

// Goal: on a v2 host the plugin writes the configured limits into its own cgroup, joins it,
// exports the cgroup's usage as metrics, keeps them current, and leaves the cgroup on stop.
TEST(IsolationPlugin, V2LimitsAndUsageMetrics) {
  FakeTree tree;
  const auto cg = tree.v2("/", "nodus/test-0");
  tree.put(cg / "cpu.stat", "usage_usec 2500000\nthrottled_usec 750000\n");
  tree.put(cg / "memory.current", "1048576\n");
  tree.put(cg / "memory.events", "oom_kill 2\n");
  TestNode node;
  ASSERT_TRUE(node.add_plugin(ISOLATION_PLUGIN, "fs_root: " + tree.root().string() +
                                                    "\ncpu_quota: 0.5\nmemory_max: 64MiB\n"
                                                    "pids_max: 100\nstats_interval_ms: 100\n")
                  .ok());
  ASSERT_TRUE(node.start().ok()) << dump(node.logs());
  EXPECT_EQ(tree.read(cg / "cpu.max"), "50000 100000");
  EXPECT_EQ(tree.read(cg / "memory.max"), "67108864");
  EXPECT_EQ(tree.read(cg / "pids.max"), "100");
  EXPECT_EQ(tree.read(cg / "cgroup.procs"), std::to_string(::getpid()));
  EXPECT_DOUBLE_EQ(node.metric_value("nodus_isolation_cpu_seconds_total"), 2.5);
  EXPECT_DOUBLE_EQ(node.metric_value("nodus_isolation_cpu_throttled_seconds_total"), 0.75);
  EXPECT_EQ(node.metric_value("nodus_isolation_memory_bytes"), 1048576);
  EXPECT_EQ(node.metric_value("nodus_isolation_memory_limit_bytes"), 64 << 20);
  EXPECT_EQ(node.metric_value("nodus_isolation_oom_kills_total"), 2);
  EXPECT_EQ(node.metric_value("nodus_isolation_cgroup_info"), 1);
  tree.put(cg / "cpu.stat", "usage_usec 4000000\nthrottled_usec 750000\n");
  tree.put(cg / "memory.events", "oom_kill 3\n");
  node.executor().advance(std::chrono::milliseconds(100));
  EXPECT_DOUBLE_EQ(node.metric_value("nodus_isolation_cpu_seconds_total"), 4.0);
  EXPECT_EQ(node.metric_value("nodus_isolation_oom_kills_total"), 3);
  ASSERT_TRUE(node.stop().ok());
  EXPECT_EQ(tree.read(tree.cg("cgroup.procs")), std::to_string(::getpid()));
}

// Goal: without cgroups the start goes on with a warning, unless strict: true makes it fail.
TEST(IsolationPlugin, NoCgroupsWarnsOrFailsWhenStrict) {
  FakeTree empty;
  {
    TestNode node;
    ASSERT_TRUE(node.add_plugin(ISOLATION_PLUGIN, "fs_root: " + empty.root().string()).ok());
    ASSERT_TRUE(node.start().ok());
    EXPECT_TRUE(node.logs().contains("no cgroup filesystem")) << dump(node.logs());
    EXPECT_TRUE(node.logs().contains("set strict: true"));
    EXPECT_GT(node.metric_value("nodus_isolation_cpu_seconds_total"), 0);  // process fallback
  }
  TestNode strict;
  ASSERT_TRUE(
      strict.add_plugin(ISOLATION_PLUGIN, "fs_root: " + empty.root().string() + "\nstrict: true")
          .ok());
  Status st = strict.start();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("no cgroup filesystem"), std::string::npos) << st.message();
}

// Goal: cpus_per_instance pins every thread to the instance's block, the granted count is a
// metric, and stop restores the original affinity.
TEST(IsolationPlugin, PinsByAutomaticLayoutAndRestores) {
  FakeTree empty;
  const CpuList online = online_cpus();
  const CpuList before = *current_affinity();
  TestNode node({.index = 1, .instances = 2});
  ASSERT_TRUE(node.add_plugin(ISOLATION_PLUGIN,
                              "fs_root: " + empty.root().string() + "\ncpus_per_instance: 1")
                  .ok());
  ASSERT_TRUE(node.start().ok());
  EXPECT_EQ(*current_affinity(), CpuList{online[1 % online.size()]});
  EXPECT_EQ(node.metric_value("nodus_isolation_cpus_granted"), 1);
  ASSERT_TRUE(node.stop().ok());
  EXPECT_EQ(*current_affinity(), before);
}

// Goal: contradictory or incomplete CPU settings fail configure, naming the key.
TEST(IsolationPlugin, BadConfigNamesTheKey) {
  struct Case {
    const char* yaml;
    const char* expect;
  };
  for (const Case& c :
       {Case{"cpus: ['0', '1']\ncpus_per_instance: 1", "cpus_per_instance: set either"},
        Case{"cpus: ['0']", "cpus: has 1 entries but the profile runs 2"},
        Case{"cpus: ['0', '3-1']", "runs backwards"},
        Case{"memory_max: 64MiB\nmemory_high: 1GiB", "memory_high: must not exceed"},
        Case{"cpu_quota: 0", "cpu_quota: must be"},
        Case{"cpus_per_instance: 4096\nstrict: true", "strict: true forbids sharing"},
        Case{"cpus: ['0', '4000-4001']\nstrict: true", "asks for CPUs 4000-4001"}}) {
    // Instance 1, so that both the automatic layout and the explicit list are checked for it.
    TestNode node({.index = 1, .instances = 2});
    ASSERT_TRUE(node.add_plugin(ISOLATION_PLUGIN, c.yaml).ok());
    Status st = node.configure();
    EXPECT_FALSE(st.ok()) << c.yaml;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace nodus::isolation
