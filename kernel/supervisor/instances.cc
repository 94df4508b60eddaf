// The Supervisor's instance lifecycle: spawn, health, death, restart policy, scaling.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>

#include "kernel/process/process.h"
#include "kernel/supervisor/bus.h"
#include "kernel/supervisor/exit_cause.h"
#include "kernel/supervisor/preflight.h"
#include "kernel/supervisor/supervisor.h"
#include "nodus/check.h"

extern char** environ;

namespace nodus::kernel {
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

// An instance has this long to send its first heartbeat (its plugins get 30 s to start).
constexpr milliseconds kFirstHeartbeatDeadline{35000};
// Output bytes kept while waiting for the end of a line; a longer line is cut.
constexpr size_t kLineBytesMax = 64 * 1024;

int64_t ms_between(std::chrono::steady_clock::time_point a,
                   std::chrono::steady_clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

}  // namespace

std::string_view instance_state_name(InstanceState state) {
  switch (state) {
    case InstanceState::kStarting:
      return "starting";
    case InstanceState::kReady:
      return "ready";
    case InstanceState::kUnhealthy:
      return "unhealthy";
    case InstanceState::kBackoff:
      return "backoff";
    case InstanceState::kFailed:
      return "failed";
    case InstanceState::kStopping:
      return "stopping";
    case InstanceState::kStopped:
      return "stopped";
  }
  return "stopped";
}

Instance& Supervisor::add_instance(uint32_t index) {
  auto inst = std::make_unique<Instance>(index, policy_);
  inst->node_name = profile_.name + "-" + std::to_string(index);
  inst->ports = profile_.ports_for(index);
  Instance& ref = *inst;
  instances_[index] = std::move(inst);
  return ref;
}

std::vector<std::string> Supervisor::instance_argv(const Instance& inst) const {
  std::vector<std::string> argv = {options_.nodus_binary, "node",
                                   "--profile",           fs::absolute(profile_.source).string(),
                                   "--instance",          std::to_string(inst.index),
                                   "--stop-timeout-ms",   std::to_string(policy_.stop_timeout_ms)};
  // Flag overrides travel as --set; NODUS_* variables reach the instance with the environment.
  for (const auto& o : options_.overrides) {
    if (o.source.rfind("--", 0) != 0 || o.path == "instances") continue;
    argv.push_back("--set");
    argv.push_back(o.path + "=" + o.value);
  }
  for (const auto& dir : options_.plugin_dirs) {
    argv.push_back("--plugin-dir");
    argv.push_back(fs::absolute(dir).string());
  }
  argv.push_back("--instances");
  argv.push_back(std::to_string(std::max(target_instances_, inst.index + 1)));
  if (inst.joining) argv.push_back("--join");
  return argv;
}

std::vector<std::string> Supervisor::instance_env(const Instance& inst) const {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view kv = *e;
    if (kv.rfind("NODUS_SUPERVISOR_", 0) == 0 || kv.rfind("NODUS_INSTANCE_", 0) == 0) continue;
    env.emplace_back(kv);
  }
  env.push_back("NODUS_SUPERVISOR_BUS=" + bus_->endpoint);
  env.push_back("NODUS_SUPERVISOR_HEARTBEAT_MS=" + std::to_string(policy_.heartbeat_ms));
  env.push_back("NODUS_SUPERVISOR_PID=" + std::to_string(::getpid()));
  // The isolation hook: an isolation plugin (started first, by dependency order) reads which
  // slot of how many this process is and pins/limits itself before other plugins start.
  env.push_back("NODUS_INSTANCE_INDEX=" + std::to_string(inst.index));
  env.push_back("NODUS_INSTANCE_COUNT=" + std::to_string(target_instances_));
  return env;
}

Status Supervisor::spawn(Instance& inst) {
  if (!inst.log) {
    auto log = RotatingLog::open(log_dir_ / (inst.node_name + ".log"));
    if (!log.ok()) return log.status();
    inst.log = std::move(*log);
  }
  auto proc = spawn_process(instance_argv(inst), instance_env(inst));
  if (!proc.ok()) {
    mark_failed(inst, proc.status().message(), kExitFailure);
    return proc.status();
  }
  inst.pid = proc->pid;
  inst.output = std::move(proc->output);
  inst.partial_line.clear();
  inst.started_at = Clock::now();
  inst.heartbeat_seen = false;
  inst.executor_lag_ms = 0;
  inst.ready = false;
  inst.ever_ready = false;
  inst.role.clear();
  inst.after_exit = AfterExit::kDeath;
  inst.stop_signalled = false;
  set_state(inst, InstanceState::kStarting);
  log_->info("started " + inst.node_name, {{"pid", std::to_string(inst.pid)}});
  return {};
}

