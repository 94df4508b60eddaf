// isolation.h: the io.nodus.isolation.linux plugin. Pins its node instance to a CPU set and
// puts it in a cgroup of its own with CPU, memory, pids and I/O limits, then reports what the
// cgroup measures (CPU time, throttling, memory, OOM kills) as metrics.
//
// It isolates the process it runs in, in start(). A profile lists it first so that it starts
// before the other plugins (the kernel keeps profile order among independent plugins), and
// every thread they create inherits the CPU set and the cgroup.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cgroup_driver.h"
#include "nodus/plugin.h"

namespace nodus::isolation {

struct IsolationConfig {
  std::vector<std::string> cpus;  // one CPU list per instance index
  int64_t cpus_per_instance = 0;  // automatic layout when > 0
  CgroupLimits limits;            // limits.cpus is decided in start()
  std::string parent = "nodus";   // cgroup path; relative to the process's current cgroup
  bool strict = false;            // unmet isolation is an error, not a warning
  int64_t stats_interval_ms = 1000;
  std::string fs_root = "/";  // where /proc/self/{mountinfo,cgroup} and the mounts are read
};

class Isolation final : public nodus::Plugin {
 public:
  static constexpr std::string_view kName = "io.nodus.isolation.linux";
  static constexpr std::string_view kCapability = "nodus.isolation/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;

  explicit Isolation(nodus::PluginContext& ctx);
  ~Isolation() override;
  Isolation(const Isolation&) = delete;
  Isolation& operator=(const Isolation&) = delete;

  nodus::Status configure(const nodus::ConfigNode& config) override;
  nodus::Status start() override;
  nodus::Status stop() override;
  nodus::CapabilityRef provide(std::string_view capability) override;

 private:
  class Monitor;  // the metrics timer's state, shared by weak_ptr

  // Logs a warning, or (strict) remembers it as the error start() returns.
  void problem(const std::string& message);
  nodus::Status check_strict_cpus(const nodus::ConfigNode& config) const;
  std::vector<int> choose_cpus();
  void setup_cgroup(const std::vector<int>& cpus);
  void write_state_file(const std::string& cpus_granted);
  void undo();

  nodus::PluginContext& ctx_;
  IsolationConfig config_;
  std::vector<std::string> errors_;
  std::unique_ptr<CgroupDriver> driver_;
  std::vector<int> original_affinity_;
  bool pinned_ = false;
  std::string mode_ = "none";  // detected cgroup layout
  std::filesystem::path state_file_;
  std::shared_ptr<Monitor> monitor_;
};

nodus::PluginDescriptor describe_isolation();

}  // namespace nodus::isolation
