#include "kernel/supervisor/exit_cause.h"

#include <signal.h>

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

// A state file as the isolation plugin writes it, with its cgroup and OOM counter files made
// in a temporary tree laid out like a cgroup v2 hierarchy.
class ExitCauseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    cgroup_ = dir_.path() / "cgroup" / "nodus" / "n-0";
    std::filesystem::create_directories(cgroup_);
    events_ = cgroup_ / "memory.events";
    write(events_, "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n");
    IsolationState state;
    state.pid = 4242;
    state.node = "n-0";
    state.mode = "v2";
    state.driver = "v2";
    state.cgroups = {{"unified", cgroup_.string()}};
    state.oom_events_file = events_.string();
    state.oom_kills_at_start = 1;
    state_file_ = dir_.path() / kIsolationStateFile;
    write(state_file_, serialize_isolation_state(state));
  }

  static void write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream(file, std::ios::trunc) << text;
  }

  TempDir dir_;
  std::filesystem::path cgroup_;
  std::filesystem::path events_;
  std::filesystem::path state_file_;
};

// Goal: a SIGKILL with more oom_kill events than at the start is reported as an OOM kill.
TEST_F(ExitCauseTest, OomKillFromTheSharedStateFormat) {
  const ExitReport r = classify_exit(128 + SIGKILL, state_file_);
  EXPECT_EQ(r.cause, ExitCause::kOomKilled);
  EXPECT_EQ(r.oom_kills, 1u);
  EXPECT_EQ(r.detail, "OOM-killed: oom_kill 2 in " + events_.string());
}

// Goal: a SIGKILL without new OOM events stays a plain signal.
TEST_F(ExitCauseTest, SigkillWithoutNewOomEvents) {
  write(events_, "oom_kill 1\n");
  const ExitReport r = classify_exit(128 + SIGKILL, state_file_);
  EXPECT_EQ(r.cause, ExitCause::kSignaled);
  EXPECT_TRUE(r.detail.empty()) << r.detail;
}

// Goal: a corrupt state file is not mistaken for "no isolation": the report names file and key.
TEST_F(ExitCauseTest, CorruptStateFileIsReported) {
  write(state_file_, "{\"pid\":\"x\"}");
  const ExitReport r = classify_exit(128 + SIGKILL, state_file_);
  EXPECT_EQ(r.cause, ExitCause::kSignaled);
  EXPECT_EQ(r.detail, state_file_.string() + ": key 'pid': expected an integer");
  EXPECT_TRUE(state_cgroups(state_file_).empty());
}

// Goal: the cgroups a crashed instance left are the ones the state file names, and go.
TEST_F(ExitCauseTest, RemovesTheNamedCgroups) {
  const auto cgroups = state_cgroups(state_file_);
  ASSERT_EQ(cgroups.size(), 1u);
  EXPECT_EQ(cgroups.at("unified"), cgroup_);
  std::filesystem::remove(events_);  // rmdir needs an empty directory outside a real cgroupfs
  EXPECT_EQ(remove_state_cgroups(state_file_), 1);
  EXPECT_FALSE(std::filesystem::exists(cgroup_));
}

// Goal: without a state file an instance was not isolated, and nothing is reported about it.
TEST_F(ExitCauseTest, NoStateFile) {
  std::filesystem::remove(state_file_);
  const ExitReport r = classify_exit(128 + SIGKILL, state_file_);
  EXPECT_EQ(r.cause, ExitCause::kSignaled);
  EXPECT_THAT(r.detail, ::testing::IsEmpty());
}

}  // namespace
}  // namespace nodus::kernel