void Supervisor::request_stop(Instance& inst, AfterExit after) {
  inst.after_exit = after;
  if (!inst.alive()) return;
  if (!inst.stop_signalled) {
    // SIGCONT too, so that a stopped (SIGSTOP) process can act on the SIGTERM.
    signal_group(inst.pid, SIGTERM);
    signal_group(inst.pid, SIGCONT);
    inst.stop_signalled = true;
    inst.kill_at = Clock::now() + milliseconds(policy_.stop_timeout_ms);
  }
  if (inst.state != InstanceState::kUnhealthy) set_state(inst, InstanceState::kStopping);
}

void Supervisor::reap_children() {
  while (true) {
    Instance* owner = nullptr;
    const ReapedChild child = reap_one_child([&](pid_t pid) {
      for (auto& [index, inst] : instances_) {
        if (inst->pid != pid) continue;
        NODUS_CHECK(owner == nullptr)
            << "instance table: one instance per pid; pid " << pid << " is held by "
            << owner->node_name << " and " << inst->node_name;
        owner = inst.get();
      }
      // Whatever the instance left in its group (helpers it started) goes with it. Now, while
      // the unreaped leader still pins its pid and group id; never after the reap.
      if (owner != nullptr) signal_group(pid, SIGKILL);
    });
    if (child.pid == 0) return;  // no child has exited (or none is left)
    if (owner == nullptr) {
      log_->debug("reaped orphan", {{"pid", std::to_string(child.pid)},
                                    {"status", describe_wait_status(child.wait_status)}});
      continue;
    }
    on_exit(*owner, child.wait_status);
  }
}

void Supervisor::on_exit(Instance& inst, int wait_status) {
  drain_output(inst, true);
  std::string how = describe_wait_status(wait_status);
  // An isolated instance leaves a state file: it tells an OOM kill from any other SIGKILL and
  // names the cgroups the dead process could not remove itself.
  const fs::path state_file = profile_.data_dir / inst.node_name / kIsolationStateFile;
  if (WIFSIGNALED(wait_status) && fs::exists(state_file)) {
    const ExitReport report = classify_exit(128 + WTERMSIG(wait_status), state_file);
    if (report.cause == ExitCause::kOomKilled) {
      how = report.detail;
    } else if (!report.detail.empty()) {
      log_->warn(inst.node_name + ": cannot read the isolation state", {{"error", report.detail}});
    }
    remove_state_cgroups(state_file);
  }
  log_->info(inst.node_name + " exited", {{"pid", std::to_string(inst.pid)}, {"status", how}});
  inst.pid = 0;
  inst.output.reset();
  inst.ready = false;
  const AfterExit after = inst.after_exit;
  inst.after_exit = AfterExit::kDeath;
  inst.stop_signalled = false;
  if (shutting_down_ || after == AfterExit::kStop) {
    set_state(inst, InstanceState::kStopped);
    return;
  }
  if (after == AfterExit::kRemove) {
    instances_.erase(inst.index);  // `inst` is gone from here on
    return;
  }
  if (after == AfterExit::kRestart) {
    ++inst.restarts;
    if (Status st = spawn(inst); !st.ok()) log_->error(st.message());
    return;
  }
  const bool unhealthy = inst.state == InstanceState::kUnhealthy;
  const bool failed = unhealthy || !WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0;
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == Supervisor::kExitBadInput &&
      !inst.ever_ready) {
    // The instance refused its profile or plugins: a restart would only repeat that.
    mark_failed(inst, "rejected its configuration (exit 2); see " + inst.log->file().string(),
                starting_up_ ? kExitBadInput : kExitFailure);
    if (starting_up_) begin_shutdown(kExitBadInput, inst.node_name + ": bad configuration");
    return;
  }
  on_death(inst, failed, unhealthy ? inst.last_failure : how);
}

void Supervisor::on_death(Instance& inst, bool failed, const std::string& why) {
  if (failed) inst.last_failure = why;
  // A run that stayed ready for backoff_ms.max is not part of a loop: start the delay over.
  if (inst.ever_ready && ms_between(inst.ready_since, Clock::now()) >= policy_.backoff_max_ms) {
    inst.attempt = 0;
  }
  if (!policy_.should_restart(failed)) {
    if (failed) {
      mark_failed(inst, why + " (restart: " + std::string(restart_mode_name(policy_.restart)) + ")",
                  kExitFailure);
    } else {
      set_state(inst, InstanceState::kStopped);
    }
    return;
  }
  if (inst.breaker.record_death(Clock::now())) {
    mark_failed(inst,
                "crash loop: " + std::to_string(policy_.crash_loop_deaths) + " deaths in " +
                    std::to_string(policy_.crash_loop_window_s) + " s (last: " + why + ")",
                kExitFailure);
    return;
  }
  ++inst.attempt;
  const uint32_t delay = backoff_.delay_ms(inst.attempt, rng_);
  inst.restart_at = Clock::now() + milliseconds(delay);
  set_state(inst, InstanceState::kBackoff);
  log_->info(inst.node_name + " restarts in " + std::to_string(delay) + " ms",
             {{"attempt", std::to_string(inst.attempt)}, {"why", why}});
}

