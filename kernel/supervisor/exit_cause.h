// supervisor/exit_cause.h: why a node instance ended, from its exit status and the state file
// that io.nodus.isolation.linux keeps in the instance's data directory (isolation.json). The
// supervisor uses it to report an OOM kill as such, and to remove the cgroups a crashed
// instance could not remove itself. Only the file format is shared with the plugin, no code.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace nodus::kernel {

// The file io.nodus.isolation.linux writes into the instance data directory.
inline constexpr const char* kIsolationStateFile = "isolation.json";

enum class ExitCause { kExited, kSignaled, kOomKilled };

struct ExitReport {
  ExitCause cause = ExitCause::kExited;
  int code = 0;            // exit code, or 128 + signal
  uint64_t oom_kills = 0;  // in the instance's cgroup since the instance started
  std::string detail;  // "OOM-killed: oom_kill 1 in /sys/fs/cgroup/memory/.../memory.oom_control"
};

// `code` is the exit code, or 128 + signal for a process killed by a signal.
ExitReport classify_exit(int code, const std::filesystem::path& state_file);

// The "cgroups" map of a state file: controller -> directory.
std::map<std::string, std::filesystem::path> state_cgroups(const std::filesystem::path& state_file);

// Removes the cgroup directories a crashed instance left (rmdir; the kernel refuses while any
// task is inside). Returns how many were removed.
int remove_state_cgroups(const std::filesystem::path& state_file);

}  // namespace nodus::kernel
