#include "kernel/process/process_service.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <system_error>

#include "kernel/process/backoff.h"
#include "nodus/check.h"

extern char** environ;

namespace nodus::kernel {
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The environment a program gets: the instance's (without what describes the instance to its
// supervisor) or none, then the spec's variables.
std::vector<std::string> program_env(const ProcessSpec& spec) {
  std::map<std::string, std::string> vars;
  if (spec.inherit_env) {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string_view kv = *e;
      if (kv.rfind("NODUS_SUPERVISOR_", 0) == 0 || kv.rfind("NODUS_INSTANCE_", 0) == 0) continue;
      const size_t eq = kv.find('=');
      if (eq == std::string_view::npos) continue;
      vars[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
    }
  }
  for (const auto& [k, v] : spec.env)
    vars[k] = v;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [k, v] : vars)
    out.push_back(k + "=" + v);
  return out;
}

// argv[0] as a checked path: absolute, relative to the working directory, or found in PATH.
Result<fs::path> resolve_program(const ProcessSpec& spec, const fs::path& working_dir) {
  const std::string& arg0 = spec.argv[0];
  const std::string what = "process '" + spec.name + "': program ";
  fs::path program;
  if (arg0.find('/') != std::string::npos) {
    program = fs::path(arg0).is_absolute() ? fs::path(arg0) : working_dir / arg0;
  } else {
    std::string path_var;
    if (auto it = spec.env.find("PATH"); it != spec.env.end()) {
      path_var = it->second;
    } else if (const char* p = ::getenv("PATH"); p != nullptr && spec.inherit_env) {
      path_var = p;
    }
    size_t begin = 0;
    while (begin <= path_var.size() && program.empty()) {
      size_t end = path_var.find(':', begin);
      if (end == std::string::npos) end = path_var.size();
      const fs::path candidate = fs::path(path_var.substr(begin, end - begin)) / arg0;
      if (end > begin && ::access(candidate.c_str(), X_OK) == 0) program = candidate;
      begin = end + 1;
    }
    if (program.empty()) return not_found(what + "'" + arg0 + "' not found in PATH=" + path_var);
  }
  struct stat st {};
  if (::stat(program.c_str(), &st) != 0) {
    const std::string why = std::strerror(errno);
    if (errno == ENOENT) return not_found(what + program.string() + ": " + why);
    return permission_denied(what + program.string() + ": " + why);
  }
  if (!S_ISREG(st.st_mode)) {
    return permission_denied(what + program.string() + ": not a regular file");
  }
  if (::access(program.c_str(), X_OK) != 0) {
    return permission_denied(what + program.string() + ": not executable");
  }
  return program;
}

}  // namespace

// Lives as long as the ProcessService; tasks posted from the watcher thread and timers hold it
// weakly, so that nothing runs for a plugin that has stopped.
class ProcessService::State : public std::enable_shared_from_this<State> {
 public:
  State(Executor& executor, ChildWatcher& watcher, Logger& log, std::string plugin,
        fs::path plugin_dir)
      : executor_(executor),
        watcher_(watcher),
        log_(log),
        plugin_(std::move(plugin)),
        plugin_dir_(std::move(plugin_dir)),
        rng_(std::random_device{}()) {}

  struct Entry {
    Entry(ProcessSpec s, ProcessExitCallback cb)
        : spec(std::move(s)),
          on_exit(std::move(cb)),
          backoff(static_cast<uint32_t>(spec.backoff_initial.count()),
                  static_cast<uint32_t>(spec.backoff_max.count())),
          breaker(spec.crash_loop_ends,
                  static_cast<uint32_t>(std::max<int64_t>(spec.crash_loop_window.count(), 1))) {}
    ProcessSpec spec;
    ProcessExitCallback on_exit;
    fs::path program;
    fs::path working_dir;
    fs::path log_file;
    std::vector<std::string> env;
    ProcessState state = ProcessState::kRunning;
    std::shared_ptr<ChildWatcher::Child> child;
    SteadyClock::time_point run_started{};
    uint64_t run = 0;  // which run a reap belongs to
    bool stop_requested = false;
    TimerId kill_timer = kNoTimer;
    TimerId restart_timer = kNoTimer;
    uint32_t restarts = 0;
    uint32_t attempt = 0;  // consecutive quick ends, for the backoff
    Backoff backoff;
    CrashLoopBreaker breaker;
    ProcessExit last;  // the last run's end
  };

