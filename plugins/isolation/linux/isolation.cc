#include "isolation.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "affinity.h"
#include "cgroup_files.h"
#include "nodus/isolation_state.h"

namespace nodus::isolation {
namespace fs = std::filesystem;

// Samples the cgroup (or, without one, the process) on the executor and feeds the metrics.
class Isolation::Monitor : public std::enable_shared_from_this<Isolation::Monitor> {
 public:
  Monitor(nodus::PluginContext& ctx, CgroupDriver* driver, int64_t interval_ms)
      : ctx_(ctx),
        driver_(driver),
        interval_(std::chrono::milliseconds(interval_ms)),
        cpu_(ctx.metrics().counter("nodus_isolation_cpu_seconds_total",
                                   "CPU time used by the instance's cgroup (or process)")),
        throttled_(ctx.metrics().counter("nodus_isolation_cpu_throttled_seconds_total",
                                         "Time the instance's cgroup was throttled by its quota")),
        memory_(ctx.metrics().gauge("nodus_isolation_memory_bytes",
                                    "Memory charged to the instance's cgroup (or its RSS)")),
        peak_(ctx.metrics().gauge("nodus_isolation_memory_peak_bytes",
                                  "Highest memory charged to the instance's cgroup")),
        limit_(ctx.metrics().gauge("nodus_isolation_memory_limit_bytes",
                                   "The instance's memory_max; 0 when unlimited")),
        oom_(ctx.metrics().counter("nodus_isolation_oom_kills_total",
                                   "OOM kills in the instance's cgroup since it was created")),
        cpus_(ctx.metrics().gauge("nodus_isolation_cpus_granted",
                                  "CPUs the instance may run on, as the kernel reports")) {}

  void set_limit(double bytes) { limit_.set(bytes); }

  void sample() {
    const CgroupUsage u = driver_ != nullptr ? driver_->usage() : CgroupUsage{};
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    const double process_cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    advance(cpu_, last_cpu_, u.cpu_seconds.value_or(process_cpu));
    advance(throttled_, last_throttled_s_, u.cpu_throttled_seconds.value_or(0));
    advance(oom_, last_oom_, static_cast<double>(u.oom_kills.value_or(0)));
    double rss = 0;
    if (u.memory_bytes) {
      rss = static_cast<double>(*u.memory_bytes);
    } else if (FILE* f = std::fopen("/proc/self/statm", "re")) {
      long pages_total = 0;
      long pages_resident = 0;
      if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) == 2) {
        rss = static_cast<double>(pages_resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
      }
      std::fclose(f);
    }
    memory_.set(rss);
    peak_bytes_max_ = std::max(peak_bytes_max_, rss);
    if (u.memory_peak_bytes)
      peak_bytes_max_ = std::max(peak_bytes_max_, static_cast<double>(*u.memory_peak_bytes));
    peak_.set(peak_bytes_max_);
    if (auto granted = current_affinity(); granted.ok()) {
      cpus_.set(static_cast<double>(granted->size()));
    }
  }

  void schedule() {
    if (stopped_.load()) return;
    timer_.store(ctx_.executor().schedule_after(interval_, [weak = weak_from_this()] {
      if (auto self = weak.lock(); self && !self->stopped_.load()) {
        self->sample();
        self->schedule();
      }
    }));
  }

  void stop() {
    stopped_.store(true);
    ctx_.executor().cancel(timer_.load());
  }

 private:
  // Cumulative kernel figures become counter increments.
  static void advance(nodus::Counter& c, double& last, double now) {
    if (now > last) c.inc(now - last);
    last = std::max(last, now);
  }

  nodus::PluginContext& ctx_;
  CgroupDriver* driver_;
  const nodus::Duration interval_;
  nodus::Counter& cpu_;
  nodus::Counter& throttled_;
  nodus::Gauge& memory_;
  nodus::Gauge& peak_;
  nodus::Gauge& limit_;
  nodus::Counter& oom_;
  nodus::Gauge& cpus_;
  double last_cpu_ = 0;
  double last_throttled_s_ = 0;
  double last_oom_ = 0;
  double peak_bytes_max_ = 0;
  std::atomic<nodus::TimerId> timer_{nodus::kNoTimer};
  std::atomic<bool> stopped_{false};
};

Isolation::Isolation(nodus::PluginContext& ctx) : ctx_(ctx) {}

Isolation::~Isolation() {
  if (monitor_) monitor_->stop();
}

