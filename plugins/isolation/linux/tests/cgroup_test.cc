// Unit tests of the isolation building blocks: CPU lists, cgroup detection on fixture mount
// tables, and the v1 and v2 writers against directory trees laid out like /sys/fs/cgroup.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cgroup_detect.h"
#include "cgroup_driver.h"
#include "cgroup_files.h"
#include "cpu_set.h"
#include "isolation_fixtures.h"

namespace nodus::isolation {
namespace {

namespace fs = std::filesystem;
using testing_fixtures::FakeTree;

// Goal: kernel CPU lists parse to sorted sets and print back in their shortest form.
TEST(CpuList, ParsesAndFormats) {
  EXPECT_EQ(*parse_cpu_list("0-3,8,10-11\n"), (CpuList{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(format_cpu_list(*parse_cpu_list("3,1,2,2,7")), "1-3,7");
  EXPECT_FALSE(parse_cpu_list("").ok());
  EXPECT_FALSE(parse_cpu_list("3-1").ok());
  EXPECT_FALSE(parse_cpu_list("a").ok());
  EXPECT_FALSE(parse_cpu_list("1,,2").ok());
}

// Goal: the automatic layout gives the design's blocks (0-7, 8-15) and says when it wraps.
TEST(CpuList, AutoLayoutBlocksAndWraps) {
  const CpuList online = *parse_cpu_list("0-31");
  EXPECT_EQ(format_cpu_list(auto_cpu_layout(1, 8, online).cpus), "8-15");
  EXPECT_FALSE(auto_cpu_layout(3, 8, online).wrapped);
  const CpuLayout wrapped = auto_cpu_layout(2, 1, {0, 1});
  EXPECT_TRUE(wrapped.wrapped);
  EXPECT_EQ(format_cpu_list(wrapped.cpus), "0");
}

const char* kV1Mounts =
    "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n";
const char* kV1Self = "4:memory:/job/7\n3:cpuset:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n";

// Goal: a v1 host is detected with co-mounted controllers sharing one hierarchy.
TEST(Detect, V1) {
  const CgroupLayout l = detect_cgroups(kV1Mounts, kV1Self);
  EXPECT_EQ(l.mode, CgroupMode::kV1);
  EXPECT_FALSE(l.unified.has_value());
  ASSERT_EQ(l.v1.count("cpuacct"), 1u);
  EXPECT_EQ(l.v1.at("cpu").mount_point, "/sys/fs/cgroup/cpu,cpuacct");
  EXPECT_EQ(l.v1.at("memory").dir_of(l.v1.at("memory").current), "/sys/fs/cgroup/memory/job/7");
  EXPECT_EQ(l.v1.count("systemd"), 0u);
  EXPECT_EQ(l.v1.count("pids"), 0u);
}

// Goal: a pure v2 host is detected, including a container whose mount root is not "/".
TEST(Detect, V2AndContainerMountRoot) {
  const CgroupLayout l =
      detect_cgroups("30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n",
                     "0::/user.slice/a\n");
  EXPECT_EQ(l.mode, CgroupMode::kV2);
  ASSERT_TRUE(l.unified.has_value());
  EXPECT_EQ(l.unified->dir_of(l.unified->current), "/sys/fs/cgroup/user.slice/a");
  const CgroupLayout c = detect_cgroups(
      "600 500 0:26 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup2 rw\n", "0::/docker/abc\n");
  EXPECT_EQ(c.unified->dir_of(c.unified->current), "/sys/fs/cgroup");
  EXPECT_EQ(join_cgroup_path("/docker/abc", "nodus", "n-0"), "/docker/abc/nodus/n-0");
  EXPECT_EQ(join_cgroup_path("/a", "/abs/p", "n-0"), "/abs/p/n-0");
}

// Goal: this machine's hybrid layout (v1 controllers plus an empty unified mount) is hybrid.
TEST(Detect, HybridAndNone) {
  const std::string mounts =
      std::string(kV1Mounts) + "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  const CgroupLayout l = detect_cgroups(mounts, std::string(kV1Self) + "0::/\n");
  EXPECT_EQ(l.mode, CgroupMode::kHybrid);
  EXPECT_EQ(l.unified->mount_point, "/sys/fs/cgroup/unified");
  EXPECT_EQ(detect_cgroups("22 1 0:5 / /proc rw - proc proc rw\n", "").mode, CgroupMode::kNone);
  const CgroupLayout esc =
      detect_cgroups("30 23 0:26 / /mnt/cg\\040x rw - cgroup2 cgroup2 rw\n", "0::/\n");
  EXPECT_EQ(esc.unified->mount_point, "/mnt/cg x");
}

// Goal: the v2 writer enables controllers down the path, writes every limit in v2 syntax,
// attaches the pid, reads usage back, and moves the pid back on release.
TEST(CgroupV2, WritesLimitsAndReadsUsage) {
  FakeTree tree;
  const fs::path cg = tree.v2("/svc", "nodus/n-0");
  tree.put(cg / "cpu.stat", "usage_usec 2500000\nuser_usec 1\nthrottled_usec 750000\n");
  tree.put(cg / "memory.current", "1048576\n");
  tree.put(cg / "memory.peak", "4194304\n");
  tree.put(cg / "memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n");
  tree.put(cg / "cpuset.cpus.effective", "1\n");
  const CgroupLayout layout =
      detect_cgroups(tree.read("proc/self/mountinfo"), tree.read("proc/self/cgroup"), tree.root());
  auto driver = make_cgroup_driver(layout, "nodus", "n-0");
  ASSERT_NE(driver, nullptr);
  EXPECT_EQ(driver->version(), "v2");
  std::vector<std::string> warnings;
  ASSERT_TRUE(driver->create(warnings));
  CgroupLimits l;
  l.cpu_quota_cpus = 0.5;
  l.cpu_weight = 200;
  l.memory_max_bytes = 64u << 20;
  l.memory_high_bytes = 48u << 20;
  l.pids_max = 512;
  l.io_weight = 50;
  l.cpus = "1";
  driver->apply(l, warnings);
  driver->attach(4242, warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(tree.read(tree.cg("svc/cgroup.subtree_control")), "+cpu +cpuset +io +memory +pids");
  EXPECT_EQ(tree.read(tree.cg("svc/nodus/cgroup.subtree_control")),
            "+cpu +cpuset +io +memory +pids");
  EXPECT_EQ(tree.read(cg / "cpu.max"), "50000 100000");
  EXPECT_EQ(tree.read(cg / "cpu.weight"), "200");
  EXPECT_EQ(tree.read(cg / "memory.max"), "67108864");
  EXPECT_EQ(tree.read(cg / "memory.swap.max"), "0");
  EXPECT_EQ(tree.read(cg / "memory.high"), "50331648");
  EXPECT_EQ(tree.read(cg / "pids.max"), "512");
  EXPECT_EQ(tree.read(cg / "io.weight"), "default 50");
  EXPECT_EQ(tree.read(cg / "cpuset.cpus"), "1");
  EXPECT_EQ(tree.read(cg / "cgroup.procs"), "4242");
  EXPECT_EQ(driver->effective_cpus(), "1");
  EXPECT_EQ(driver->oom_events_file(), cg / "memory.events");
  const CgroupUsage u = driver->usage();
  EXPECT_DOUBLE_EQ(u.cpu_seconds.value_or(-1), 2.5);
  EXPECT_DOUBLE_EQ(u.cpu_throttled_seconds.value_or(-1), 0.75);
  EXPECT_EQ(u.memory_bytes.value_or(0), 1u << 20);
  EXPECT_EQ(u.memory_peak_bytes.value_or(0), 4u << 20);
  EXPECT_EQ(u.oom_kills.value_or(0), 2u);
  // Unset limits are written as "no limit", so a reused cgroup keeps nothing stale.
  driver->apply(CgroupLimits{}, warnings);
  EXPECT_EQ(tree.read(cg / "cpu.max"), "max 100000");
  EXPECT_EQ(tree.read(cg / "memory.max"), "max");
  // The fake directory still holds files, so rmdir fails; the pid must be back home anyway.
  (void)driver->release(4242);
  EXPECT_EQ(tree.read(tree.cg("svc/cgroup.procs")), "4242");
}

// Goal: a v2 limit whose controller is not enabled for the cgroup is a warning naming the key.
TEST(CgroupV2, MissingControllerIsAWarning) {
  FakeTree tree;
  tree.v2("/", "nodus/n-0", "cpu memory");
  auto driver = make_cgroup_driver(
      detect_cgroups(tree.read("proc/self/mountinfo"), tree.read("proc/self/cgroup"), tree.root()),
      "nodus", "n-0");
  std::vector<std::string> warnings;
  ASSERT_TRUE(driver->create(warnings));
  CgroupLimits l;
  l.pids_max = 10;
  driver->apply(l, warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("pids_max: controller 'pids' is not enabled"), std::string::npos);
}

// Goal: the v1 writer creates one cgroup per hierarchy, inherits cpuset CPUs and memory
// nodes, writes v1 files (cfs quota, shares, limit_in_bytes, memsw) and reads v1 usage.
TEST(CgroupV1, WritesLimitsAndReadsUsage) {
  FakeTree tree;
  tree.v1();
  const CgroupLayout layout =
      detect_cgroups(tree.read("proc/self/mountinfo"), tree.read("proc/self/cgroup"), tree.root());
  ASSERT_EQ(layout.mode, CgroupMode::kHybrid);
  auto driver = make_cgroup_driver(layout, "nodus", "n-1");
  ASSERT_NE(driver, nullptr);
  std::vector<std::string> warnings;
  ASSERT_TRUE(driver->create(warnings)) << warnings.front();
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  const fs::path cpu = tree.cg("cpu,cpuacct/nodus/n-1");
  const fs::path mem = tree.cg("memory/job/nodus/n-1");
  const fs::path cpuset = tree.cg("cpuset/nodus/n-1");
  EXPECT_EQ(tree.read(cpuset / "cpuset.mems"), "0");
  EXPECT_EQ(tree.read(tree.cg("cpuset/nodus/cpuset.cpus")), "0-1");
  for (const char* f : {"cpu.cfs_period_us", "cpu.cfs_quota_us", "cpu.shares", "cpu.stat",
                        "cpuacct.usage", "cgroup.procs"})
    tree.put(cpu / f, "");
  for (const char* f : {"memory.limit_in_bytes", "memory.memsw.limit_in_bytes",
                        "memory.soft_limit_in_bytes", "cgroup.procs"})
    tree.put(mem / f, "");
  tree.put(cpuset / "cgroup.procs", "");
  CgroupLimits l;
  l.cpu_quota_cpus = 0.25;
  l.cpu_weight = 50;
  l.memory_max_bytes = 32u << 20;
  l.memory_high_bytes = 16u << 20;
  l.cpus = "1";
  driver->apply(l, warnings);
  driver->attach(77, warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(tree.read(cpu / "cpu.cfs_quota_us"), "25000");
  EXPECT_EQ(tree.read(cpu / "cpu.cfs_period_us"), "100000");
  EXPECT_EQ(tree.read(cpu / "cpu.shares"), "512");
  EXPECT_EQ(tree.read(mem / "memory.limit_in_bytes"), "33554432");
  EXPECT_EQ(tree.read(mem / "memory.memsw.limit_in_bytes"), "33554432");
  EXPECT_EQ(tree.read(mem / "memory.soft_limit_in_bytes"), "16777216");
  EXPECT_EQ(tree.read(cpuset / "cpuset.cpus"), "1");
  EXPECT_EQ(tree.read(mem / "cgroup.procs"), "77");
  EXPECT_EQ(tree.read(cpu / "cgroup.procs"), "77");
  tree.put(cpu / "cpuacct.usage", "1500000000\n");
  tree.put(cpu / "cpu.stat", "nr_periods 10\nnr_throttled 4\nthrottled_time 400000000\n");
  tree.put(mem / "memory.usage_in_bytes", "2097152\n");
  tree.put(mem / "memory.max_usage_in_bytes", "3145728\n");
  tree.put(mem / "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  const CgroupUsage u = driver->usage();
  EXPECT_DOUBLE_EQ(u.cpu_seconds.value_or(-1), 1.5);
  EXPECT_DOUBLE_EQ(u.cpu_throttled_seconds.value_or(-1), 0.4);
  EXPECT_EQ(u.memory_bytes.value_or(0), 2u << 20);
  EXPECT_EQ(u.memory_peak_bytes.value_or(0), 3u << 20);
  EXPECT_EQ(u.oom_kills.value_or(0), 1u);
  EXPECT_EQ(driver->oom_events_file(), mem / "memory.oom_control");
  EXPECT_EQ(driver->directories().at("cpuacct"), cpu);
  (void)driver->release(77);
  EXPECT_EQ(tree.read(tree.cg("memory/job/cgroup.procs")), "77");
}

// Goal: a cgroup path that cannot be created drops that hierarchy with a warning.
TEST(CgroupV1, UncreatableHierarchyIsAWarning) {
  FakeTree tree;
  tree.v1();
  tree.put(tree.cg("memory/job/nodus"), "a file where a directory should be");
  auto driver = make_cgroup_driver(
      detect_cgroups(tree.read("proc/self/mountinfo"), tree.read("proc/self/cgroup"), tree.root()),
      "nodus", "n-1");
  std::vector<std::string> warnings;
  EXPECT_TRUE(driver->create(warnings));  // the other hierarchies still work
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("cgroup v1 memory:"), std::string::npos) << warnings[0];
  EXPECT_EQ(driver->directories().count("memory"), 0u);
}

}  // namespace
}  // namespace nodus::isolation