  Result<ProcessId> start(ProcessSpec spec, ProcessExitCallback on_exit) {
    NODUS_RETURN_IF_ERROR(validate_process_spec(spec));
    const std::string what = "process '" + spec.name + "'";
    if (entries_.size() >= kProcessesPerPluginMax) {
      return resource_exhausted(what + ": plugin " + plugin_ + " already has " +
                                std::to_string(entries_.size()) + " programs (the limit)");
    }
    for (const auto& [id, e] : entries_) {
      if (e->spec.name == spec.name) return already_exists(what + ": name already in use");
    }
    auto entry = std::make_unique<Entry>(std::move(spec), std::move(on_exit));
    std::error_code ec;
    if (entry->spec.working_dir.empty()) {
      fs::create_directories(plugin_dir_, ec);
      if (ec) return permission_denied(what + ": " + plugin_dir_.string() + ": " + ec.message());
      entry->working_dir = plugin_dir_;
    } else {
      entry->working_dir = entry->spec.working_dir;
      if (!fs::is_directory(entry->working_dir, ec)) {
        return not_found(what + ": working directory " + entry->working_dir.string() +
                         " does not exist");
      }
    }
    NODUS_ASSIGN_OR_RETURN(entry->program, resolve_program(entry->spec, entry->working_dir));
    entry->log_file = entry->spec.log_file.empty() ? plugin_dir_ / (entry->spec.name + ".log")
                                                   : entry->spec.log_file;
    if (entry->spec.log_file.empty()) fs::create_directories(plugin_dir_, ec);
    entry->env = program_env(entry->spec);
    const ProcessId id = next_id_++;
    NODUS_RETURN_IF_ERROR(spawn(id, *entry));
    entries_.emplace(id, std::move(entry));
    return id;
  }

  Status stop(ProcessId id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return not_found("process " + std::to_string(id) + ": unknown");
    Entry& e = *it->second;
    if (e.stop_requested) return {};
    e.stop_requested = true;
    if (e.state == ProcessState::kBackoff) {
      // No run is alive: the program is gone already, so the end is final now.
      executor_.cancel(e.restart_timer);
      e.last.stopped = true;
      finish(id, /*defer=*/true);
      return {};
    }
    e.state = ProcessState::kStopping;
    // SIGCONT too, so that a stopped (SIGSTOP) program can act on the SIGTERM.
    e.child->signal(SIGTERM);
    e.child->signal(SIGCONT);
    std::weak_ptr<State> weak = weak_from_this();
    const uint64_t run = e.run;
    e.kill_timer = executor_.schedule_after(e.spec.stop_grace, [weak, id, run] {
      auto self = weak.lock();
      if (!self) return;
      auto found = self->entries_.find(id);
      if (found == self->entries_.end() || found->second->run != run) return;
      found->second->kill_timer = kNoTimer;
      if (found->second->child->signal(SIGKILL)) {
        self->log_.warn("process '" + found->second->spec.name +
                        "' did not end within its stop grace; SIGKILL sent");
      }
    });
    return {};
  }

  std::optional<ProcessInfo> info(ProcessId id) const {
    auto it = entries_.find(id);
    if (it == entries_.end()) return std::nullopt;
    return describe(id, *it->second);
  }

  std::vector<ProcessInfo> list() const {
    std::vector<ProcessInfo> out;
    for (const auto& [id, e] : entries_)
      out.push_back(describe(id, *e));
    return out;
  }

  // The plugin stopped: every program gets SIGTERM now and SIGKILL once its own grace has
  // passed, so the whole takes at most the longest grace (plus the SIGKILLs' reaping).
  void shut_down() {
    const auto now = SteadyClock::now();
    std::vector<std::pair<SteadyClock::time_point, Entry*>> running;
    for (auto& [id, e] : entries_) {
      executor_.cancel(e->restart_timer);
      executor_.cancel(e->kill_timer);
      if (e->state == ProcessState::kBackoff) continue;
      running.emplace_back(now + e->spec.stop_grace, e.get());
      if (!e->stop_requested) {
        e->child->signal(SIGTERM);
        e->child->signal(SIGCONT);
      }
    }
    std::sort(running.begin(), running.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [deadline, e] : running) {
      if (e->child->wait_reaped(deadline)) continue;
      if (e->child->signal(SIGKILL)) {
        log_.warn("process '" + e->spec.name + "' did not end within its stop grace; SIGKILL sent");
      }
    }
    for (auto& [id, e] : entries_) {
      if (e->state == ProcessState::kBackoff) continue;
      if (!e->child->wait_reaped(SteadyClock::now() + kKillWait)) {
        log_.error("process '" + e->spec.name + "' (pid " + std::to_string(e->child->pid()) +
                   ") survived SIGKILL; the node's watcher reaps it when it ends");
      }
    }
    entries_.clear();
  }

 private:
  Status spawn(ProcessId id, Entry& e) {
    NODUS_ASSIGN_OR_RETURN(auto log, RotatingLog::open(e.log_file, e.spec.log_size_bytes_max,
                                                       static_cast<int>(e.spec.log_files_kept)));
    std::vector<std::string> argv = e.spec.argv;
    argv[0] = e.program.string();
    SpawnOptions options;
    options.working_dir = e.working_dir;
    options.die_with_parent = true;  // a node killed with -9 leaves no program behind
    auto spawned = spawn_process(argv, e.env, options);
    if (!spawned.ok()) {
      return spawned.status().with_context("process '" + e.spec.name + "' of " + plugin_);
    }
    const pid_t pid = spawned->pid;
    const uint64_t run = ++e.run;
    std::weak_ptr<State> weak = weak_from_this();
    Executor* executor = &executor_;
    NODUS_ASSIGN_OR_RETURN(e.child, watcher_.watch(std::move(*spawned), std::move(log),
                                                   [weak, executor, id, run](int wait_status) {
                                                     executor->post([weak, id, run, wait_status] {
                                                       if (auto self = weak.lock())
                                                         self->ended(id, run, wait_status);
                                                     });
                                                   }));
    e.state = ProcessState::kRunning;
    e.run_started = SteadyClock::now();
    log_.info("process '" + e.spec.name + "' started",
              {{"pid", std::to_string(pid)}, {"program", e.program.string()}});
    return {};
  }

