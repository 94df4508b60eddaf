#include "kernel/process/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "kernel/process/process_for_test.h"

namespace nodus::kernel {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Goal: a spawned child leads its own process group and its stdout+stderr reach the pipe.
TEST(ProcessTest, SpawnOwnGroupAndCapturesOutput) {
  auto p = spawn_process({"/bin/sh", "-c", "echo out; echo err >&2; ps -o pgid= -p $$"},
                         {"PATH=/usr/bin:/bin"});
  ASSERT_TRUE(p.ok()) << p.status().message();
  const std::string out = read_all(p->output.get());
  int status = 0;
  ASSERT_EQ(::waitpid(p->pid, &status, 0), p->pid);
  EXPECT_EQ(describe_wait_status(status), "exit 0");
  EXPECT_THAT(out, ::testing::HasSubstr("out\n"));
  EXPECT_THAT(out, ::testing::HasSubstr("err\n"));
  EXPECT_THAT(out, ::testing::HasSubstr(std::to_string(p->pid)));  // pgid == pid
}

// Goal: signal_group reaches the child, and the wait status is described with the signal.
TEST(ProcessTest, SignalGroupKillsChild) {
  auto p = spawn_process({"/bin/sleep", "30"}, {});
  ASSERT_TRUE(p.ok());
  // Right after posix_spawn the child may not have exec'd yet; wait for it to have memory.
  ProcessStats stats;
  for (int i = 0; i < 200 && stats.rss_bytes == 0; ++i) {
    stats = read_process_stats(p->pid);
    if (stats.rss_bytes == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(stats.rss_bytes, 0u);
  signal_group(p->pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(p->pid, &status, 0), p->pid);
  EXPECT_THAT(describe_wait_status(status), ::testing::StartsWith("signal 9"));
}

// Goal: reap_one_child hands over an exited child while it is still an unreaped zombie (so
// its pid and group cannot be anyone else's yet), and a group kill at that moment still
// reaches the helper the child left behind.
TEST(ProcessTest, ReapOneChildSignalsBeforeReaping) {
  auto p = spawn_process({"/bin/sh", "-c", "sleep 30 & echo $!; exit 3"}, {});
  ASSERT_TRUE(p.ok()) << p.status().message();
  const pid_t helper = static_cast<pid_t>(std::stol(read_all(p->output.get())));
  ASSERT_GT(helper, 0);
  ReapedChild reaped;
  char state_at_callback = '?';
  for (int i = 0; i < 500 && reaped.pid == 0; ++i) {
    reaped = reap_one_child([&](pid_t pid) {
      state_at_callback = proc_state(pid);
      signal_group(pid, SIGKILL);
    });
    if (reaped.pid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(reaped.pid, p->pid);
  EXPECT_EQ(describe_wait_status(reaped.wait_status), "exit 3");
  EXPECT_EQ(state_at_callback, 'Z') << "the callback ran after the child was reaped";
  // The helper got the SIGKILL; re-parented elsewhere, it is gone or a zombie of its new parent.
  EXPECT_TRUE(gone_within(helper, std::chrono::seconds(5)))
      << "helper " << helper << " survived the group kill";
  EXPECT_EQ(reap_one_child(nullptr).pid, 0);  // nothing else to reap
}

// Goal: a binary that does not exist is an error naming it, not a crash.
TEST(ProcessTest, MissingBinaryIsError) {
  auto p = spawn_process({"/nonexistent/nodus"}, {});
  if (p.ok()) {  // glibc may report exec failure as exit 127 instead
    int status = 0;
    ::waitpid(p->pid, &status, 0);
    EXPECT_EQ(describe_wait_status(status), "exit 127");
  } else {
    EXPECT_THAT(p.status().message(), ::testing::HasSubstr("/nonexistent/nodus"));
  }
}

}  // namespace
}  // namespace nodus::kernel