nodus::Status Isolation::configure(const nodus::ConfigNode& config) {
  const uint32_t instances = ctx_.instance().instances;
  if (const nodus::ConfigNode* cpus = config.find("cpus"); cpus != nullptr && !cpus->is_null()) {
    if (!cpus->is_sequence()) return cpus->error("must be a list of CPU lists, one per instance");
    for (const nodus::ConfigNode& item : cpus->items()) {
      NODUS_ASSIGN_OR_RETURN(std::string text, item.as_string());
      Result<CpuList> parsed = parse_cpu_list(text);
      if (!parsed.ok()) return item.error(parsed.status().message());
      config_.cpus.push_back(format_cpu_list(*parsed));
    }
    if (config_.cpus.size() < instances) {
      return cpus->error("has " + std::to_string(config_.cpus.size()) +
                         " entries but the profile runs " + std::to_string(instances) +
                         " instances");
    }
  }
  NODUS_ASSIGN_OR_RETURN(config_.cpus_per_instance, config.get_int("cpus_per_instance", 0));
  if (config_.cpus_per_instance < 0 || config_.cpus_per_instance > kCpuMax + 1) {
    return config.at("cpus_per_instance").error("must be in 1..4096");
  }
  if (config_.cpus_per_instance > 0 && !config_.cpus.empty()) {
    return config.at("cpus_per_instance").error("set either cpus or cpus_per_instance, not both");
  }
  if (config.has("cpu_quota")) {
    NODUS_ASSIGN_OR_RETURN(double q, config.get_double("cpu_quota", 0));
    if (!(q >= 0.01 && q <= kCpuMax + 1))
      return config.at("cpu_quota").error("must be a number of CPUs >= 0.01");
    config_.limits.cpu_quota_cpus = q;
  }
  auto int_in = [&](std::string_view key, int64_t lo, int64_t hi,
                    std::optional<int64_t>& out) -> nodus::Status {
    if (!config.has(key)) return {};
    NODUS_ASSIGN_OR_RETURN(int64_t v, config.get_int(key, 0));
    if (v < lo || v > hi) {
      return config.at(key).error("must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    out = v;
    return {};
  };
  NODUS_RETURN_IF_ERROR(int_in("cpu_weight", 1, 10000, config_.limits.cpu_weight));
  NODUS_RETURN_IF_ERROR(int_in("io_weight", 1, 10000, config_.limits.io_weight));
  NODUS_RETURN_IF_ERROR(int_in("pids_max", 1, 1 << 22, config_.limits.pids_max));
  for (auto [key, out] : {std::pair{"memory_max", &config_.limits.memory_max_bytes},
                          std::pair{"memory_high", &config_.limits.memory_high_bytes}}) {
    if (!config.has(key)) continue;
    NODUS_ASSIGN_OR_RETURN(uint64_t v, config.get_bytes(key, 0));
    if (v < (1u << 20)) return config.at(key).error("must be at least 1MiB");
    *out = v;
  }
  if (config_.limits.memory_max_bytes && config_.limits.memory_high_bytes &&
      *config_.limits.memory_high_bytes > *config_.limits.memory_max_bytes) {
    return config.at("memory_high").error("must not exceed memory_max");
  }
  NODUS_ASSIGN_OR_RETURN(config_.parent, config.get_string("parent", "nodus"));
  if (config_.parent.empty() || config_.parent.find("..") != std::string::npos) {
    return config.at("parent").error("must be a cgroup path without '..'");
  }
  NODUS_ASSIGN_OR_RETURN(config_.strict, config.get_bool("strict", false));
  NODUS_ASSIGN_OR_RETURN(config_.stats_interval_ms, config.get_int("stats_interval_ms", 1000));
  if (config_.stats_interval_ms < 10) return config.at("stats_interval_ms").error("must be >= 10");
  NODUS_ASSIGN_OR_RETURN(config_.fs_root, config.get_string("fs_root", "/"));
  if (config_.strict) return check_strict_cpus(config);
  return {};
}

nodus::Status Isolation::check_strict_cpus(const nodus::ConfigNode& config) const {
  // Under strict: true a CPU layout this host cannot honour is a configuration error, found
  // before anything starts, so that a supervisor reports it instead of restarting into it.
  const CpuList online = online_cpus();
  const uint32_t index = ctx_.instance().index;
  if (!config_.cpus.empty()) {
    const CpuList want = parse_cpu_list(config_.cpus[index]).value_or(CpuList{});
    if (intersect(want, online) != want) {
      return config.at("cpus").error("instance " + std::to_string(index) + " asks for CPUs " +
                                     format_cpu_list(want) + " but only " +
                                     format_cpu_list(online) + " are online (strict: true)");
    }
  } else if (config_.cpus_per_instance > 0) {
    const CpuLayout layout =
        auto_cpu_layout(index, static_cast<uint32_t>(config_.cpus_per_instance), online);
    if (layout.wrapped) {
      return config.at("cpus_per_instance")
          .error("instance " + std::to_string(index) + " of " +
                 std::to_string(ctx_.instance().instances) + " needs " +
                 std::to_string(config_.cpus_per_instance) + " CPUs of its own but only " +
                 std::to_string(online.size()) + " are online (" + format_cpu_list(online) +
                 "); strict: true forbids sharing");
    }
  }
  return {};
}

void Isolation::problem(const std::string& message) {
  if (config_.strict) {
    errors_.push_back(message);
  } else {
    ctx_.logger().warn("isolation not fully applied: " + message +
                       " (set strict: true to make this an error)");
  }
}

std::vector<int> Isolation::choose_cpus() {
  const CpuList online = online_cpus();
  const uint32_t index = ctx_.instance().index;
  CpuList want;
  if (!config_.cpus.empty()) {
    want = parse_cpu_list(config_.cpus[index]).value_or(CpuList{});
  } else if (config_.cpus_per_instance > 0) {
    const CpuLayout layout =
        auto_cpu_layout(index, static_cast<uint32_t>(config_.cpus_per_instance), online);
    if (layout.wrapped) {
      problem("cpus_per_instance: instance " + std::to_string(index) + " needs " +
              std::to_string(config_.cpus_per_instance) + " CPUs past the " +
              std::to_string(online.size()) + " online (" + format_cpu_list(online) +
              "); wrapped around to " + format_cpu_list(layout.cpus) +
              ", shared with another instance");
    }
    want = layout.cpus;
  }
  if (want.empty()) return want;
  CpuList usable = intersect(want, online);
  if (usable != want) {
    problem("cpus: " + format_cpu_list(want) + " requested but only " + format_cpu_list(online) +
            " are online" +
            (usable.empty() ? "; not pinned" : "; using " + format_cpu_list(usable)));
  }
  return usable;
}

void Isolation::setup_cgroup(const std::vector<int>& cpus) {
  const fs::path root = config_.fs_root;
  const fs::path prefix = root == "/" ? fs::path() : root;
  Result<std::string> mountinfo = read_file(root / "proc/self/mountinfo");
  Result<std::string> self_cgroup = read_file(root / "proc/self/cgroup");
  const CgroupLayout layout = detect_cgroups(mountinfo.ok() ? *mountinfo : "",
                                             self_cgroup.ok() ? *self_cgroup : "", prefix);
  mode_ = std::string(cgroup_mode_name(layout.mode));
  driver_ = make_cgroup_driver(layout, config_.parent, ctx_.instance().node_name);
  if (driver_ == nullptr) {
    problem("no cgroup filesystem in " + (root / "proc/self/mountinfo").string() +
            "; running without cgroup limits");
    return;
  }
  std::vector<std::string> warnings;
  if (!driver_->create(warnings)) {
    driver_.reset();
  } else {
    CgroupLimits limits = config_.limits;
    limits.cpus = format_cpu_list(cpus);
    driver_->apply(limits, warnings);
    driver_->attach(::getpid(), warnings);
    if (driver_->directories().empty()) driver_.reset();
  }
  for (const std::string& w : warnings)
    problem(w);
}

nodus::Status Isolation::start() {
  errors_.clear();
  original_affinity_ = current_affinity().value_or(CpuList{});
  const CpuList cpus = choose_cpus();
  setup_cgroup(cpus);
  // After the cgroup: joining a v1 cpuset resets the affinity of every task to its CPUs.
  if (!cpus.empty()) {
    Status st = set_process_affinity(cpus);
    if (st.ok()) {
      pinned_ = true;
    } else {
      problem("cpus: " + st.message());
    }
  }
  if (!errors_.empty()) {
    undo();
    return failed_precondition(std::string(kName) + ": " + errors_.front() + " (strict: true)");
  }
  const std::string granted = format_cpu_list(current_affinity().value_or(CpuList{}));
  std::string cgroup_dirs;
  if (driver_) {
    for (const auto& [controller, dir] : driver_->directories())
      cgroup_dirs += (cgroup_dirs.empty() ? "" : " ") + controller + "=" + dir.string();
  }
  ctx_.logger().info("isolation applied",
                     {{"cgroups", mode_},
                      {"driver", driver_ ? std::string(driver_->version()) : "none"},
                      {"cpus_granted", granted},
                      {"cpuset_effective", driver_ ? driver_->effective_cpus() : ""},
                      {"cgroup", cgroup_dirs}});
  monitor_ = std::make_shared<Monitor>(ctx_, driver_.get(), config_.stats_interval_ms);
  monitor_->set_limit(static_cast<double>(config_.limits.memory_max_bytes.value_or(0)));
  if (driver_) {
    for (const auto& [controller, dir] : driver_->directories()) {
      ctx_.metrics()
          .gauge("nodus_isolation_cgroup_info", "The instance's cgroup directories (value 1)",
                 {{"controller", controller},
                  {"path", dir.string()},
                  {"version", std::string(driver_->version())}})
          .set(1);
    }
  }
  monitor_->sample();
  monitor_->schedule();
  write_state_file(granted);
  return {};
}

void Isolation::write_state_file(const std::string& cpus_granted) {
  const fs::path dir = ctx_.instance().data_dir;
  if (dir.empty()) return;
  state_file_ = dir / nodus::kIsolationStateFile;
  nodus::IsolationState state;
  state.pid = ::getpid();
  state.node = ctx_.instance().node_name;
  state.mode = mode_;
  state.driver = driver_ ? std::string(driver_->version()) : "none";
  state.cpus_granted = cpus_granted;
  if (driver_) {
    for (const auto& [controller, path] : driver_->directories())
      state.cgroups[controller] = path.string();
    state.oom_events_file = driver_->oom_events_file().string();
    state.oom_kills_at_start = driver_->usage().oom_kills.value_or(0);
  }
  const std::string json = nodus::serialize_isolation_state(state);
  const fs::path tmp = state_file_.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json;
    if (!out.flush()) {
      ctx_.logger().warn("cannot write " + tmp.string());
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, state_file_, ec);
  if (ec) ctx_.logger().warn("cannot write " + state_file_.string() + ": " + ec.message());
}

void Isolation::undo() {
  if (driver_) {
    Status st = driver_->release(::getpid());
    if (!st.ok()) ctx_.logger().warn("cgroup not removed: " + st.message());
    driver_.reset();
  }
  if (pinned_ && !original_affinity_.empty()) {
    Status st = set_process_affinity(original_affinity_);
    if (!st.ok()) ctx_.logger().warn("affinity not restored: " + st.message());
  }
  pinned_ = false;
}

nodus::Status Isolation::stop() {
  if (monitor_) monitor_->stop();
  monitor_.reset();
  undo();
  if (!state_file_.empty()) {
    std::error_code ec;
    fs::remove(state_file_, ec);
  }
  return {};
}

nodus::CapabilityRef Isolation::provide(std::string_view capability) {
  if (capability == kCapability) return nodus::offer<Isolation>(this);
  return {};
}

nodus::PluginDescriptor describe_isolation() {
  using nodus::ConfigType;
  nodus::PluginDescriptor d;
  d.name = std::string(Isolation::kName);
  d.version = "0.1.0";
  d.category = "isolation";
  d.status = nodus::PluginStatus::kStable;
  d.description = "Pins the instance to CPUs and limits it with a cgroup of its own (v1 or v2)";
  d.provides = {std::string(Isolation::kCapability)};
  d.config = {
      {"cpus", ConfigType::kList, false, "",
       "CPU list per instance index, e.g. [\"0-7\", \"8-15\"]"},
      {"cpus_per_instance", ConfigType::kInteger, false, "0",
       "Automatic layout: instance i gets CPUs i*n..i*n+n-1 of the online CPUs (wrapping)"},
      {"cpu_quota", ConfigType::kNumber, false, "",
       "CPU time per period, in CPUs (0.5 = half a CPU)"},
      {"cpu_weight", ConfigType::kInteger, false, "100", "Relative CPU weight, 1..10000"},
      {"memory_max", ConfigType::kBytes, false, "",
       "Hard memory limit; past it the kernel OOM-kills"},
      {"memory_high", ConfigType::kBytes, false, "",
       "Soft memory limit: reclaim starts here (v1: memory.soft_limit_in_bytes)"},
      {"pids_max", ConfigType::kInteger, false, "", "Most tasks (processes and threads)"},
      {"io_weight", ConfigType::kInteger, false, "100", "Relative I/O weight, 1..10000"},
      {"parent", ConfigType::kString, false, "nodus",
       "Parent cgroup; relative to the process's current cgroup unless it starts with /"},
      {"strict", ConfigType::kBoolean, false, "false", "Unmet isolation fails the start"},
      {"stats_interval_ms", ConfigType::kInteger, false, "1000", "Metrics sampling period"},
      {"fs_root", ConfigType::kString, false, "/",
       "Root for /proc/self/{mountinfo,cgroup} and the cgroup mounts (tests use a fixture tree)"},
  };
  d.factory = [](nodus::PluginContext& ctx) -> std::unique_ptr<nodus::Plugin> {
    return std::make_unique<Isolation>(ctx);
  };
  return d;
}

}  // namespace nodus::isolation

NODUS_PLUGIN(nodus::isolation::describe_isolation)
