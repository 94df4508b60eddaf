#include "cgroup_detect.h"

#include <algorithm>

namespace nodus::isolation {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        std::all_of(s.begin() + static_cast<long>(i) + 1, s.begin() + static_cast<long>(i) + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string normalise(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::string_view p : split(path, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (std::string_view p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

}  // namespace

std::string_view cgroup_mode_name(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::kNone:
      return "none";
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kV2:
      return "v2";
    case CgroupMode::kHybrid:
      return "hybrid";
  }
  return "none";
}

const std::vector<std::string>& managed_v1_controllers() {
  static const std::vector<std::string> kControllers = {"blkio",  "cpu",    "cpuacct",
                                                        "cpuset", "memory", "pids"};
  return kControllers;
}

std::filesystem::path CgroupHierarchy::dir_of(std::string_view cgroup_path) const {
  std::string rel = normalise(cgroup_path);
  const std::string root = normalise(mount_root);
  if (root != "/" && (rel == root || rel.starts_with(root + "/"))) rel = rel.substr(root.size());
  std::filesystem::path dir = mount_point;
  for (std::string_view p : split(rel, '/')) {
    if (!p.empty()) dir /= std::string(p);
  }
  return dir;
}

std::string join_cgroup_path(std::string_view current, std::string_view parent,
                             std::string_view name) {
  std::string path = parent.starts_with('/') ? std::string(parent)
                                             : std::string(current) + "/" + std::string(parent);
  if (!name.empty()) path += "/" + std::string(name);
  return normalise(path);
}

CgroupLayout detect_cgroups(std::string_view mountinfo, std::string_view proc_self_cgroup,
                            const std::filesystem::path& root_prefix) {
  CgroupLayout layout;
  // /proc/self/cgroup: "ID:controller,list:/path"; the v2 line is "0::/path".
  std::map<std::string, std::string> current_by_controller;
  std::optional<std::string> current_unified;
  for (std::string_view line : split(proc_self_cgroup, '\n')) {
    const size_t a = line.find(':');
    const size_t b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(a + 1, b - a - 1);
    const std::string path(line.substr(b + 1));
    if (line.substr(0, a) == "0" && controllers.empty()) {
      current_unified = path;
      continue;
    }
    for (std::string_view c : split(controllers, ','))
      current_by_controller[std::string(c)] = path;
  }

  for (std::string_view line : split(mountinfo, '\n')) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS"
    const size_t sep = line.find(" - ");
    if (sep == std::string_view::npos) continue;
    const std::vector<std::string_view> head = split(line.substr(0, sep), ' ');
    const std::vector<std::string_view> tail = split(line.substr(sep + 3), ' ');
    if (head.size() < 5 || tail.size() < 3) continue;
    CgroupHierarchy h;
    h.mount_root = unescape(head[3]);
    const std::string mount_point = unescape(head[4]);
    h.mount_point = root_prefix.empty() ? std::filesystem::path(mount_point)
                                        : root_prefix / mount_point.substr(1);
    if (tail[0] == "cgroup2") {
      if (layout.unified) continue;  // the first mount wins
      h.current = current_unified.value_or("/");
      layout.unified = std::move(h);
    } else if (tail[0] == "cgroup") {
      for (std::string_view opt : split(tail[2], ',')) {
        const std::string c(opt);
        const auto& managed = managed_v1_controllers();
        if (std::find(managed.begin(), managed.end(), c) != managed.end()) {
          h.controllers.push_back(c);
        }
      }
      for (const std::string& c : h.controllers) {
        if (layout.v1.count(c) != 0) continue;
        CgroupHierarchy copy = h;
        auto it = current_by_controller.find(c);
        copy.current = it == current_by_controller.end() ? "/" : it->second;
        layout.v1.emplace(c, std::move(copy));
      }
    }
  }
  if (!layout.v1.empty()) {
    layout.mode = layout.unified ? CgroupMode::kHybrid : CgroupMode::kV1;
  } else if (layout.unified) {
    layout.mode = CgroupMode::kV2;
  }
  return layout;
}

}  // namespace nodus::isolation
