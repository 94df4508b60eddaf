// The Control API of a real `nodus up` is closed to everyone but root and the supervisor's
// user (docs/security.md): private run directory and socket, no plaintext TCP off loopback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "supervisor_fixture.h"

namespace nodus::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using ::testing::HasSubstr;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Goal: a run directory left world-writable is 0700 once `up` runs, its control socket is
// 0600, and the supervisor's own user still drives the cluster through it.
TEST_F(SupervisorTest, RunDirectoryAndControlSocketAreOwnerOnly) {
  write_profile(spec_of(1));
  fs::create_directories(run_dir_);
  ASSERT_EQ(::chmod(run_dir_.c_str(), 0777), 0);
  start_up();
  ASSERT_TRUE(wait_all_ready(1)) << up_log();
  EXPECT_EQ(mode_of(run_dir_), 0700u);
  EXPECT_EQ(mode_of(run_dir_ / "control.sock"), 0600u);
  EXPECT_EQ(nodus({"status", "--run-dir", run_dir_.string()}).exit_code, 0);
}

// Goal: another user (nobody, through setpriv) cannot stop the cluster, and it keeps running.
TEST_F(SupervisorTest, AnotherUserCannotStopTheCluster) {
  ASSERT_EQ(::geteuid(), 0u) << "this test runs a verb as uid 65534, which needs root";
  write_profile(spec_of(1));
  start_up();
  ASSERT_TRUE(wait_all_ready(1)) << up_log();
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups", kNodus};
  auto run_as_nobody = [&](std::vector<std::string> args) {
    args.insert(args.begin(), as_nobody.begin(), as_nobody.end());
    return run(args);
  };
  // Without this, a nobody that cannot run nodus at all would pass the test.
  ASSERT_EQ(run_as_nobody({"version"}).exit_code, 0) << "uid 65534 cannot run " << kNodus;
  RunResult r = run_as_nobody({"down", "--run-dir", run_dir_.string()});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nodus({"status", "--run-dir", run_dir_.string()}).exit_code, 0) << up_log();
}

// Goal: a plaintext TCP control address off loopback is refused before anything starts,
// naming the address and the way out (mTLS); loopback TCP still works.
TEST_F(SupervisorTest, TcpControlOffLoopbackNeedsMtls) {
  write_profile(spec_of(1));
  RunResult r = nodus({"up", "--profile", profile_.string(), "--control-address", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("control address 0.0.0.0:0 is not a loopback address"));
  EXPECT_THAT(r.err, HasSubstr("mTLS"));
  EXPECT_FALSE(fs::exists(run_dir_ / "control.addr"));
  start_up({"--control-address", "127.0.0.1:0"});
  ASSERT_TRUE(wait_all_ready(1)) << up_log();
}

}  // namespace
}  // namespace nodus::test
