// The cgroup v1 driver: one directory per mounted hierarchy (co-mounted controllers share it).
#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <string>

#include "cgroup_driver.h"
#include "cgroup_files.h"

namespace nodus::isolation {
namespace {

namespace fs = std::filesystem;

struct Hierarchy {
  std::vector<std::string> controllers;
  fs::path original;  // where the process was
  fs::path dir;       // the instance cgroup
  std::vector<fs::path> created;
  bool usable = true;

  bool has(std::string_view c) const {
    return std::find(controllers.begin(), controllers.end(), c) != controllers.end();
  }
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

class V1Driver final : public CgroupDriver {
 public:
  V1Driver(const CgroupLayout& layout, std::string_view parent, std::string_view name) {
    for (const auto& [controller, h] : layout.v1) {
      // Computed outside the lambda: clang before 16 cannot capture a structured binding.
      const auto original = h.dir_of(h.current);
      auto it = std::find_if(hierarchies_.begin(), hierarchies_.end(),
                             [&](const Hierarchy& x) { return x.original == original; });
      if (it != hierarchies_.end()) {
        it->controllers.push_back(controller);
        continue;
      }
      Hierarchy x;
      x.controllers = {controller};
      x.original = original;
      x.dir = h.dir_of(join_cgroup_path(h.current, parent, name));
      hierarchies_.push_back(std::move(x));
    }
  }

  std::string_view version() const override { return "v1"; }

  bool create(std::vector<std::string>& warnings) override {
    bool any = false;
    for (Hierarchy& h : hierarchies_) {
      Status st = make_dirs(h.dir, &h.created);
      if (st.ok() && h.has("cpuset")) st = inherit_cpuset(h);
      if (!st.ok()) {
        warnings.push_back("cgroup v1 " + join(h.controllers) + ": " + st.message());
        h.usable = false;
      }
      any = any || h.usable;
    }
    return any;
  }

  void apply(const CgroupLimits& l, std::vector<std::string>& warnings) override {
    auto write = [&](std::string_view key, bool configured, std::string_view controller,
                     std::string_view file, const std::string& value) {
      const Hierarchy* h = find(controller);
      if (h == nullptr) {
        if (configured)
          warnings.push_back(std::string(key) + ": no usable v1 " + std::string(controller) +
                             " controller; not applied");
        return;
      }
      Status st = write_file(h->dir / file, value);
      if (!st.ok() && configured) warnings.push_back(std::string(key) + ": " + st.message());
    };
    const int64_t quota =
        l.cpu_quota_cpus ? std::max<int64_t>(1000, std::llround(*l.cpu_quota_cpus * kCpuPeriodUs))
                         : -1;
    write("cpu_quota", l.cpu_quota_cpus.has_value(), "cpu", "cpu.cfs_period_us",
          std::to_string(kCpuPeriodUs));
    write("cpu_quota", l.cpu_quota_cpus.has_value(), "cpu", "cpu.cfs_quota_us",
          std::to_string(quota));
    // v2 weight 100 is v1 shares 1024.
    const int64_t shares = std::clamp<int64_t>(l.cpu_weight.value_or(100) * 1024 / 100, 2, 262144);
    write("cpu_weight", l.cpu_weight.has_value(), "cpu", "cpu.shares", std::to_string(shares));
    apply_memory(l, warnings);
    write("pids_max", l.pids_max.has_value(), "pids", "pids.max",
          l.pids_max ? std::to_string(*l.pids_max) : "max");
    if (l.io_weight) {
      // v2 io.weight 100 is v1 blkio.weight 500 (range 10..1000); BFQ names it blkio.bfq.weight.
      const std::string w = std::to_string(std::clamp<int64_t>(*l.io_weight * 5, 10, 1000));
      const Hierarchy* h = find("blkio");
      if (h == nullptr) {
        warnings.push_back("io_weight: no usable v1 blkio controller; not applied");
      } else if (!write_file(h->dir / "blkio.weight", w).ok() &&
                 !write_file(h->dir / "blkio.bfq.weight", w).ok()) {
        warnings.push_back("io_weight: " + h->dir.string() +
                           " has no writable blkio.weight or blkio.bfq.weight (no weight-based "
                           "I/O scheduler); not applied");
      }
    }
    if (!l.cpus.empty()) write("cpus", true, "cpuset", "cpuset.cpus", l.cpus);
  }

  void attach(pid_t pid, std::vector<std::string>& warnings) override {
    for (Hierarchy& h : hierarchies_) {
      if (!h.usable) continue;
      Status st = write_file(h.dir / "cgroup.procs", std::to_string(pid));
      if (!st.ok()) {
        warnings.push_back("cgroup v1 " + join(h.controllers) + ": " + st.message());
        h.usable = false;
      }
    }
  }

  CgroupUsage usage() const override {
    CgroupUsage u;
    if (const Hierarchy* h = find("cpuacct")) {
      if (auto ns = read_uint(h->dir / "cpuacct.usage")) u.cpu_seconds = *ns / 1e9;
    }
    if (const Hierarchy* h = find("cpu")) {
      if (auto ns = read_keyed(h->dir / "cpu.stat", "throttled_time")) {
        u.cpu_throttled_seconds = *ns / 1e9;
      }
    }
    if (const Hierarchy* h = find("memory")) {
      u.memory_bytes = read_uint(h->dir / "memory.usage_in_bytes");
      u.memory_peak_bytes = read_uint(h->dir / "memory.max_usage_in_bytes");
      u.oom_kills = read_keyed(h->dir / "memory.oom_control", "oom_kill");
    }
    return u;
  }

