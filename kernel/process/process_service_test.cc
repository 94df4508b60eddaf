// ProcessService with real programs: spawn, log files, stop with grace, restart policy,
// refusals, and what happens when the plugin or the whole instance goes away.
#include "kernel/process/process_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "kernel/process/process.h"
#include "kernel/process/process_for_test.h"
#include "kernel/runtime/executor.h"
#include "kernel/runtime/temp_dir_for_test.h"
#include "nodus/testing/capture_logger.h"

namespace nodus::kernel {
namespace {
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using ::testing::HasSubstr;

// Generous: these bound a wait for something that must happen, they decide no pass by speed.
constexpr auto kWait = std::chrono::seconds(30);

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_contains_within(const fs::path& file, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (slurp(file).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

class ProcessServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    executor_.start();
    service_ = make_service();
  }
  void TearDown() override {
    destroy_service();
    executor_.stop();
  }
  std::unique_ptr<ProcessService> make_service() {
    return std::make_unique<ProcessService>(executor_, watcher_, log_, "io.nodus.test",
                                            dir_.path() / "plugin");
  }
  // The service is destroyed on the executor, as the host does at the plugin's stop().
  void destroy_service() {
    ASSERT_TRUE(executor_.run_sync([this] { service_.reset(); }, kWait).ok());
  }

  // start() on the executor; exits are queued for next_exit().
  Result<ProcessId> start(ProcessSpec spec) {
    Result<ProcessId> out = internal_error("not run");
    Status ran = executor_.run_sync(
        [&] {
          out = service_->start(std::move(spec), [this](const ProcessExit& e) {
            EXPECT_TRUE(executor_.in_executor());
            std::lock_guard lock(mu_);
            exits_.push_back(e);
            cv_.notify_all();
          });
        },
        kWait);
    if (!ran.ok()) return ran;
    return out;
  }
  Status stop(ProcessId id) {
    Status out;
    Status ran = executor_.run_sync([&] { out = service_->stop(id); }, kWait);
    return ran.ok() ? out : ran;
  }
  std::optional<ProcessInfo> info(ProcessId id) {
    std::optional<ProcessInfo> out;
    (void)executor_.run_sync([&] { out = service_->info(id); }, kWait);
    return out;
  }
  // Waits for the n-th exit callback (1-based).
  std::optional<ProcessExit> wait_exit(size_t n = 1) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [&] { return exits_.size() >= n; })) return std::nullopt;
    return exits_[n - 1];
  }
  size_t exit_count() {
    std::lock_guard lock(mu_);
    return exits_.size();
  }
  ProcessSpec spec(std::string name, std::vector<std::string> argv) {
    ProcessSpec s;
    s.name = std::move(name);
    s.argv = std::move(argv);
    return s;
  }

  TempDir dir_;
  AsioExecutor executor_{"process-test"};
  std::shared_ptr<testing::LogLines> lines_ = std::make_shared<testing::LogLines>();
  testing::CaptureLogger log_{"io.nodus.test", lines_};
  ChildWatcher watcher_;
  std::unique_ptr<ProcessService> service_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<ProcessExit> exits_;
};

// Goal: argv, env and working directory reach the program, its stdout+stderr land in the
// default log file, and the exit callback reports the exit code once.
TEST_F(ProcessServiceTest, RunsProgramWithArgvEnvDirAndLog) {
  const fs::path work = dir_.path() / "work";
  fs::create_directories(work);
  ProcessSpec s =
      spec("hello", {"sh", "-c", "echo \"arg=$0 foo=$FOO\"; pwd; echo oops >&2; exit 3", "first"});
  s.env = {{"FOO", "bar"}};
  s.working_dir = work;
  auto id = start(s);
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto exit = wait_exit();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 3);
  EXPECT_FALSE(exit->signal.has_value());
  EXPECT_FALSE(exit->stopped);
  EXPECT_EQ(exit->name, "hello");
  const std::string log = slurp(dir_.path() / "plugin" / "hello.log");
  EXPECT_THAT(log, HasSubstr("arg=first foo=bar\n"));
  EXPECT_THAT(log, HasSubstr(work.string() + "\n"));
  EXPECT_THAT(log, HasSubstr("oops\n"));
  EXPECT_FALSE(info(*id).has_value()) << "a finished program is forgotten";
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(exit_count(), 1u);
}

