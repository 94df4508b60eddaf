// supervisor/exit_cause.h: why a node instance ended, from its exit status and the state file
// that io.nodus.isolation.linux keeps in the instance's data directory (isolation.json). The
// supervisor uses it to report an OOM kill as such, and to remove the cgroups a crashed
// instance could not remove itself. The file format is the SDK's (nodus/isolation_state.h),
// the one definition the plugin writes with and this reads with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "nodus/isolation_state.h"

namespace nodus::kernel {

enum class ExitCause { kExited, kSignaled, kOomKilled };

struct ExitReport {
  ExitCause cause = ExitCause::kExited;
  int code = 0;            // exit code, or 128 + signal
  uint64_t oom_kills = 0;  // in the instance's cgroup since the instance started
  // "OOM-killed: oom_kill 1 in /sys/fs/cgroup/memory/.../memory.oom_control", or why the state
  // file could not be read ("FILE: key 'pid': expected an integer").
  std::string detail;
};

// `code` is the exit code, or 128 + signal for a process killed by a signal.
ExitReport classify_exit(int code, const std::filesystem::path& state_file);

// The "cgroups" map of a state file: controller -> directory; empty when the file is absent or
// not a valid state file.
std::map<std::string, std::filesystem::path> state_cgroups(const std::filesystem::path& state_file);

// Removes the cgroup directories a crashed instance left (rmdir; the kernel refuses while any
// task is inside). Returns how many were removed.
int remove_state_cgroups(const std::filesystem::path& state_file);

}  // namespace nodus::kernel
