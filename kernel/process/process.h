// process/process.h: starting, signalling, reaping and measuring child processes. The one
// spawning code of the kernel: the supervisor starts node instances with it, and a node
// instance starts its plugins' external programs (kernel/process/process_service.h) with it.
//
// spawn_process() uses vfork + execve (the child shares the parent's memory until it execs, so
// a large parent is never copied, as glibc's posix_spawn does). The child leads its own process
// group, gets default signal handling and an empty signal mask, stdin from /dev/null and
// stdout+stderr into a pipe the caller reads; optionally its own working directory, and
// PR_SET_PDEATHSIG(SIGKILL) so that it dies with the thread that spawned it (a node instance
// killed with -9 leaves no program behind).
//
//   NODUS_ASSIGN_OR_RETURN(SpawnedProcess p, spawn_process(argv, env));
//   signal_group(p.pid, SIGTERM);
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "kernel/runtime/file_util.h"
#include "nodus/status.h"

namespace nodus::kernel {

struct SpawnedProcess {
  pid_t pid = -1;
  UniqueFd output;  // read end of the child's stdout+stderr, non-blocking, close-on-exec
};

struct SpawnOptions {
  std::filesystem::path working_dir;  // empty: the parent's
  // SIGKILL the child when the thread that spawned it ends (PR_SET_PDEATHSIG; Linux ties it to
  // the thread, not the process), so spawn from a thread that lives as long as the child may.
  bool die_with_parent = false;
};

// `env` is the complete environment, "KEY=VALUE" each. argv[0] is the program's path (no PATH
// search). A program that cannot be executed is an error naming it and the reason.
nodus::Result<SpawnedProcess> spawn_process(const std::vector<std::string>& argv,
                                            const std::vector<std::string>& env,
                                            const SpawnOptions& options = {});

// Sends `sig` to the process group led by `pid` (each spawned child leads its own group). Only
// for a child that has not been reaped yet: until then neither its pid nor its group id can be
// reused, so the signal cannot reach a stranger. Once reaped, the number is free for any new
// process, and signalling it is a bug (the supervisor reaps with reap_one_child()).
void signal_group(pid_t pid, int sig);

// One exited child, if any, without blocking: first peeked at (waitid WNOWAIT, so the child
// stays a zombie and its pid stays ours), then `before_reap(pid)` runs (the last moment at
// which signalling the pid is safe), then it is reaped. Returns the pid and its wait status,
// or pid 0 when no child has exited. It waits for any child, so only a process that owns all
// of its children (the supervisor) may use it; a node instance reaps by pid.
struct ReapedChild {
  pid_t pid = 0;
  int wait_status = 0;
};
ReapedChild reap_one_child(const std::function<void(pid_t)>& before_reap);

struct ProcessStats {
  double cpu_s = 0;  // user + system
  uint64_t rss_bytes = 0;
};

// From /proc/<pid>/stat; zeros when the process is gone.
ProcessStats read_process_stats(pid_t pid);

// The path of the running executable (/proc/self/exe resolved).
std::string self_executable();

// "exit 1", "signal 9 (Killed)" for a waitpid() status.
std::string describe_wait_status(int status);

}  // namespace nodus::kernel
