// nodus/isolation_state.h: the isolation state file (isolation.json), the one format shared by
// an isolation plugin, which writes it, and the supervisor, which reads it.
//
// While an instance is isolated, its isolation plugin (io.nodus.isolation.linux) keeps
// <data_dir>/<node>/isolation.json: one JSON object naming the instance's cgroups and where
// the kernel counts its OOM kills. The instance cannot report its own death, so when it dies
// by SIGKILL the supervisor reads this file: more `oom_kill` events in `oom_events_file` than
// `oom_kills_at_start` means the kernel's OOM killer ended it, and the `cgroups` directories
// are what a crashed instance could not remove. The format lives here, in the SDK, because
// plugins may not include kernel code; plugins/isolation/linux/README.md shows an example file.
//
//   nodus::IsolationState s;
//   s.pid = ::getpid();
//   s.node = "aurigraph-0";
//   s.cgroups = {{"memory", "/sys/fs/cgroup/memory/nodus/aurigraph-0"}};
//   write_file(dir / nodus::kIsolationStateFile, nodus::serialize_isolation_state(s));
//   ...
//   auto read = nodus::read_isolation_state(dir / nodus::kIsolationStateFile);
//   if (!read.ok()) log(read.status().message());  // "FILE: key 'pid': ..."
//
// Versioning: `version` is kIsolationStateVersion. Adding a key keeps the version (readers
// ignore keys they do not know); changing the meaning or type of a key bumps it, and a reader
// refuses a version newer than its own. A file without `version` is version 1, the layout
// the plugin wrote before the key existed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "nodus/status.h"

namespace nodus {

inline constexpr std::string_view kIsolationStateFile = "isolation.json";
inline constexpr uint32_t kIsolationStateVersion = 1;

struct IsolationState {
  uint32_t version = kIsolationStateVersion;
  int64_t pid = 0;           // the isolated instance's process
  std::string node;          // its node name, "aurigraph-0"
  std::string mode;          // the host's cgroup layout: "v1", "v2", "hybrid" or "none"
  std::string driver;        // the cgroup version written to: "v1", "v2" or "none"
  std::string cpus_granted;  // CPU list the instance may run on, "0-1,4"
  std::map<std::string, std::string> cgroups;  // controller -> cgroup directory
  std::string oom_events_file;      // the file with the `oom_kill N` line; "" without a cgroup
  uint64_t oom_kills_at_start = 0;  // N in that file when the instance was isolated

  bool operator==(const IsolationState&) const = default;
};

// One JSON object on one line, keys in a fixed order, ending in a newline.
std::string serialize_isolation_state(const IsolationState& state);

// Parses a file's text. `file` only names the source in errors:
// INVALID_ARGUMENT "FILE: key 'pid': expected an integer" (or "FILE: not JSON at byte N").
Result<IsolationState> parse_isolation_state(std::string_view json, std::string_view file);

// Reads and parses `file`; NOT_FOUND when it does not exist.
Result<IsolationState> read_isolation_state(const std::filesystem::path& file);

}  // namespace nodus
