// exit_cause.h: why a node instance ended, from its exit status and the state file that
// io.nodus.isolation.linux keeps in the instance's data directory (isolation.json). This is
// the logic the supervisor needs to report "OOM-killed"; it lives here until the supervisor
// takes it over (it must not link plugin code, and needs none: only this file format).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace nodus::test {

enum class ExitCause { kExited, kSignaled, kOomKilled };

struct ExitReport {
  ExitCause cause = ExitCause::kExited;
  int code = 0;            // exit code, or 128 + signal
  uint64_t oom_kills = 0;  // in the instance's cgroup since the instance started
  std::string detail;  // "OOM-killed: oom_kill 1 in /sys/fs/cgroup/memory/.../memory.oom_control"
};

// `code` as tests/cli/process.h reports it: the exit code, or 128 + signal.
ExitReport classify_exit(int code, const std::filesystem::path& state_file);

// The "cgroups" map of a state file: controller -> directory.
std::map<std::string, std::filesystem::path> state_cgroups(const std::filesystem::path& state_file);

// Removes the cgroup directories a crashed instance left (rmdir; the kernel refuses while any
// task is inside). Returns how many were removed.
int remove_state_cgroups(const std::filesystem::path& state_file);

}  // namespace nodus::test