  Status release(pid_t pid) override {
    Status first;
    for (Hierarchy& h : hierarchies_) {
      if (!h.usable) continue;
      Status st = write_file(h.original / "cgroup.procs", std::to_string(pid));
      if (st.ok() && ::rmdir(h.dir.c_str()) != 0) {
        st = errno_status(errno, "cannot remove cgroup " + h.dir.string());
      }
      if (!st.ok() && first.ok()) first = st;
      // Ancestors made by create(): removed when no other instance uses them.
      for (auto it = h.created.rbegin(); it != h.created.rend(); ++it) {
        if (*it != h.dir) (void)::rmdir(it->c_str());
      }
      h.usable = false;
    }
    return first;
  }

  std::map<std::string, fs::path> directories() const override {
    std::map<std::string, fs::path> out;
    for (const Hierarchy& h : hierarchies_) {
      if (!h.usable) continue;
      for (const std::string& c : h.controllers)
        out[c] = h.dir;
    }
    return out;
  }

  fs::path oom_events_file() const override {
    const Hierarchy* h = find("memory");
    return h == nullptr ? fs::path() : h->dir / "memory.oom_control";
  }

  std::string effective_cpus() const override {
    const Hierarchy* h = find("cpuset");
    if (h == nullptr) return "";
    Result<std::string> cpus = read_line(h->dir / "cpuset.effective_cpus");
    if (!cpus.ok()) cpus = read_line(h->dir / "cpuset.cpus");
    return cpus.ok() ? *cpus : "";
  }

 private:
  const Hierarchy* find(std::string_view controller) const {
    for (const Hierarchy& h : hierarchies_) {
      if (h.usable && h.has(controller)) return &h;
    }
    return nullptr;
  }

  // A new v1 cpuset has no CPUs and no memory nodes, and takes no tasks until it gets both:
  // copy them down from the nearest ancestor that has them.
  static Status inherit_cpuset(const Hierarchy& h) {
    auto has_digits = [](const Result<std::string>& r) {
      return r.ok() && r->find_first_of("0123456789") != std::string::npos;
    };
    std::vector<fs::path> levels;
    for (fs::path p = h.dir; p.has_relative_path(); p = p.parent_path()) {
      const Result<std::string> cpus = read_file(p / "cpuset.cpus");
      if (!cpus.ok()) return cpus.status();
      if (has_digits(cpus) && has_digits(read_file(p / "cpuset.mems"))) break;
      levels.insert(levels.begin(), p);
    }
    for (const fs::path& dir : levels) {
      for (const char* file : {"cpuset.mems", "cpuset.cpus"}) {
        NODUS_ASSIGN_OR_RETURN(std::string parent, read_file(dir.parent_path() / file));
        while (!parent.empty() && parent.back() == '\n')
          parent.pop_back();
        if (!has_digits(read_file(dir / file)))
          NODUS_RETURN_IF_ERROR(write_file(dir / file, parent));
      }
    }
    return {};
  }

  void apply_memory(const CgroupLimits& l, std::vector<std::string>& warnings) {
    const Hierarchy* h = find("memory");
    if (h == nullptr) {
      if (l.memory_max_bytes || l.memory_high_bytes) {
        warnings.push_back("memory_max: no usable v1 memory controller; not applied");
      }
      return;
    }
    // memory.memsw.limit_in_bytes (memory + swap) must stay >= memory.limit_in_bytes, so the
    // order of the two writes depends on the direction; setting both equal forbids swapping
    // past the limit, as memory.swap.max = 0 does on v2.
    const std::string max = l.memory_max_bytes ? std::to_string(*l.memory_max_bytes) : "-1";
    Status st = write_file(h->dir / "memory.limit_in_bytes", max);
    (void)write_file(h->dir / "memory.memsw.limit_in_bytes", max);
    if (!st.ok()) st = write_file(h->dir / "memory.limit_in_bytes", max);
    if (!st.ok() && l.memory_max_bytes) warnings.push_back("memory_max: " + st.message());
    st = write_file(h->dir / "memory.soft_limit_in_bytes",
                    l.memory_high_bytes ? std::to_string(*l.memory_high_bytes) : "-1");
    if (!st.ok() && l.memory_high_bytes) warnings.push_back("memory_high: " + st.message());
  }

  std::vector<Hierarchy> hierarchies_;
};

}  // namespace

std::unique_ptr<CgroupDriver> make_v1_driver(const CgroupLayout& layout, std::string_view parent,
                                             std::string_view name) {
  return std::make_unique<V1Driver>(layout, parent, name);
}

std::unique_ptr<CgroupDriver> make_cgroup_driver(const CgroupLayout& layout,
                                                 std::string_view parent, std::string_view name) {
  switch (layout.mode) {
    case CgroupMode::kV1:
    case CgroupMode::kHybrid:
      return make_v1_driver(layout, parent, name);
    case CgroupMode::kV2:
      return make_v2_driver(*layout.unified, parent, name);
    case CgroupMode::kNone:
      break;
  }
  return nullptr;
}

}  // namespace nodus::isolation
