#include "nodus/testing/fake_processes.h"

#include <signal.h>

#include <algorithm>

namespace nodus::testing {
namespace {

class FakeProcessesHandle final : public Processes {
 public:
  explicit FakeProcessesHandle(FakeProcesses& fake) : fake_(fake) {}
  ~FakeProcessesHandle() override { fake_.shut_down(); }
  Result<ProcessId> start(ProcessSpec spec, ProcessExitCallback on_exit) override {
    return fake_.start(std::move(spec), std::move(on_exit));
  }
  Status stop(ProcessId id) override { return fake_.stop(id); }
  std::optional<ProcessInfo> info(ProcessId id) const override { return fake_.info(id); }
  std::vector<ProcessInfo> list() const override { return fake_.list(); }

 private:
  FakeProcesses& fake_;
};

}  // namespace

std::unique_ptr<Processes> FakeProcesses::handle() {
  return std::make_unique<FakeProcessesHandle>(*this);
}

FakeProcesses::~FakeProcesses() {
  shut_down();
}

void FakeProcesses::shut_down() {
  *alive_ = false;
  alive_ = std::make_shared<bool>(true);  // later calls (a restarted plugin) start afresh
  for (auto& [id, e] : entries_) {
    executor_.cancel(e.timer);
    if (e.state != ProcessState::kBackoff) shutdown_stops_.push_back(id);
  }
  entries_.clear();
}

Result<ProcessId> FakeProcesses::start(ProcessSpec spec, ProcessExitCallback on_exit) {
  NODUS_RETURN_IF_ERROR(validate_process_spec(spec));
  const std::string what = "process '" + spec.name + "'";
  if (entries_.size() >= kProcessesPerPluginMax) {
    return resource_exhausted(what + ": already " + std::to_string(entries_.size()) +
                              " programs (the limit)");
  }
  for (const auto& [id, e] : entries_) {
    if (e.spec.name == spec.name) return already_exists(what + ": name already in use");
  }
  if (missing_.count(spec.argv[0]) != 0) {
    return not_found(what + ": program " + spec.argv[0] + ": No such file or directory");
  }
  const ProcessId id = next_id_++;
  Entry& e = entries_[id];
  e.spec = std::move(spec);
  e.on_exit = std::move(on_exit);
  spawn(id, e);
  return id;
}

void FakeProcesses::spawn(ProcessId id, Entry& e) {
  e.state = ProcessState::kRunning;
  e.pid = next_pid_++;
  ++e.run;
  e.end_pending = false;
  starts_.push_back({id, e.pid, e.spec});
}

Status FakeProcesses::stop(ProcessId id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return not_found("process " + std::to_string(id) + ": unknown");
  stops_.push_back(id);
  Entry& e = it->second;
  if (e.stop_requested) return {};
  e.stop_requested = true;
  if (e.state == ProcessState::kBackoff) {
    executor_.cancel(e.timer);
    ProcessExit exit;
    exit.stopped = true;
    exit.pid = e.pid;
    std::weak_ptr<bool> alive = alive_;
    // Gone already (between runs), but the callback never runs inside the plugin's own call.
    executor_.post([this, alive, id, exit] {
      if (auto a = alive.lock(); a && *a && entries_.count(id) != 0) finish(id, exit);
    });
    return {};
  }
  e.state = ProcessState::kStopping;
  if (ignoring_sigterm_.count(id) != 0) {
    std::weak_ptr<bool> alive = alive_;
    const uint64_t run = e.run;
    e.timer = executor_.schedule_after(e.spec.stop_grace, [this, alive, id, run] {
      if (auto a = alive.lock(); a && *a) ended(id, run, std::nullopt, SIGKILL);
    });
    return {};
  }
  if (e.end_pending) return {};  // its end is already on the way; it reports stopped
  return end_run(id, std::nullopt, SIGTERM);
}

Status FakeProcesses::exit(ProcessId id, int exit_code) {
  return end_run(id, exit_code, std::nullopt);
}

Status FakeProcesses::kill(ProcessId id, int signal) {
  return end_run(id, std::nullopt, signal);
}

Status FakeProcesses::end_run(ProcessId id, std::optional<int> exit_code,
                              std::optional<int> signal) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.state == ProcessState::kBackoff ||
      it->second.end_pending) {
    return failed_precondition("process " + std::to_string(id) + ": no live run to end");
  }
  it->second.end_pending = true;
  std::weak_ptr<bool> alive = alive_;
  const uint64_t run = it->second.run;
  // The reap is confirmed later, on the executor, as the kernel's watcher posts it.
  executor_.post([this, alive, id, run, exit_code, signal] {
    if (auto a = alive.lock(); a && *a) ended(id, run, exit_code, signal);
  });
  return {};
}

void FakeProcesses::ended(ProcessId id, uint64_t run, std::optional<int> exit_code,
                          std::optional<int> signal) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.run != run) return;
  Entry& e = it->second;
  executor_.cancel(e.timer);
  e.timer = kNoTimer;
  ProcessExit exit;
  exit.pid = e.pid;
  exit.exit_code = exit_code;
  exit.signal = signal;
  exit.stopped = e.stop_requested;
  const bool failed = !(exit_code && *exit_code == 0);
  const bool again = !e.stop_requested && (e.spec.restart == RestartPolicy::kAlways ||
                                           (e.spec.restart == RestartPolicy::kOnFailure && failed));
  if (!again) {
    finish(id, exit);
    return;
  }
  const TimePoint now = clock_.now();
  std::erase_if(e.ends, [&](TimePoint t) { return now - t >= e.spec.crash_loop_window; });
  e.ends.push_back(now);
  if (e.ends.size() >= e.spec.crash_loop_ends) {
    exit.crash_loop = true;
    finish(id, exit);
    return;
  }
  // Nominal backoff: the fake is deterministic, so no jitter.
  ++e.attempt;
  auto delay = e.spec.backoff_initial;
  for (uint32_t i = 1; i < e.attempt && delay < e.spec.backoff_max; ++i)
    delay *= 2;
  delay = std::min(delay, e.spec.backoff_max);
  e.state = ProcessState::kBackoff;
  std::weak_ptr<bool> alive = alive_;
  e.timer = executor_.schedule_after(delay, [this, alive, id] {
    if (auto a = alive.lock(); !a || !*a) return;
    auto found = entries_.find(id);
    if (found == entries_.end()) return;
    found->second.timer = kNoTimer;
    ++found->second.restarts;
    spawn(id, found->second);
  });
}

void FakeProcesses::finish(ProcessId id, ProcessExit exit) {
  auto it = entries_.find(id);
  exit.id = id;
  exit.name = it->second.spec.name;
  exit.restarts = it->second.restarts;
  ProcessExitCallback cb = std::move(it->second.on_exit);
  entries_.erase(it);
  ignoring_sigterm_.erase(id);
  if (cb) cb(exit);
}

std::optional<ProcessInfo> FakeProcesses::info(ProcessId id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  ProcessInfo info;
  info.id = id;
  info.name = it->second.spec.name;
  info.state = it->second.state;
  info.pid = it->second.state == ProcessState::kBackoff ? 0 : it->second.pid;
  info.restarts = it->second.restarts;
  info.log_file = it->second.spec.log_file;
  return info;
}

std::vector<ProcessInfo> FakeProcesses::list() const {
  std::vector<ProcessInfo> out;
  for (const auto& [id, e] : entries_)
    out.push_back(*info(id));
  return out;
}

}  // namespace nodus::testing
