#include "kernel/process/child_watcher.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nodus/check.h"

namespace nodus::kernel {

bool ChildWatcher::Child::signal(int sig) {
  std::lock_guard lock(mu_);
  if (reaped_) return false;
  signal_group(pid_, sig);
  return true;
}

bool ChildWatcher::Child::reaped() const {
  std::lock_guard lock(mu_);
  return reaped_;
}

bool ChildWatcher::Child::wait_reaped(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return released_; });
}

ChildWatcher::ChildWatcher() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  NODUS_CHECK_GE(wake_fd_.get(), 0) << "eventfd: " << std::strerror(errno);
  thread_ = std::thread([this] { run(); });
}

ChildWatcher::~ChildWatcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  // Whoever owned these is gone, so nobody waits for them: kill and reap, never leave them.
  for (const auto& child : children_) {
    std::lock_guard lock(child->mu_);
    signal_group(child->pid_, SIGKILL);
    int status = 0;
    while (::waitpid(child->pid_, &status, 0) < 0 && errno == EINTR) {
    }
    child->reaped_ = true;
    child->released_ = true;
    child->cv_.notify_all();
  }
}

Result<std::shared_ptr<ChildWatcher::Child>> ChildWatcher::watch(
    SpawnedProcess process, std::unique_ptr<RotatingLog> log,
    std::function<void(int wait_status)> on_reaped) {
  // The child is unreaped, so its pid cannot have been reused: the pidfd is surely its own.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, process.pid, 0));
  if (pidfd < 0) {
    const std::string why = std::strerror(errno);
    signal_group(process.pid, SIGKILL);
    (void)::waitpid(process.pid, nullptr, 0);
    return unavailable("pidfd_open of pid " + std::to_string(process.pid) + ": " + why);
  }
  auto child = std::make_shared<Child>();
  child->pid_ = process.pid;
  child->pidfd_ = UniqueFd(pidfd);
  child->output_ = std::move(process.output);
  child->log_ = std::move(log);
  child->on_reaped_ = std::move(on_reaped);
  {
    std::lock_guard lock(mu_);
    children_.push_back(child);
  }
  wake();
  return child;
}

size_t ChildWatcher::watched() const {
  std::lock_guard lock(mu_);
  return children_.size();
}

void ChildWatcher::wake() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

void ChildWatcher::drain_output(Child& child, bool final) {
  if (child.output_.get() < 0) return;
  char buf[16 * 1024];
  // Bounded per wake-up, so one chatty child cannot starve the others' reaping.
  for (int round = 0; round < 16; ++round) {
    const ssize_t n = ::read(child.output_.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // 0: every writer closed it (the child and what it left behind are gone).
      if (n == 0) child.output_.reset();
      break;
    }
    child.partial_line_.append(buf, static_cast<size_t>(n));
    const size_t end = child.partial_line_.rfind('\n');
    const bool flush_all = child.partial_line_.size() > kPartialLineBytesMax;
    const size_t upto =
        flush_all ? child.partial_line_.size() : (end == std::string::npos ? 0 : end + 1);
    // A failing log (disk full) loses output, never the child or the watcher.
    if (upto > 0 && child.log_) {
      (void)child.log_->append_lines(std::string_view(child.partial_line_).substr(0, upto));
    }
    child.partial_line_.erase(0, upto);
  }
  if (final && !child.partial_line_.empty()) {
    if (child.log_) (void)child.log_->append(child.partial_line_ + "\n");
    child.partial_line_.clear();
  }
}

void ChildWatcher::finish(const std::shared_ptr<Child>& child) {
  drain_output(*child, true);
  int status = 0;
  {
    std::lock_guard lock(child->mu_);
    // Helpers the program left in its group go with it, while its unreaped pid still pins the
    // group id.
    signal_group(child->pid_, SIGKILL);
    // Reaped by pid: only this child, never a wait someone else in the process is making.
    while (::waitpid(child->pid_, &status, 0) < 0 && errno == EINTR) {
    }
    child->reaped_ = true;
  }
  child->output_.reset();
  {
    std::lock_guard lock(mu_);
    std::erase(children_, child);
  }
  {
    // Waiters learn of the reap only now, when the watcher holds nothing of the child.
    std::lock_guard lock(child->mu_);
    child->released_ = true;
    child->cv_.notify_all();
  }
  if (child->on_reaped_) child->on_reaped_(status);
}

void ChildWatcher::run() {
  std::vector<pollfd> fds;
  std::vector<std::shared_ptr<Child>> polled;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      polled = children_;
    }
    fds.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    for (const auto& child : polled) {
      fds.push_back({child->pidfd_.get(), POLLIN, 0});
      fds.push_back({child->output_.get(), POLLIN, 0});  // a negative fd is ignored by poll
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      NODUS_CHECK_EQ(errno, EINTR) << "poll over pidfds and pipes: " << std::strerror(errno);
      continue;
    }
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      (void)!::read(wake_fd_.get(), &count, sizeof(count));
    }
    for (size_t i = 0; i < polled.size(); ++i) {
      if (fds[2 + 2 * i].revents != 0) drain_output(*polled[i], false);
      if (fds[1 + 2 * i].revents != 0) finish(polled[i]);
    }
  }
}

}  // namespace nodus::kernel