// Goal: the program runs in the instance's cgroup (a child inherits it), in its own process
// group, with the instance's process as its parent.
TEST_F(ProcessServiceTest, ProgramInheritsInstanceCgroup) {
  auto id = start(spec("sleeper", {"/bin/sleep", "30"}));
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto i = info(*id);
  ASSERT_TRUE(i.has_value());
  const pid_t pid = static_cast<pid_t>(i->pid);
  const std::string mine = slurp("/proc/self/cgroup");
  ASSERT_FALSE(mine.empty());
  EXPECT_EQ(slurp("/proc/" + std::to_string(pid) + "/cgroup"), mine);
  EXPECT_EQ(::getpgid(pid), pid);
  // Field 4 of /proc/<pid>/stat, after the state: the parent.
  std::istringstream stat(
      slurp("/proc/" + std::to_string(pid) + "/stat")
          .substr(slurp("/proc/" + std::to_string(pid) + "/stat").rfind(')') + 2));
  char state = 0;
  pid_t parent = 0;
  stat >> state >> parent;
  EXPECT_EQ(parent, ::getpid());
  ASSERT_TRUE(stop(*id).ok());
  ASSERT_TRUE(wait_exit().has_value());
}

// Goal: the log file rotates by size and keeps log_files_kept old files.
TEST_F(ProcessServiceTest, LogRotatesBySize) {
  ProcessSpec s =
      spec("chatty", {"/bin/sh", "-c",
                      "i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx;"
                      " i=$((i+1)); done"});
  s.log_file = dir_.path() / "logs" / "chatty.log";
  fs::create_directories(s.log_file.parent_path());
  s.log_size_bytes_max = 1024;
  s.log_files_kept = 2;
  ASSERT_TRUE(start(s).ok());
  auto exit = wait_exit();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_LE(fs::file_size(s.log_file), 1024u);
  EXPECT_TRUE(fs::exists(s.log_file.string() + ".1"));
  EXPECT_TRUE(fs::exists(s.log_file.string() + ".2"));
  EXPECT_FALSE(fs::exists(s.log_file.string() + ".3"));
  EXPECT_THAT(slurp(s.log_file), HasSubstr("line-199-"));
}

// Goal: stop() ends a program that honours SIGTERM, and the callback says it was stopped.
TEST_F(ProcessServiceTest, StopSendsSigterm) {
  auto id = start(spec("sleeper", {"/bin/sleep", "30"}));
  ASSERT_TRUE(id.ok());
  const pid_t pid = static_cast<pid_t>(info(*id)->pid);
  // Both in one executor task, so that the end cannot be handled in between.
  Status first;
  Status second;
  ASSERT_TRUE(executor_
                  .run_sync(
                      [&] {
                        first = service_->stop(*id);
                        second = service_->stop(*id);
                      },
                      kWait)
                  .ok());
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_TRUE(second.ok()) << "stopping twice is fine: " << second.message();
  auto exit = wait_exit();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGTERM);
  EXPECT_TRUE(exit->stopped);
  EXPECT_EQ(proc_state(pid), '?') << "the callback ran before the program was reaped";
  EXPECT_EQ(stop(*id).code(), StatusCode::kNotFound);
}

// Goal: a program that ignores SIGTERM is killed with SIGKILL after its grace, and the
// callback comes only then.
TEST_F(ProcessServiceTest, SigkillAfterGrace) {
  ProcessSpec s =
      spec("stubborn", {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"});
  s.stop_grace = milliseconds(300);
  auto id = start(s);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(file_contains_within(dir_.path() / "plugin" / "stubborn.log", "ready"));
  ASSERT_TRUE(stop(*id).ok());
  auto exit = wait_exit();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->signal, SIGKILL);
  EXPECT_TRUE(exit->stopped);
  EXPECT_TRUE(lines_->contains("did not end within its stop grace"));
}

// Goal: on-failure restarts a failing program with backoff until the crash-loop limit, then
// reports one final end.
TEST_F(ProcessServiceTest, OnFailureRestartsUntilCrashLoop) {
  const fs::path runs = dir_.path() / "runs";
  ProcessSpec s = spec("crasher", {"/bin/sh", "-c", "echo run >> " + runs.string() + "; exit 7"});
  s.restart = RestartPolicy::kOnFailure;
  s.backoff_initial = milliseconds(5);
  s.backoff_max = milliseconds(20);
  s.crash_loop_ends = 3;
  ASSERT_TRUE(start(s).ok());
  auto exit = wait_exit();
  ASSERT_TRUE(exit.has_value());
  EXPECT_TRUE(exit->crash_loop);
  EXPECT_EQ(exit->exit_code, 7);
  EXPECT_EQ(exit->restarts, 2u);
  EXPECT_EQ(slurp(runs), "run\nrun\nrun\n");
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(exit_count(), 1u);
}

// Goal: on-failure does not restart after exit 0; always does, until stop().
TEST_F(ProcessServiceTest, RestartPolicies) {
  ProcessSpec ok = spec("fine", {"/bin/true"});
  ok.restart = RestartPolicy::kOnFailure;
  ASSERT_TRUE(start(ok).ok());
  auto first = wait_exit();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->exit_code, 0);
  EXPECT_EQ(first->restarts, 0u);

  const fs::path runs = dir_.path() / "always-runs";
  ProcessSpec always = spec("again", {"/bin/sh", "-c", "echo run >> " + runs.string()});
  always.restart = RestartPolicy::kAlways;
  always.backoff_initial = milliseconds(5);
  always.backoff_max = milliseconds(10);
  always.crash_loop_ends = 1000;
  auto id = start(always);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(file_contains_within(runs, "run\nrun\nrun\n"));
  ASSERT_TRUE(stop(*id).ok());
  auto last = wait_exit(2);
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->stopped);
  EXPECT_GE(last->restarts, 2u);
}

