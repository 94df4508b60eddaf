// process/process_service.h: the kernel's nodus::Processes (nodus/services/processes.h), one
// object per plugin of a node instance. Programs are spawned with the supervisor's spawning code
// (kernel/process/process.h, PR_SET_PDEATHSIG on), watched and reaped by the instance's
// ChildWatcher, restarted by the same backoff and crash-loop breaker as node instances
// (kernel/process/backoff.h). Every callback and timer runs on the instance's executor.
//
//   ChildWatcher watcher;   // one per instance, outlives every ProcessService
//   ProcessService procs(executor, watcher, logger, "io.nodus.example", data_dir / "example");
//   NODUS_ASSIGN_OR_RETURN(ProcessId id, procs.start(spec, on_exit));
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "kernel/process/child_watcher.h"
#include "nodus/services/executor.h"
#include "nodus/services/logger.h"
#include "nodus/services/processes.h"

namespace nodus::kernel {

class ProcessService final : public Processes {
 public:
  // SIGKILLed programs are gone within this; a program stuck in the kernel (state D) longer
  // than that is given up on at destruction, reported, and left to the watcher.
  static constexpr std::chrono::milliseconds kKillWait{5000};

  // `plugin_dir` is the default working directory and log directory.
  ProcessService(Executor& executor, ChildWatcher& watcher, Logger& log, std::string plugin,
                 std::filesystem::path plugin_dir);
  // Stops every program still running (SIGTERM, the longest grace among them, SIGKILL) and
  // waits until they are reaped. Blocks for at most that bound: it runs when the plugin stops.
  // No exit callback runs after this.
  ~ProcessService() override;

  Result<ProcessId> start(ProcessSpec spec, ProcessExitCallback on_exit) override;
  Status stop(ProcessId id) override;
  std::optional<ProcessInfo> info(ProcessId id) const override;
  std::vector<ProcessInfo> list() const override;

 private:
  class State;
  std::shared_ptr<State> state_;
};

}  // namespace nodus::kernel
