// cgroup_driver.h: one instance's cgroup, behind an interface with a v1 and a v2
// implementation. Both only read and write files under the mount points they were given, so
// tests run them against directory trees laid out like /sys/fs/cgroup.
//
//   auto driver = make_cgroup_driver(detect_cgroups(mountinfo, self_cgroup), "nodus", "a-0");
//   std::vector<std::string> warnings;
//   if (driver && driver->create(warnings)) {
//     driver->apply(limits, warnings);
//     driver->attach(::getpid(), warnings);
//   }
//   ...
//   driver->release(::getpid());  // moves the process back, removes the cgroup
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgroup_detect.h"
#include "nodus/status.h"

namespace nodus::isolation {

// What to enforce. Unset values are written as "no limit", so a reused cgroup keeps nothing
// from its previous owner.
struct CgroupLimits {
  std::optional<double> cpu_quota_cpus;  // 0.5 = half of one CPU per period
  std::optional<int64_t> cpu_weight;     // 1..10000, v2 scale (100 = default)
  std::optional<uint64_t> memory_max_bytes;
  std::optional<uint64_t> memory_high_bytes;
  std::optional<int64_t> pids_max;
  std::optional<int64_t> io_weight;  // 1..10000, v2 scale (100 = default)
  std::string cpus;                  // cpuset list; "" leaves the parent's CPUs
};

// Cumulative figures of the cgroup; a value is absent when its controller is.
struct CgroupUsage {
  std::optional<double> cpu_seconds;
  std::optional<double> cpu_throttled_seconds;
  std::optional<uint64_t> memory_bytes;
  std::optional<uint64_t> memory_peak_bytes;
  std::optional<uint64_t> oom_kills;
};

inline constexpr int64_t kCpuPeriodUs = 100'000;

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;
  virtual std::string_view version() const = 0;  // "v1" or "v2"
  // Creates the instance cgroup and its missing ancestors (a leftover of the same name is
  // reused). A controller that cannot be set up is dropped with a warning. False when no
  // controller is usable.
  virtual bool create(std::vector<std::string>& warnings) = 0;
  // Writes every limit; one that cannot be applied adds a warning naming its key.
  virtual void apply(const CgroupLimits& limits, std::vector<std::string>& warnings) = 0;
  // Moves the whole process (every thread) into the instance cgroup.
  virtual void attach(pid_t pid, std::vector<std::string>& warnings) = 0;
  virtual CgroupUsage usage() const = 0;
  // Moves `pid` back to the cgroup it came from and removes the instance cgroup and the
  // ancestors create() made (those still in use by other instances stay).
  virtual Status release(pid_t pid) = 0;
  // "unified" (v2) or each v1 controller -> the instance directory.
  virtual std::map<std::string, std::filesystem::path> directories() const = 0;
  // The file whose "oom_kill N" line counts OOM kills in the instance cgroup ("" if none).
  virtual std::filesystem::path oom_events_file() const = 0;
  // The CPUs the cpuset controller grants the instance; "" when there is no cpuset.
  virtual std::string effective_cpus() const = 0;
};

// `parent` is a cgroup path, relative to the process's current cgroup unless it starts with
// '/'; the instance cgroup is parent/name. v1 and hybrid hosts get the v1 driver, v2 hosts
// the v2 driver, hosts without cgroups nullptr.
std::unique_ptr<CgroupDriver> make_cgroup_driver(const CgroupLayout& layout,
                                                 std::string_view parent, std::string_view name);
std::unique_ptr<CgroupDriver> make_v1_driver(const CgroupLayout& layout, std::string_view parent,
                                             std::string_view name);
std::unique_ptr<CgroupDriver> make_v2_driver(const CgroupHierarchy& unified,
                                             std::string_view parent, std::string_view name);

}  // namespace nodus::isolation
