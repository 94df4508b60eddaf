// process/child_watcher.h: watches the children a node instance spawned for its plugins, on one
// thread of its own: copies their output into their rotating log files and reaps each one as
// soon as it has exited.
//
// A node instance is not PID 1 and does not own every child of its process (a library may
// spawn and wait for its own), so it never waits for "any child" and installs no SIGCHLD
// handler: each child is watched through a pidfd (readable once the child has exited) and
// reaped by its pid, which stays ours until that reap.
//
//   ChildWatcher watcher;
//   NODUS_ASSIGN_OR_RETURN(SpawnedProcess p, spawn_process(argv, env));
//   auto child = watcher.watch(std::move(p), std::move(log), [](int wait_status) { ... });
//   child->signal(SIGTERM);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kernel/process/process.h"
#include "kernel/process/rotating_log.h"
#include "kernel/runtime/file_util.h"
#include "nodus/status.h"

namespace nodus::kernel {

class ChildWatcher {
 public:
  // One watched child. Thread-safe.
  class Child {
   public:
    pid_t pid() const { return pid_; }
    // Sends `sig` to the child's process group, unless it has been reaped (then false: its
    // number may already be a stranger's).
    bool signal(int sig);
    bool reaped() const;
    // Waits until the child has been reaped and let go by the watcher, or `deadline` passed;
    // true when reaped.
    bool wait_reaped(std::chrono::steady_clock::time_point deadline);

   private:
    friend class ChildWatcher;
    pid_t pid_ = 0;
    UniqueFd pidfd_;
    UniqueFd output_;                   // watcher thread only
    std::unique_ptr<RotatingLog> log_;  // watcher thread only
    std::string partial_line_;          // watcher thread only
    std::function<void(int)> on_reaped_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool reaped_ = false;    // set with the reap itself: no signal may follow
    bool released_ = false;  // reaped and no longer in the watcher's list
  };

  // Output kept back waiting for its newline; a longer line is written as it is.
  static constexpr size_t kPartialLineBytesMax = 64 * 1024;

  ChildWatcher();
  // Kills (SIGKILL to the group) and reaps every child still watched; their callbacks do not
  // run.
  ~ChildWatcher();
  ChildWatcher(const ChildWatcher&) = delete;
  ChildWatcher& operator=(const ChildWatcher&) = delete;

  // Takes over a spawned, unreaped child. Its output goes to `log` (may be null: discarded).
  // Once it has exited, the rest of its process group is killed, it is reaped, and
  // `on_reaped(wait_status)` runs on the watcher thread (keep it short: post it on).
  Result<std::shared_ptr<Child>> watch(SpawnedProcess process, std::unique_ptr<RotatingLog> log,
                                       std::function<void(int wait_status)> on_reaped);
  size_t watched() const;

 private:
  void run();
  void wake();
  static void drain_output(Child& child, bool final);
  void finish(const std::shared_ptr<Child>& child);

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Child>> children_;
  bool stopping_ = false;
  UniqueFd wake_fd_;  // eventfd: the list changed, or stop
  std::thread thread_;
};

}  // namespace nodus::kernel
