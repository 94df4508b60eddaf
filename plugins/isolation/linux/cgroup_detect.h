// cgroup_detect.h: which cgroup hierarchies a process sees, as a pure function of the text of
// /proc/self/mountinfo and /proc/self/cgroup (so that v1, v2 and hybrid hosts are tested on
// fixtures).
//
//   NODUS_ASSIGN_OR_RETURN(CgroupLayout layout, detect_cgroups(mountinfo, proc_cgroup));
//   if (layout.mode == CgroupMode::kV2) ... layout.unified->dir_of(layout.unified->current);
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/status.h"

namespace nodus::isolation {

enum class CgroupMode {
  kNone,    // no cgroup filesystem mounted
  kV1,      // only v1 controller hierarchies
  kV2,      // only the unified hierarchy (the common case on current distributions)
  kHybrid,  // v1 controllers plus a unified mount (systemd's "hybrid" layout)
};
std::string_view cgroup_mode_name(CgroupMode mode);

// One mounted hierarchy and where this process sits in it.
struct CgroupHierarchy {
  std::filesystem::path mount_point;  // "/sys/fs/cgroup/memory"
  std::string mount_root = "/";       // the hierarchy path the mount shows (not "/" in containers)
  std::string current = "/";          // this process's cgroup path in the hierarchy
  std::vector<std::string> controllers;  // v1: the co-mounted controllers ("cpu", "cpuacct")

  // The directory of hierarchy path `cgroup_path` ("/a/b") under the mount point.
  std::filesystem::path dir_of(std::string_view cgroup_path) const;
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::kNone;
  std::optional<CgroupHierarchy> unified;     // the cgroup2 mount
  std::map<std::string, CgroupHierarchy> v1;  // controller name -> its hierarchy
};

// v1 controllers nodus manages. Named hierarchies (name=systemd) and others are ignored.
const std::vector<std::string>& managed_v1_controllers();

// Never fails on unknown or malformed lines (they are skipped): a host with odd mounts must
// still start. `root_prefix` is prepended to every mount point (tests point it at a tree).
CgroupLayout detect_cgroups(std::string_view mountinfo, std::string_view proc_self_cgroup,
                            const std::filesystem::path& root_prefix = {});

// Joins cgroup paths: parent "nodus" relative to "/a" gives "/a/nodus"; an absolute parent
// stays as written. The result is normalised ("/a/nodus/x").
std::string join_cgroup_path(std::string_view current, std::string_view parent,
                             std::string_view name);

}  // namespace nodus::isolation
