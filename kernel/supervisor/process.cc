#include "kernel/supervisor/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

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

// posix_spawn attributes: own process group, default dispositions, empty mask.
void init_attributes(posix_spawnattr_t& attr) {
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attr, &empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
}

}  // namespace

Result<SpawnedProcess> spawn_process(const std::vector<std::string>& argv,
                                     const std::vector<std::string>& env) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return resource_exhausted(std::string("pipe: ") + std::system_category().message(errno));
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
  posix_spawnattr_t attr;
  init_attributes(attr);
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = env;
  auto cargs = c_strings(args);
  auto cenv = c_strings(envs);
  SpawnedProcess out;
  const int rc = ::posix_spawn(&out.pid, cargs[0], &actions, &attr, cargs.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return unavailable("spawn " + argv[0] + ": " + std::system_category().message(rc));
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
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
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "nodus";
  return std::string(buf.data(), static_cast<size_t>(n));
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