  // A run was reaped.
  void ended(ProcessId id, uint64_t run, int wait_status) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second->run != run) return;
    Entry& e = *it->second;
    executor_.cancel(e.kill_timer);
    e.kill_timer = kNoTimer;
    e.last = ProcessExit{};
    e.last.pid = e.child->pid();
    if (WIFEXITED(wait_status)) e.last.exit_code = WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) e.last.signal = WTERMSIG(wait_status);
    e.last.stopped = e.stop_requested;
    log_.info("process '" + e.spec.name + "' ended",
              {{"pid", std::to_string(e.last.pid)}, {"status", describe_wait_status(wait_status)}});
    const bool failed = !(e.last.exit_code && *e.last.exit_code == 0);
    const bool again =
        !e.stop_requested && (e.spec.restart == RestartPolicy::kAlways ||
                              (e.spec.restart == RestartPolicy::kOnFailure && failed));
    if (!again) {
      finish(id, false);
      return;
    }
    const auto now = SteadyClock::now();
    if (e.breaker.record_death(now)) {
      e.last.crash_loop = true;
      log_.error("process '" + e.spec.name + "': crash loop (" +
                 std::to_string(e.spec.crash_loop_ends) + " ends within " +
                 std::to_string(e.spec.crash_loop_window.count()) + " s); not restarted");
      finish(id, false);
      return;
    }
    e.attempt = now - e.run_started >= e.spec.backoff_max ? 1 : e.attempt + 1;
    const milliseconds delay(e.backoff.delay_ms(e.attempt, rng_));
    e.state = ProcessState::kBackoff;
    std::weak_ptr<State> weak = weak_from_this();
    e.restart_timer = executor_.schedule_after(delay, [weak, id] {
      if (auto self = weak.lock()) self->restart(id);
    });
  }

  void restart(ProcessId id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    Entry& e = *it->second;
    e.restart_timer = kNoTimer;
    ++e.restarts;
    if (Status st = spawn(id, e); !st.ok()) {
      log_.error(st.message());
      e.last.error = st.message();
      finish(id, false);
    }
  }

  // The final end: remove the entry, then run the callback (now, or posted when called from
  // inside a call of the plugin).
  void finish(ProcessId id, bool defer) {
    auto it = entries_.find(id);
    NODUS_CHECK(it != entries_.end()) << "finish of an unknown process " << id;
    ProcessExit exit = it->second->last;
    exit.id = id;
    exit.name = it->second->spec.name;
    exit.restarts = it->second->restarts;
    ProcessExitCallback cb = std::move(it->second->on_exit);
    entries_.erase(it);
    if (!cb) return;
    if (!defer) {
      cb(exit);
      return;
    }
    std::weak_ptr<State> weak = weak_from_this();
    executor_.post([weak, cb = std::move(cb), exit] {
      if (weak.lock()) cb(exit);
    });
  }

  static ProcessInfo describe(ProcessId id, const Entry& e) {
    ProcessInfo info;
    info.id = id;
    info.name = e.spec.name;
    info.state = e.state;
    info.pid = e.state == ProcessState::kBackoff ? 0 : e.child->pid();
    info.restarts = e.restarts;
    info.log_file = e.log_file;
    return info;
  }

  Executor& executor_;
  ChildWatcher& watcher_;
  Logger& log_;
  std::string plugin_;
  fs::path plugin_dir_;
  std::mt19937_64 rng_;
  ProcessId next_id_ = 1;
  std::map<ProcessId, std::unique_ptr<Entry>> entries_;
};

ProcessService::ProcessService(Executor& executor, ChildWatcher& watcher, Logger& log,
                               std::string plugin, fs::path plugin_dir)
    : state_(std::make_shared<State>(executor, watcher, log, std::move(plugin),
                                     std::move(plugin_dir))) {}

ProcessService::~ProcessService() {
  state_->shut_down();
}

Result<ProcessId> ProcessService::start(ProcessSpec spec, ProcessExitCallback on_exit) {
  return state_->start(std::move(spec), std::move(on_exit));
}

Status ProcessService::stop(ProcessId id) {
  return state_->stop(id);
}

std::optional<ProcessInfo> ProcessService::info(ProcessId id) const {
  return state_->info(id);
}

std::vector<ProcessInfo> ProcessService::list() const {
  return state_->list();
}

}  // namespace nodus::kernel
