// FakeProcesses keeps the contract of nodus::Processes: callbacks once, on the executor, after
// the end is confirmed; restart policy and refusals as the kernel's.
#include "nodus/testing/fake_processes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "nodus/testing/manual_executor.h"

namespace nodus::testing {
namespace {
using std::chrono::milliseconds;

class FakeProcessesTest : public ::testing::Test {
 protected:
  ProcessSpec spec(std::string name) {
    ProcessSpec s;
    s.name = std::move(name);
    s.argv = {"/usr/bin/geth", "--dev"};
    return s;
  }
  ProcessExitCallback record() {
    return [this](const ProcessExit& e) {
      EXPECT_TRUE(executor_.in_executor());
      exits_.push_back(e);
    };
  }
  ManualExecutor executor_;
  FakeProcesses procs_{executor_, executor_};
  std::vector<ProcessExit> exits_;
};

// Goal: starts are recorded; a scripted exit reaches the callback once, on the executor, and
// not inside the call that scripted it.
TEST_F(FakeProcessesTest, ScriptedExitCallsBackOnce) {
  auto id = procs_.start(spec("geth"), record());
  ASSERT_TRUE(id.ok());
  ASSERT_EQ(procs_.starts().size(), 1u);
  EXPECT_EQ(procs_.starts()[0].spec.argv[1], "--dev");
  ASSERT_TRUE(procs_.exit(*id, 2).ok());
  EXPECT_TRUE(exits_.empty()) << "the end is confirmed on the executor, later";
  EXPECT_EQ(procs_.exit(*id, 2).code(), StatusCode::kFailedPrecondition);
  executor_.run_until_idle();
  ASSERT_EQ(exits_.size(), 1u);
  EXPECT_EQ(exits_[0].exit_code, 2);
  EXPECT_EQ(exits_[0].name, "geth");
  EXPECT_FALSE(procs_.info(*id).has_value());
  executor_.advance(milliseconds(10000));
  EXPECT_EQ(exits_.size(), 1u);
}

// Goal: stop() is recorded and confirmed on the executor; a program ignoring SIGTERM ends
// with SIGKILL only after its grace.
TEST_F(FakeProcessesTest, StopAndGrace) {
  auto polite = procs_.start(spec("polite"), record());
  ProcessSpec s = spec("stubborn");
  s.stop_grace = milliseconds(500);
  auto stubborn = procs_.start(s, record());
  ASSERT_TRUE(polite.ok() && stubborn.ok());
  procs_.ignore_sigterm(*stubborn);
  ASSERT_TRUE(procs_.stop(*polite).ok());
  ASSERT_TRUE(procs_.stop(*stubborn).ok());
  EXPECT_EQ(procs_.stops().size(), 2u);
  executor_.run_until_idle();
  ASSERT_EQ(exits_.size(), 1u);
  EXPECT_EQ(exits_[0].signal, SIGTERM);
  EXPECT_TRUE(exits_[0].stopped);
  EXPECT_EQ(procs_.info(*stubborn)->state, ProcessState::kStopping);
  executor_.advance(milliseconds(499));
  EXPECT_EQ(exits_.size(), 1u);
  executor_.advance(milliseconds(1));
  ASSERT_EQ(exits_.size(), 2u);
  EXPECT_EQ(exits_[1].signal, SIGKILL);
  EXPECT_EQ(procs_.stop(*stubborn).code(), StatusCode::kNotFound);
}

// Goal: on-failure restarts after the nominal backoff and gives up at the crash-loop limit.
TEST_F(FakeProcessesTest, RestartPolicyAndCrashLoop) {
  ProcessSpec s = spec("crasher");
  s.restart = RestartPolicy::kOnFailure;
  s.backoff_initial = milliseconds(100);
  s.backoff_max = milliseconds(1000);
  s.crash_loop_ends = 3;
  auto id = procs_.start(s, record());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(procs_.kill(*id, SIGSEGV).ok());
  executor_.run_until_idle();
  EXPECT_EQ(procs_.info(*id)->state, ProcessState::kBackoff);
  executor_.advance(milliseconds(100));
  ASSERT_EQ(procs_.starts().size(), 2u);
  ASSERT_TRUE(procs_.exit(*id, 1).ok());
  executor_.run_until_idle();
  executor_.advance(milliseconds(199));
  EXPECT_EQ(procs_.starts().size(), 2u) << "the second delay doubles";
  executor_.advance(milliseconds(1));
  ASSERT_EQ(procs_.starts().size(), 3u);
  EXPECT_TRUE(exits_.empty());
  ASSERT_TRUE(procs_.exit(*id, 1).ok());
  executor_.run_until_idle();
  ASSERT_EQ(exits_.size(), 1u);
  EXPECT_TRUE(exits_[0].crash_loop);
  EXPECT_EQ(exits_[0].restarts, 2u);
}

// Goal: stop() between runs ends the program without another start; exit 0 under on-failure
// is final.
TEST_F(FakeProcessesTest, StopInBackoffAndCleanExit) {
  ProcessSpec s = spec("a");
  s.restart = RestartPolicy::kAlways;
  auto id = procs_.start(s, record());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(procs_.exit(*id, 0).ok());
  executor_.run_until_idle();
  ASSERT_TRUE(procs_.stop(*id).ok());
  EXPECT_TRUE(exits_.empty()) << "never inside the plugin's own call";
  executor_.advance(milliseconds(10000));
  ASSERT_EQ(exits_.size(), 1u);
  EXPECT_TRUE(exits_[0].stopped);
  EXPECT_EQ(procs_.starts().size(), 1u);

  ProcessSpec b = spec("b");
  b.restart = RestartPolicy::kOnFailure;
  auto clean = procs_.start(b, record());
  ASSERT_TRUE(clean.ok());
  ASSERT_TRUE(procs_.exit(*clean, 0).ok());
  executor_.run_until_idle();
  ASSERT_EQ(exits_.size(), 2u);
  EXPECT_EQ(exits_[1].exit_code, 0);
}

// Goal: the same refusals as the kernel: missing program (scripted), taken name, bad spec,
// and the per-plugin bound.
TEST_F(FakeProcessesTest, Refusals) {
  procs_.set_missing("/usr/bin/geth");
  auto missing = procs_.start(spec("geth"), record());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), ::testing::HasSubstr("/usr/bin/geth"));
  ProcessSpec other = spec("x");
  other.argv = {"/bin/sleep"};
  ASSERT_TRUE(procs_.start(other, record()).ok());
  EXPECT_EQ(procs_.start(other, record()).status().code(), StatusCode::kAlreadyExists);
  ProcessSpec bad = other;
  bad.name = "bad name";
  EXPECT_EQ(procs_.start(bad, record()).status().code(), StatusCode::kInvalidArgument);
  for (size_t i = 1; i < Processes::kProcessesPerPluginMax; ++i) {
    other.name = "p" + std::to_string(i);
    ASSERT_TRUE(procs_.start(other, record()).ok()) << i;
  }
  other.name = "over";
  EXPECT_EQ(procs_.start(other, record()).status().code(), StatusCode::kResourceExhausted);
}

// Goal: the plugin's stop (shut_down) ends what still runs and no callback runs after it.
TEST_F(FakeProcessesTest, ShutDownDropsCallbacks) {
  auto id = procs_.start(spec("geth"), record());
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(procs_.exit(*id, 1).ok());  // queued, not yet confirmed
  procs_.shut_down();
  executor_.run_until_idle();
  EXPECT_TRUE(exits_.empty());
  EXPECT_EQ(procs_.stopped_at_shutdown(), std::vector<ProcessId>{*id});
  EXPECT_TRUE(procs_.list().empty());
}

}  // namespace
}  // namespace nodus::testing
