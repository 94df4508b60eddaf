// isolation_fixtures.h (tests only): temporary trees laid out like a host's /proc/self and
// /sys/fs/cgroup, for the cgroup writers and the plugin.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace nodus::isolation::testing_fixtures {

class FakeTree {
 public:
  FakeTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nodus-iso-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  FakeTree(const FakeTree&) = delete;
  FakeTree& operator=(const FakeTree&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path cg(const std::string& rel) const { return root_ / "sys/fs/cgroup" / rel; }

  void put(const std::filesystem::path& file, const std::string& text) const {
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::trunc) << text;
  }
  std::string read(const std::filesystem::path& file) const {
    const std::filesystem::path p = file.is_absolute() ? file : root_ / file;
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  // A v2 host: the process sits in `current`; the instance cgroup `rel` (below current)
  // already exists with its interface files, as the kernel would make them.
  std::filesystem::path v2(const std::string& current, const std::string& rel,
                           const std::string& controllers = "cpuset cpu io memory pids") const {
    put(root_ / "proc/self/mountinfo",
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n");
    put(root_ / "proc/self/cgroup", "0::" + current + "\n");
    const std::filesystem::path dir =
        current == "/" ? root_ / "sys/fs/cgroup" : cg(current.substr(1));
    auto level = [&](const std::filesystem::path& p) {
      put(p / "cgroup.controllers", controllers);
      put(p / "cgroup.subtree_control", "");
      put(p / "cgroup.procs", "");
    };
    std::filesystem::path leaf = dir;
    level(leaf);
    for (const auto& part : std::filesystem::path(rel)) {
      leaf /= part;
      level(leaf);
    }
    for (const char* f : {"cpu.max", "cpu.weight", "memory.max", "memory.swap.max", "memory.high",
                          "pids.max", "io.weight", "cpuset.cpus"})
      put(leaf / f, "");
    return leaf;
  }

  // This machine's hybrid layout: cpu+cpuacct co-mounted, cpuset, memory (process in /job).
  void v1() const {
    put(root_ / "proc/self/mountinfo",
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
    put(root_ / "proc/self/cgroup", "4:memory:/job\n3:cpuset:/\n2:cpu,cpuacct:/\n0::/\n");
    put(cg("cpuset/cpuset.cpus"), "0-1\n");
    put(cg("cpuset/cpuset.mems"), "0\n");
    put(cg("cpuset/cgroup.procs"), "");
    // The instance "n-1" is left over from an earlier run, with an empty cpuset as v1 makes it.
    for (const char* d : {"cpuset/nodus", "cpuset/nodus/n-1"}) {
      put(cg(d) / "cpuset.cpus", "\n");
      put(cg(d) / "cpuset.mems", "\n");
    }
    put(cg("memory/job/cgroup.procs"), "");
    put(cg("cpu,cpuacct/cgroup.procs"), "");
  }

 private:
  std::filesystem::path root_;
};

}  // namespace nodus::isolation::testing_fixtures