// Goal: a program that does not exist or cannot be executed is refused with its path, before
// anything starts; so are a taken name and a missing working directory.
TEST_F(ProcessServiceTest, RefusesBeforeStarting) {
  auto missing = start(spec("ghost", {"/nonexistent/geth", "--x"}));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/geth"));

  const fs::path plain = dir_.path() / "not-executable";
  std::ofstream(plain) << "#!/bin/sh\n";
  ::chmod(plain.c_str(), 0644);
  auto denied = start(spec("plain", {plain.string()}));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), HasSubstr(plain.string()));

  auto not_in_path = start(spec("nopath", {"no-such-program-anywhere"}));
  ASSERT_FALSE(not_in_path.ok());
  EXPECT_THAT(not_in_path.status().message(), HasSubstr("no-such-program-anywhere"));

  ProcessSpec bad_dir = spec("baddir", {"/bin/true"});
  bad_dir.working_dir = dir_.path() / "nowhere";
  auto no_dir = start(bad_dir);
  ASSERT_FALSE(no_dir.ok());
  EXPECT_THAT(no_dir.status().message(), HasSubstr("nowhere"));

  auto id = start(spec("one", {"/bin/sleep", "30"}));
  ASSERT_TRUE(id.ok());
  auto twice = start(spec("one", {"/bin/sleep", "30"}));
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(watcher_.watched(), 1u) << "a refused start spawned something";
  EXPECT_EQ(start(spec("", {"/bin/true"})).status().code(), StatusCode::kInvalidArgument);
}

// Goal: at most kProcessesPerPluginMax programs per plugin; the next one is RESOURCE_EXHAUSTED.
TEST_F(ProcessServiceTest, BoundPerPlugin) {
  for (size_t i = 0; i < Processes::kProcessesPerPluginMax; ++i) {
    ASSERT_TRUE(start(spec("s" + std::to_string(i), {"/bin/sleep", "30"})).ok()) << i;
  }
  auto over = start(spec("one-too-many", {"/bin/sleep", "30"}));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(over.status().message(), HasSubstr("one-too-many"));
}

// Goal: when the plugin stops (the service is destroyed), its programs are stopped and reaped
// before that returns, and no callback runs any more.
TEST_F(ProcessServiceTest, PluginStopEndsEveryProgram) {
  ProcessSpec stubborn =
      spec("stubborn", {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"});
  stubborn.stop_grace = milliseconds(200);
  auto a = start(stubborn);
  auto b = start(spec("sleeper", {"/bin/sleep", "30"}));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(file_contains_within(dir_.path() / "plugin" / "stubborn.log", "ready"));
  const pid_t pa = static_cast<pid_t>(info(*a)->pid);
  const pid_t pb = static_cast<pid_t>(info(*b)->pid);
  destroy_service();
  EXPECT_EQ(proc_state(pa), '?');
  EXPECT_EQ(proc_state(pb), '?');
  EXPECT_EQ(watcher_.watched(), 0u);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(exit_count(), 0u);
  service_ = make_service();  // TearDown destroys it again
}

// Goal: an instance killed with SIGKILL (no destructor, no stop) leaves no program behind.
TEST(ProcessServiceOrphanTest, InstanceKilledLeavesNoOrphan) {
  TempDir dir;
  const fs::path pid_file = dir.path() / "orphan.pid";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    env.emplace_back(*e);
  // The "instance": a small program (orphan_helper.cc) that starts a long program through
  // ProcessService and writes its pid.
  auto helper = spawn_process(
      {PROCESS_ORPHAN_HELPER, pid_file.string(), (dir.path() / "data").string()}, env);
  ASSERT_TRUE(helper.ok()) << helper.status().message();
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!fs::exists(pid_file) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(10));
  ASSERT_TRUE(fs::exists(pid_file)) << "the helper instance never started its program";
  const pid_t program = static_cast<pid_t>(std::stol(slurp(pid_file)));
  ASSERT_GT(program, 0);
  ASSERT_NE(proc_state(program), '?');
  ::kill(helper->pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(helper->pid, &status, 0), helper->pid);
  EXPECT_TRUE(gone_within(program, std::chrono::seconds(30)))
      << "program " << program << " outlived its instance";
}

}  // namespace
}  // namespace nodus::kernel