void Supervisor::mark_failed(Instance& inst, const std::string& why, int exit_code_if_essential) {
  inst.last_failure = why;
  set_state(inst, InstanceState::kFailed);
  log_->error(inst.node_name + " failed for good: " + why);
  if (policy_.essential && !shutting_down_) {
    begin_shutdown(exit_code_if_essential,
                   inst.node_name + " is essential and failed for good (" + why + ")");
  }
}

void Supervisor::drain_bus() {
  while (true) {
    std::vector<zmq::message_t> parts;
    zmq::recv_result_t got;
    try {
      got = zmq::recv_multipart(bus_->socket, std::back_inserter(parts), zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      log_->warn(std::string("bus: ") + e.what());
      return;
    }
    if (!got) return;
    nodus::v1::Heartbeat hb;
    if (parts.size() < 2 ||
        !hb.ParseFromArray(parts.back().data(), static_cast<int>(parts.back().size()))) {
      log_->warn("bus: dropped a malformed message");
      continue;
    }
    auto it = instances_.find(hb.index());
    if (it == instances_.end() || it->second->pid != hb.pid()) continue;  // a previous process
    Instance& inst = *it->second;
    inst.last_heartbeat = Clock::now();
    inst.heartbeat_seen = true;
    inst.executor_lag_ms = hb.executor_lag_ms();
    inst.role = hb.role();
    if (hb.ready() && !inst.ready) {
      inst.ready_since = inst.last_heartbeat;
      inst.ever_ready = true;
      starting_up_ = false;
    }
    inst.ready = hb.ready();
    if (inst.state == InstanceState::kStarting || inst.state == InstanceState::kReady ||
        (inst.state == InstanceState::kUnhealthy && !inst.stop_signalled)) {
      set_state(inst, inst.ready        ? InstanceState::kReady
                      : inst.ever_ready ? InstanceState::kUnhealthy
                                        : InstanceState::kStarting);
    }
  }
}

void Supervisor::drain_output(Instance& inst, bool flush) {
  std::array<char, 16384> buf{};
  while (inst.output.valid()) {
    const ssize_t n = ::read(inst.output.get(), buf.data(), buf.size());
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) inst.output.reset();
      break;
    }
    inst.partial_line.append(buf.data(), static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = inst.partial_line.find('\n', start)) != std::string::npos;
         start = nl + 1) {
      const std::string_view line(inst.partial_line.data() + start, nl - start + 1);
      (void)inst.log->append(line);
      if (options_.echo_output) {
        const std::string prefixed = "[" + inst.node_name + "] " + std::string(line);
        (void)!::write(STDERR_FILENO, prefixed.data(), prefixed.size());
      }
    }
    inst.partial_line.erase(0, start);
    if (inst.partial_line.size() > kLineBytesMax) flush = true;  // cut a runaway line
    if (flush && !inst.partial_line.empty()) {
      if (inst.partial_line.back() != '\n') inst.partial_line += '\n';
      (void)inst.log->append(inst.partial_line);
      inst.partial_line.clear();
    }
  }
}

void Supervisor::check_deadlines(Clock::time_point now) {
  for (auto& [index, ptr] : instances_) {
    Instance& inst = *ptr;
    if (inst.stop_signalled && now >= inst.kill_at) {
      NODUS_CHECK(inst.alive()) << "instance table: a stop is pending only for a live instance ("
                                << inst.node_name << " was reaped and reset)";
      log_->warn(inst.node_name + " did not stop within " +
                     std::to_string(policy_.stop_timeout_ms) + " ms; sending SIGKILL",
                 {{"pid", std::to_string(inst.pid)}});
      signal_group(inst.pid, SIGKILL);
      inst.kill_at = now + milliseconds(policy_.stop_timeout_ms);
    }
    if (inst.state == InstanceState::kBackoff && now >= inst.restart_at && !shutting_down_) {
      ++inst.restarts;
      if (Status st = spawn(inst); !st.ok()) log_->error(st.message());
      continue;
    }
    if (!inst.alive() || inst.stop_signalled) continue;
    const auto since = inst.heartbeat_seen ? inst.last_heartbeat : inst.started_at;
    const auto deadline = inst.heartbeat_seen ? milliseconds(policy_.heartbeat_deadline_ms())
                                              : kFirstHeartbeatDeadline;
    if (now - since >= deadline) {
      inst.last_failure = "no heartbeat for " + std::to_string(ms_between(since, now)) + " ms";
    } else if (inst.heartbeat_seen && inst.executor_lag_ms >= policy_.hang_timeout_ms) {
      // Alive (heartbeats arrive) but hung: its executor has not run a task for this long.
      inst.last_failure = "executor made no progress for " + std::to_string(inst.executor_lag_ms) +
                          " ms (hang_timeout_ms " + std::to_string(policy_.hang_timeout_ms) + ")";
    } else {
      continue;
    }
    log_->warn(inst.node_name + " is unhealthy: " + inst.last_failure + "; restarting it",
               {{"pid", std::to_string(inst.pid)}});
    set_state(inst, InstanceState::kUnhealthy);
    request_stop(inst, AfterExit::kDeath);
  }
}

