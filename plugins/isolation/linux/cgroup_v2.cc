// The cgroup v2 driver: one directory in the unified hierarchy. Controllers must be enabled in
// cgroup.subtree_control of every level above the instance, which works where the hierarchy is
// delegated to us and the levels hold no processes (cgroup v2's "no internal processes" rule).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <string>

#include "cgroup_driver.h"
#include "cgroup_files.h"

namespace nodus::isolation {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string>& wanted_controllers() {
  static const std::vector<std::string> kWanted = {"cpu", "cpuset", "io", "memory", "pids"};
  return kWanted;
}

std::set<std::string> words(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;)
    out.insert(w);
  return out;
}

class V2Driver final : public CgroupDriver {
 public:
  V2Driver(const CgroupHierarchy& unified, std::string_view parent, std::string_view name)
      : mount_point_(unified.mount_point),
        original_(unified.dir_of(unified.current)),
        dir_(unified.dir_of(join_cgroup_path(unified.current, parent, name))) {}

  std::string_view version() const override { return "v2"; }

  bool create(std::vector<std::string>& warnings) override {
    Status st = make_dirs(dir_, &created_);
    if (!st.ok()) {
      warnings.push_back("cgroup v2: " + st.message());
      return false;
    }
    // Every level from the process's own cgroup (or the mount point, for an absolute parent
    // elsewhere) down to the instance's parent.
    std::vector<fs::path> levels;
    for (fs::path p = dir_.parent_path(); !p.empty(); p = p.parent_path()) {
      levels.insert(levels.begin(), p);
      if (p == original_ || p == mount_point_ || p == p.root_path()) break;
    }
    for (const fs::path& level : levels)
      enable_controllers(level, warnings);
    usable_ = true;
    return true;
  }

  void apply(const CgroupLimits& l, std::vector<std::string>& warnings) override {
    const std::set<std::string> available = controllers_of(dir_);
    auto write = [&](std::string_view key, bool configured, const std::string& controller,
                     std::string_view file, const std::string& value) {
      if (available.count(controller) == 0) {
        if (configured) {
          warnings.push_back(std::string(key) + ": controller '" + controller +
                             "' is not enabled for " + dir_.string() + "; not applied");
        }
        return;
      }
      Status st = write_file(dir_ / file, value);
      if (!st.ok() && configured) warnings.push_back(std::string(key) + ": " + st.message());
    };
    const std::string quota = l.cpu_quota_cpus
                                  ? std::to_string(std::max<int64_t>(
                                        1000, std::llround(*l.cpu_quota_cpus * kCpuPeriodUs)))
                                  : "max";
    write("cpu_quota", l.cpu_quota_cpus.has_value(), "cpu", "cpu.max",
          quota + " " + std::to_string(kCpuPeriodUs));
    write("cpu_weight", l.cpu_weight.has_value(), "cpu", "cpu.weight",
          std::to_string(l.cpu_weight.value_or(100)));
    const bool has_max = l.memory_max_bytes.has_value();
    write("memory_max", has_max, "memory", "memory.max",
          has_max ? std::to_string(*l.memory_max_bytes) : "max");
    // Without this a limited instance would swap instead of being OOM-killed (as v1 memsw).
    write("memory_max", false, "memory", "memory.swap.max", has_max ? "0" : "max");
    write("memory_high", l.memory_high_bytes.has_value(), "memory", "memory.high",
          l.memory_high_bytes ? std::to_string(*l.memory_high_bytes) : "max");
    write("pids_max", l.pids_max.has_value(), "pids", "pids.max",
          l.pids_max ? std::to_string(*l.pids_max) : "max");
    write("io_weight", l.io_weight.has_value(), "io", "io.weight",
          "default " + std::to_string(l.io_weight.value_or(100)));
    if (!l.cpus.empty()) write("cpus", true, "cpuset", "cpuset.cpus", l.cpus);
  }

  void attach(pid_t pid, std::vector<std::string>& warnings) override {
    if (!usable_) return;
    Status st = write_file(dir_ / "cgroup.procs", std::to_string(pid));
    if (!st.ok()) {
      warnings.push_back("cgroup v2: " + st.message());
      usable_ = false;
    }
  }

  CgroupUsage usage() const override {
    CgroupUsage u;
    if (!usable_) return u;
    if (auto us = read_keyed(dir_ / "cpu.stat", "usage_usec")) u.cpu_seconds = *us / 1e6;
    if (auto us = read_keyed(dir_ / "cpu.stat", "throttled_usec")) {
      u.cpu_throttled_seconds = *us / 1e6;
    }
    u.memory_bytes = read_uint(dir_ / "memory.current");
    u.memory_peak_bytes = read_uint(dir_ / "memory.peak");  // Linux >= 5.19
    u.oom_kills = read_keyed(dir_ / "memory.events", "oom_kill");
    return u;
  }

  Status release(pid_t pid) override {
    if (!usable_) return {};
    usable_ = false;
    Status st = write_file(original_ / "cgroup.procs", std::to_string(pid));
    if (st.ok() && ::rmdir(dir_.c_str()) != 0) {
      st = errno_status(errno, "cannot remove cgroup " + dir_.string());
    }
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
      if (*it != dir_) (void)::rmdir(it->c_str());
    }
    return st;
  }

  std::map<std::string, fs::path> directories() const override {
    if (!usable_) return {};
    return {{"unified", dir_}};
  }

  fs::path oom_events_file() const override {
    return usable_ ? dir_ / "memory.events" : fs::path();
  }

  std::string effective_cpus() const override {
    if (!usable_) return "";
    Result<std::string> cpus = read_line(dir_ / "cpuset.cpus.effective");
    return cpus.ok() ? *cpus : "";
  }

 private:
  static std::set<std::string> controllers_of(const fs::path& dir) {
    Result<std::string> text = read_file(dir / "cgroup.controllers");
    return text.ok() ? words(*text) : std::set<std::string>();
  }

  // Enables the wanted controllers that `level` offers in its cgroup.subtree_control: all in
  // one write, else one by one so that one refusal does not cost the others.
  static void enable_controllers(const fs::path& level, std::vector<std::string>& warnings) {
    const std::set<std::string> offered = controllers_of(level);
    Result<std::string> enabled_text = read_file(level / "cgroup.subtree_control");
    const std::set<std::string> enabled =
        enabled_text.ok() ? words(*enabled_text) : std::set<std::string>();
    std::vector<std::string> missing;
    for (const std::string& c : wanted_controllers()) {
      if (offered.count(c) != 0 && enabled.count(c) == 0) missing.push_back(c);
    }
    if (missing.empty()) return;
    std::string all;
    for (const std::string& c : missing)
      all += (all.empty() ? "+" : " +") + c;
    if (write_file(level / "cgroup.subtree_control", all).ok()) return;
    for (const std::string& c : missing) {
      Status st = write_file(level / "cgroup.subtree_control", "+" + c);
      if (!st.ok()) {
        warnings.push_back("cgroup v2: cannot enable controller '" + c + "' below " +
                           level.string() + " (" + st.message() +
                           "; the cgroup may hold processes or not be delegated)");
      }
    }
  }

  fs::path mount_point_;
  fs::path original_;
  fs::path dir_;
  std::vector<fs::path> created_;
  bool usable_ = false;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_v2_driver(const CgroupHierarchy& unified,
                                             std::string_view parent, std::string_view name) {
  return std::make_unique<V2Driver>(unified, parent, name);
}

}  // namespace nodus::isolation
