#include "kernel/process/process.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nodus/check.h"

namespace nodus::kernel {

namespace {

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Everything the child needs, prepared by the parent: between vfork and execve the child shares
// the parent's memory and may only make system calls (no allocation, no locks).
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* working_dir = nullptr;  // nullptr: stay
  int null_fd = -1;
  int output_fd = -1;
  bool die_with_parent = false;
  pid_t parent = 0;
  // Written by the child when it fails before execve; read by the parent after vfork returns.
  int error = 0;
  const char* step = nullptr;
};

// dup2 that also works when `from` already is `to` (then dup2 leaves close-on-exec set).
bool move_fd(int from, int to) {
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
}

[[noreturn]] void run_child(ChildPlan* plan) {
  // Handlers of the parent must not run here (they would run on the parent's memory), and
  // ignored signals would stay ignored across execve: every signal goes back to its default.
  // They are all blocked (the parent blocked them before vfork) until the mask is emptied.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    (void)::sigaction(sig, &dfl, nullptr);
  const auto fail = [plan](const char* step) {
    plan->error = errno;
    plan->step = step;
    ::_exit(127);
  };
  if (::setpgid(0, 0) != 0) fail("setpgid");
  if (plan->die_with_parent) {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("prctl(PR_SET_PDEATHSIG)");
    // The parent may have died before the prctl took effect; then nobody would kill us.
    if (::getppid() != plan->parent) ::_exit(127);
  }
  if (!move_fd(plan->null_fd, 0) || !move_fd(plan->output_fd, 1) || !move_fd(plan->output_fd, 2)) {
    fail("dup2");
  }
  if (plan->working_dir != nullptr && ::chdir(plan->working_dir) != 0) fail("chdir");
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  ::execve(plan->path, plan->argv, plan->envp);
  fail("execve");
  ::_exit(127);  // not reached: fail() exits
}

// Kept apart so that no local of the caller lives across vfork's second return.
pid_t vfork_child(ChildPlan* plan) {
  const pid_t pid = ::vfork();
  if (pid == 0) run_child(plan);
  return pid;
}

}  // namespace

Result<SpawnedProcess> spawn_process(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env,
                                     const SpawnOptions& options) {
  if (argv.empty() || argv[0].empty()) return invalid_argument("spawn: empty argv");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return resource_exhausted(std::string("pipe: ") + std::strerror(errno));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_fd.get() < 0) return unavailable(std::string("/dev/null: ") + std::strerror(errno));
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = env;
  auto cargs = c_strings(args);
  auto cenv = c_strings(envs);
  const std::string dir = options.working_dir.string();
  ChildPlan plan;
  plan.path = cargs[0];
  plan.argv = cargs.data();
  plan.envp = cenv.data();
  plan.working_dir = dir.empty() ? nullptr : dir.c_str();
  plan.null_fd = null_fd.get();
  plan.output_fd = write_end.get();
  plan.die_with_parent = options.die_with_parent;
  plan.parent = ::getpid();
  // Blocked in the parent, so that no handler runs in the child before it reset them all.
  sigset_t all;
  sigset_t old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = vfork_child(&plan);
  const int vfork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return unavailable("spawn " + argv[0] + ": vfork: " + std::strerror(vfork_errno));
  // The child made itself a group leader before execve, and a real vfork holds this thread
  // until then. Where vfork is a plain fork (ThreadSanitizer replaces it), this thread may run
  // first, and a group signal sent at once would miss the child: make the group here too. It
  // fails harmlessly (EACCES) once the child has exec'd.
  (void)::setpgid(pid, pid);
  if (plan.step != nullptr) {
    // The child has exited (127) without running the program: reap it here, it is ours.
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const std::string what = std::string(plan.step) + ": " + std::strerror(plan.error);
    if (plan.error == ENOENT && std::string_view(plan.step) == "execve") {
      return not_found("spawn " + argv[0] + ": " + what);
    }
    return unavailable("spawn " + argv[0] + ": " + what);
  }
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
  SpawnedProcess out;
  out.pid = pid;
  out.output = std::move(read_end);
  return out;
}

void signal_group(pid_t pid, int sig) {
  // posix_spawn has made the child its own group leader before it returns (glibc's spawn
  // waits for the exec), so the group always exists while the child is unreaped. There is no
  // fallback to kill(pid): a failing group kill means the caller broke the rule above.
  NODUS_CHECK_GT(pid, 0) << "only a live, unreaped instance is signalled (a reaped one has pid 0, "
                            "and its number may already belong to a stranger); signal "
                         << sig;
  (void)::kill(-pid, sig);
}

ReapedChild reap_one_child(const std::function<void(pid_t)>& before_reap) {
  siginfo_t info{};
  if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return {};
  ReapedChild out;
  out.pid = info.si_pid;
  if (before_reap) before_reap(out.pid);
  // Only this thread reaps, so the peeked child is still there to be reaped.
  if (::waitpid(out.pid, &out.wait_status, WNOHANG) != out.pid) return {};
  return out;
}

ProcessStats read_process_stats(pid_t pid) {
  ProcessStats stats;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name is in parentheses and may contain spaces: parse after the last ')'.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return stats;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  // Fields after the name start at field 3 (state); utime is 14, stime 15, rss 24.
  uint64_t utime = 0, stime = 0, rss_pages = 0;
  for (int i = 3; i <= 24 && (fields >> f); ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
    if (i == 24) rss_pages = std::stoull(f);
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  stats.cpu_s = static_cast<double>(utime + stime) / ticks;
  stats.rss_bytes = rss_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  return stats;
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "nodus";
  return std::string(buf, static_cast<size_t>(n));
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = ::sigdescr_np(sig);
    return "signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "status " + std::to_string(status);
}

}  // namespace nodus::kernel
