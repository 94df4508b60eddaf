// nodus/testing/fake_processes.h: Processes without processes, for plugin unit tests and the
// simulator. It records every start and stop, and the test scripts how each run ends. It keeps
// the service's contract: the same checks at start() (plus programs the test declares
// missing), the restart policy (backoff without jitter, the crash-loop limit) on the executor's
// timers, and the exit callback once per start(), on the executor, only after the end is
// confirmed: a stopped program ends when the executor runs (or, if the test made it ignore
// SIGTERM, when its stop_grace has passed on the executor's clock).
//
//   FakeProcesses procs(executor, executor);            // a ManualExecutor is both
//   procs.set_missing("/usr/bin/geth");                 // start() of it: NOT_FOUND
//   auto id = procs.start(spec, [&](const ProcessExit& e) { exits.push_back(e); }).value();
//   procs.exit(id, 1);                                  // the program crashes
//   executor.advance(spec.backoff_initial);             // ...and is restarted
//   EXPECT_EQ(procs.starts().size(), 2u);
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/services/executor.h"
#include "nodus/services/processes.h"

namespace nodus::testing {

class FakeProcesses final : public Processes {
 public:
  struct Start {
    ProcessId id = 0;
    int64_t pid = 0;
    ProcessSpec spec;
  };

  FakeProcesses(Executor& executor, Clock& clock) : executor_(executor), clock_(clock) {}
  // Like the plugin's stop() in the real host: what still runs is stopped, no callback runs.
  ~FakeProcesses() override;

  Result<ProcessId> start(ProcessSpec spec, ProcessExitCallback on_exit) override;
  Status stop(ProcessId id) override;
  std::optional<ProcessInfo> info(ProcessId id) const override;
  std::vector<ProcessInfo> list() const override;

  // Scripting. start() of this program (argv[0]) fails with NOT_FOUND naming it.
  void set_missing(const std::string& program) { missing_.insert(program); }
  // The current run ends by itself: exit code, or killed by a signal. The end is handled on
  // the executor. FAILED_PRECONDITION when the program has no live run.
  Status exit(ProcessId id, int exit_code);
  Status kill(ProcessId id, int signal);
  // The program ignores SIGTERM: stop() ends it with SIGKILL after its stop_grace.
  void ignore_sigterm(ProcessId id) { ignoring_sigterm_.insert(id); }
  // What has happened: every run started (restarts included) and every stop() call.
  const std::vector<Start>& starts() const { return starts_; }
  const std::vector<ProcessId>& stops() const { return stops_; }
  // Programs the destructor (the plugin's stop()) had to stop.
  const std::vector<ProcessId>& stopped_at_shutdown() const { return shutdown_stops_; }
  // Stops every program now, without callbacks, as the host does after the plugin's stop().
  void shut_down();
  // What a host hands the plugin: forwards to this fake, which must outlive it; destroying it
  // is the plugin's stop (shut_down()), as destroying the kernel's service is.
  std::unique_ptr<Processes> handle();

 private:
  struct Entry {
    ProcessSpec spec;
    ProcessExitCallback on_exit;
    ProcessState state = ProcessState::kRunning;
    int64_t pid = 0;
    uint64_t run = 0;
    bool stop_requested = false;
    bool end_pending = false;  // an end of the current run is queued on the executor
    uint32_t restarts = 0;
    uint32_t attempt = 0;
    std::vector<TimePoint> ends;  // within the crash-loop window, at most crash_loop_ends
    TimerId timer = kNoTimer;
  };
  void spawn(ProcessId id, Entry& e);
  Status end_run(ProcessId id, std::optional<int> exit_code, std::optional<int> signal);
  void ended(ProcessId id, uint64_t run, std::optional<int> exit_code, std::optional<int> signal);
  void finish(ProcessId id, ProcessExit exit);

  Executor& executor_;
  Clock& clock_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted tasks check it
  std::map<ProcessId, Entry> entries_;
  std::set<std::string> missing_;
  std::set<ProcessId> ignoring_sigterm_;
  std::vector<Start> starts_;
  std::vector<ProcessId> stops_;
  std::vector<ProcessId> shutdown_stops_;
  ProcessId next_id_ = 1;
  int64_t next_pid_ = 1000;
};

}  // namespace nodus::testing