void Supervisor::set_state(Instance& inst, InstanceState state) {
  if (inst.state == state) return;
  log_->debug(inst.node_name + " -> " + std::string(instance_state_name(state)));
  inst.state = state;
}

bool Supervisor::any_alive() const {
  return std::any_of(instances_.begin(), instances_.end(),
                     [](const auto& kv) { return kv.second->alive(); });
}

nodus::v1::InstanceStatus Supervisor::describe(const Instance& inst) const {
  nodus::v1::InstanceStatus s;
  s.set_index(inst.index);
  s.set_node(inst.node_name);
  s.set_pid(inst.pid);
  s.set_state(std::string(instance_state_name(inst.state)));
  s.set_role(inst.role);
  s.set_restarts(inst.restarts);
  s.set_last_failure(inst.last_failure);
  const auto now = Clock::now();
  if (inst.alive()) {
    s.set_uptime_s(std::chrono::duration<double>(now - inst.started_at).count());
    const ProcessStats stats = read_process_stats(inst.pid);
    s.set_cpu_s(stats.cpu_s);
    s.set_rss_bytes(stats.rss_bytes);
  }
  s.set_heartbeat_age_ms(inst.heartbeat_seen && inst.alive() ? ms_between(inst.last_heartbeat, now)
                                                             : -1);
  for (const auto& [name, port] : inst.ports)
    (*s.mutable_ports())[name] = port;
  return s;
}

Status Supervisor::apply_scale(uint32_t target, nodus::v1::ScaleReply& reply) {
  if (shutting_down_) return failed_precondition("the cluster is shutting down");
  if (target < 1) return invalid_argument("scale: at least 1 instance, got 0");
  // The profile with the new count validates the range and the highest port.
  std::vector<ConfigOverride> overrides = options_.overrides;
  overrides.push_back({"instances", std::to_string(target), "nodus scale"});
  NODUS_ASSIGN_OR_RETURN(Profile scaled, load_profile(profile_.source, overrides));
  const uint32_t previous = target_instances_;
  reply.set_previous(previous);
  reply.set_instances(target);
  if (target > previous) {
    for (uint32_t i = previous; i < target; ++i) {
      if (local_hosts_.count(scaled.host_of(i).name) == 0) continue;
      NODUS_RETURN_IF_ERROR(check_ports_free(scaled, i, i + 1));
      NODUS_RETURN_IF_ERROR(check_data_dirs(scaled, i, i + 1));
    }
  }
  // An explicit placement grows with the count; a smaller one would not place every index.
  if (target > profile_.instances) profile_.placement = scaled.placement;
  profile_.instances = std::max(profile_.instances, target);
  target_instances_ = target;
  log_->info("scaling from " + std::to_string(previous) + " to " + std::to_string(target));
  for (uint32_t i = previous; i < target; ++i) {
    if (!runs_here(i)) continue;   // another host's supervisor runs it
    auto it = instances_.find(i);  // may still be stopping from an earlier scale down
    Instance& inst = it != instances_.end() ? *it->second : add_instance(i);
    // Not part of the cluster `up` started: its consensus configuration comes from the leader.
    inst.joining = true;
    if (inst.alive()) {
      request_stop(inst, AfterExit::kRestart);
      continue;
    }
    NODUS_RETURN_IF_ERROR(spawn(inst));
  }
  std::vector<uint32_t> remove;
  for (const auto& [index, inst] : instances_) {
    if (index >= target) remove.push_back(index);
  }
  for (uint32_t index : remove) {
    Instance& inst = *instances_[index];
    if (inst.alive()) {
      request_stop(inst, AfterExit::kRemove);
    } else {
      instances_.erase(index);
    }
  }
  return {};
}

}  // namespace nodus::kernel
