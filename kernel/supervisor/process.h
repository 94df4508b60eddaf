// supervisor/process.h: starting, signalling and measuring the instance processes.
//
// spawn_process() uses posix_spawn (glibc's is a vfork-style clone, so a large supervisor is
// never copied), puts the child in its own process group, gives it default signal handling
// and an empty signal mask, stdin from /dev/null and stdout+stderr into a pipe the supervisor
// reads.
//
//   NODUS_ASSIGN_OR_RETURN(SpawnedProcess p, spawn_process(argv, env));
//   signal_group(p.pid, SIGTERM);
#pragma once

#include <sys/types.h>

#include <cstdint>
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

// `env` is the complete environment, "KEY=VALUE" each.
nodus::Result<SpawnedProcess> spawn_process(const std::vector<std::string>& argv,
                                            const std::vector<std::string>& env);

// Sends `sig` to the process group led by `pid` (each instance leads its own group). Only for
// a child that has not been reaped yet: until then neither its pid nor its group id can be
// reused, so the signal cannot reach a stranger. Once reaped, the number is free for any new
// process, and signalling it is a bug (the supervisor reaps with reap_one_child()).
void signal_group(pid_t pid, int sig);

// One exited child, if any, without blocking: first peeked at (waitid WNOWAIT, so the child
// stays a zombie and its pid stays ours), then `before_reap(pid)` runs (the last moment at
// which signalling the pid is safe), then it is reaped. Returns the pid and its wait status,
// or pid 0 when no child has exited.
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
