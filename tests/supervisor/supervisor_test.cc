// `nodus up` and the cluster verbs as operators use them: real processes, signals and sockets.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "supervisor_fixture.h"

namespace nodus::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

std::map<uint32_t, pid_t> pids_of(const std::vector<Row>& rows) {
  std::map<uint32_t, pid_t> out;
  for (const auto& r : rows)
    out[r.index] = r.pid;
  return out;
}

// Goal: kill -9 of one of 4 instances restarts only that one, without restarting the supervisor.
TEST_F(SupervisorTest, KillNineRestartsOnlyThatInstance) {
  write_profile(spec_of(4));
  start_up();
  ASSERT_TRUE(wait_all_ready(4)) << up_log();
  const auto before = pids_of(status());
  ASSERT_EQ(::kill(before.at(2), SIGKILL), 0);
  ASSERT_TRUE(wait_status([&](const std::vector<Row>& rows) {
    return rows.size() == 4 && rows[2].state == "ready" && rows[2].pid != before.at(2);
  })) << up_log();
  const auto rows = status();
  EXPECT_EQ(rows[2].restarts, 1u);
  EXPECT_THAT(rows[2].last_failure, HasSubstr("signal 9"));
  for (uint32_t i : {0u, 1u, 3u}) {
    EXPECT_EQ(rows[i].pid, before.at(i)) << "instance " << i;
    EXPECT_EQ(rows[i].restarts, 0u);
  }
  EXPECT_TRUE(up_->running());
}

// Goal: a SIGSTOPped instance misses heartbeats, is marked unhealthy and is restarted.
TEST_F(SupervisorTest, StoppedInstanceIsUnhealthyThenRestarted) {
  write_profile(spec_of(2));
  start_up();
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  const auto before = pids_of(status());
  ASSERT_EQ(::kill(before.at(1), SIGSTOP), 0);
  ASSERT_TRUE(wait_status([&](const std::vector<Row>& rows) {
    return rows.size() == 2 && rows[1].state == "ready" && rows[1].pid != before.at(1);
  })) << up_log();
  const auto rows = status();
  EXPECT_THAT(rows[1].last_failure, HasSubstr("no heartbeat for"));
  EXPECT_THAT(up_log(), HasSubstr("suptest-1 is unhealthy: no heartbeat for"));
  EXPECT_EQ(rows[0].pid, before.at(0));
}

// Goal: an instance that keeps failing trips the crash-loop breaker and stays failed.
TEST_F(SupervisorTest, CrashLoopTripsBreaker) {
  write_profile(spec_of(1, "start_fails", "io.nodus.test.start-fails"));
  start_up();
  ASSERT_TRUE(wait_status([](const std::vector<Row>& rows) {
    return rows.size() == 1 && rows[0].state == "failed";
  })) << up_log();
  const auto rows = status();
  EXPECT_THAT(rows[0].last_failure, HasSubstr("crash loop: 3 deaths in 60 s"));
  EXPECT_EQ(rows[0].restarts, 2u);  // three runs: the first and two restarts
  EXPECT_TRUE(up_->running());      // not essential: the supervisor stays
}

// Goal: an essential instance that fails for good makes `nodus up` exit non-zero.
TEST_F(SupervisorTest, EssentialFailureExitsNonZero) {
  ProfileSpec spec = spec_of(1, "start_fails", "io.nodus.test.start-fails");
  spec.supervisor =
      "{restart: always, backoff_ms: {initial: 10, max: 20}, crash_loop: {deaths: 2, window_s: "
      "60}, essential: true}";
  write_profile(spec);
  start_up();
  EXPECT_EQ(up_->wait(seconds(20)), 1) << up_log();
  EXPECT_THAT(up_log(), HasSubstr("is essential and failed for good"));
}

// Goal: `nodus scale 6` then `nodus scale 3` changes the live set; ports follow the formula.
TEST_F(SupervisorTest, ScaleUpAndDown) {
  write_profile(spec_of(3));
  start_up();
  ASSERT_TRUE(wait_all_ready(3)) << up_log();
  const auto before = pids_of(status());
  RunResult up6 = nodus({"scale", "6", "--run-dir", run_dir_.string()});
  ASSERT_EQ(up6.exit_code, 0) << up6.err;
  ASSERT_TRUE(wait_all_ready(6)) << up_log();
  auto rows = status();
  for (const auto& r : rows) {
    EXPECT_EQ(r.ports.at("health"), base_port_ + 2 * static_cast<int>(r.index));
    EXPECT_EQ(r.ports.at("peer"), base_port_ + 2 * static_cast<int>(r.index) + 1);
    EXPECT_EQ(http_get(static_cast<uint16_t>(r.ports.at("health")), "/readyz"), 200);
  }
  const pid_t removed = rows[5].pid;
  RunResult down3 = nodus({"scale", "3", "--run-dir", run_dir_.string()});
  ASSERT_EQ(down3.exit_code, 0) << down3.err;
  ASSERT_TRUE(wait_all_ready(3)) << up_log();
  EXPECT_EQ(pids_of(status()), before);
  EXPECT_TRUE(wait_gone(removed, seconds(5)));
}

// `needle` occurrences in `text`.
size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++n;
  return n;
}

// Goal: `nodus scale` changes the static membership (nodus.membership/v1) of every running
// instance: after scaling 3 -> 4 instance 0 sees 4 alive members, after 4 -> 2 it sees
// instances 2 and 3 as left (its /status lists its membership).
TEST_F(SupervisorTest, ScaleChangesEveryInstancesMembership) {
  write_profile(spec_of(3));
  start_up();
  ASSERT_TRUE(wait_all_ready(3)) << up_log();
  const auto health0 = static_cast<uint16_t>(status().at(0).ports.at("health"));
  std::string body;
  ASSERT_EQ(http_get(health0, "/status", &body), 200);
  EXPECT_EQ(count_of(body, "\"state\":\"alive\""), 3u) << body;

  RunResult up4 = nodus({"scale", "4", "--run-dir", run_dir_.string()});
  ASSERT_EQ(up4.exit_code, 0) << up4.err;
  ASSERT_TRUE(wait_all_ready(4)) << up_log();
  ASSERT_EQ(http_get(health0, "/status", &body), 200);
  EXPECT_EQ(count_of(body, "\"state\":\"alive\""), 4u) << body;

  RunResult down2 = nodus({"scale", "2", "--run-dir", run_dir_.string()});
  ASSERT_EQ(down2.exit_code, 0) << down2.err;
  EXPECT_THAT(down2.out, HasSubstr("membership of instances 0,1: instances 2+ left"));
  ASSERT_EQ(http_get(health0, "/status", &body), 200);
  EXPECT_EQ(count_of(body, "\"state\":\"alive\""), 2u) << body;
  EXPECT_EQ(count_of(body, "\"state\":\"left\""), 2u) << body;
}

// Goal: the supervisor's aggregate /metrics carries every instance's series under one HELP and
// TYPE per family, plus container totals, and passes `promtool check metrics`.
TEST_F(SupervisorTest, AggregateMetricsCoverEveryInstance) {
  // write_profile reserves 16 free ports from base_port_; two instances use the first four.
  ProfileSpec spec = spec_of(2);
  write_profile(spec);
  const uint16_t metrics_port = static_cast<uint16_t>(base_port_ + 15);
  spec.supervisor =
      "{restart: on-failure, heartbeat_ms: 100, metrics_port: " + std::to_string(metrics_port) +
      "}";
  write_profile(spec, base_port_);
  start_up();
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  std::string body;
  ASSERT_EQ(http_get(metrics_port, "/metrics", &body), 200) << up_log();
  EXPECT_THAT(body, HasSubstr("nodus_test_starts_total{instance=\"0\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("nodus_test_starts_total{instance=\"1\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("nodus_supervisor_instances{state=\"ready\"} 2\n"));
  EXPECT_THAT(body, HasSubstr("nodus_container_memory_rss_bytes "));
  size_t type_lines = 0;
  for (size_t at = body.find("# TYPE nodus_test_starts_total "); at != std::string::npos;
       at = body.find("# TYPE nodus_test_starts_total ", at + 1)) {
    ++type_lines;
  }
  EXPECT_EQ(type_lines, 1u) << body;
  const std::string file = (dir_ / "aggregate.prom").string();
  std::ofstream(file) << body;
  RunResult lint = run({"/bin/sh", "-c", "promtool check metrics < " + file});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err << body;
}

// Goal: status/health/restart/down/cleanup work end to end and `down` stops every process.
TEST_F(SupervisorTest, VerbsStatusHealthRestartDownCleanup) {
  write_profile(spec_of(2));
  start_up();
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  RunResult json = nodus({"status", "--run-dir", run_dir_.string(), "-o", "json"});
  EXPECT_THAT(json.out, ::testing::StartsWith("{\"profile\":\"suptest\""));
  EXPECT_THAT(json.out, HasSubstr("\"instances\":[{\"index\":0,"));
  EXPECT_THAT(json.out, HasSubstr("\"role\":\"tester\""));
  RunResult health = nodus({"health", "--run-dir", run_dir_.string()});
  EXPECT_EQ(health.exit_code, 0) << health.out << health.err;
  EXPECT_THAT(health.out, HasSubstr("cluster: healthy"));
  const auto before = pids_of(status());
  ASSERT_EQ(nodus({"restart", "0", "--run-dir", run_dir_.string()}).exit_code, 0);
  ASSERT_TRUE(wait_status([&](const std::vector<Row>& rows) {
    return rows.size() == 2 && rows[0].state == "ready" && rows[0].pid != before.at(0);
  }));
  const auto last = pids_of(status());
  RunResult down = nodus({"down", "--run-dir", run_dir_.string()});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(up_->wait(seconds(10)), 0);
  for (const auto& [i, pid] : last)
    EXPECT_TRUE(wait_gone(pid, seconds(5))) << "instance " << i;
  RunResult none = nodus({"status", "--run-dir", run_dir_.string()});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("no cluster is running in " + run_dir_.string()));
  RunResult clean = nodus({"cleanup", "--run-dir", run_dir_.string()});
  EXPECT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_FALSE(fs::exists(run_dir_));
  EXPECT_FALSE(fs::exists(dir_ / "data"));
}

// The absolute path of a tool on PATH (the test helpers spawn without a PATH search), or "".
std::string tool_path(const std::string& name) {
  RunResult which = run({"/bin/sh", "-c", "command -v " + name});
  std::string path = which.exit_code == 0 ? which.out : "";
  while (!path.empty() && (path.back() == '\n' || path.back() == ' '))
    path.pop_back();
  return path;
}

// Goal: a refused second `nodus up` on the same run directory touches nothing: the running
// cluster's status, restart (which needs the bus socket) and down all still work.
TEST_F(SupervisorTest, SecondUpIsRefusedAndLeavesTheClusterAlone) {
  write_profile(spec_of(2));
  start_up();
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  const std::string addr_before = read_file(run_dir_ / "control.addr");
  RunResult second = nodus({"up", "--profile", profile_.string(), "--run-dir", run_dir_.string()});
  EXPECT_EQ(second.exit_code, 2) << second.err;
  EXPECT_THAT(second.err, HasSubstr("a cluster is already running in " + run_dir_.string()));
  for (const char* name : {"control.sock", "bus.sock", "control.addr", "supervisor.lock"}) {
    EXPECT_TRUE(fs::exists(run_dir_ / name)) << name << " was removed by the refused start";
  }
  EXPECT_EQ(read_file(run_dir_ / "control.addr"), addr_before);
  const auto before = pids_of(status());
  ASSERT_EQ(before.size(), 2u) << "status failed after the refused start";
  RunResult restart = nodus({"restart", "1", "--run-dir", run_dir_.string()});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  // The new process must reach the bus to report ready.
  ASSERT_TRUE(wait_status([&](const std::vector<Row>& rows) {
    return rows.size() == 2 && rows[1].state == "ready" && rows[1].pid != before.at(1);
  })) << up_log();
  RunResult down = nodus({"down", "--run-dir", run_dir_.string()});
  EXPECT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(up_->wait(seconds(10)), 0);
}

// Goal: the supervisor never signals a pid it has already reaped (the number may belong to
// another process by then). strace records the supervisor thread's kill() and wait4() calls
// through a kill -9, a restart and `nodus down`; no kill may name a pid after its wait4.
TEST_F(SupervisorTest, NeverSignalsAReapedPid) {
  const std::string strace = tool_path("strace");
  ASSERT_FALSE(strace.empty()) << "strace is required (scripts/setup.sh installs it)";
  write_profile(spec_of(2));
  const fs::path trace = dir_ / "trace.txt";
  // LeakSanitizer cannot run in a ptraced process and aborts the exit of a sanitizer build
  // with a fatal error, so the traced supervisor (and what it starts) runs without it. The
  // other supervisor tests keep leak checking on.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_env = std::string("ASAN_OPTIONS=") +
                               (asan != nullptr && *asan != '\0' ? std::string(asan) + ":" : "") +
                               "detect_leaks=0";
  up_ = std::make_unique<Child>(
      std::vector<std::string>{strace, "-qq", "-E", asan_env, "-e", "trace=kill,wait4", "-o",
                               trace.string(), kNodus, "up", "--profile", profile_.string()},
      dir_ / "up.log");
  ASSERT_TRUE(wait_all_ready(2, seconds(30))) << up_log();
  const auto before = pids_of(status());
  ASSERT_EQ(::kill(before.at(0), SIGKILL), 0);
  ASSERT_TRUE(wait_status([&](const std::vector<Row>& rows) {
    return rows.size() == 2 && rows[0].state == "ready" && rows[0].pid != before.at(0);
  })) << up_log();
  ASSERT_EQ(nodus({"restart", "1", "--run-dir", run_dir_.string()}).exit_code, 0);
  ASSERT_TRUE(wait_status([&](const std::vector<Row>& rows) {
    return rows.size() == 2 && rows[1].state == "ready" && rows[1].pid != before.at(1);
  })) << up_log();
  ASSERT_EQ(nodus({"down", "--run-dir", run_dir_.string()}).exit_code, 0);
  EXPECT_EQ(up_->wait(seconds(15)), 0) << up_log();
  std::ifstream in(trace);
  std::set<long> reaped;
  int reaps = 0;
  for (std::string line; std::getline(in, line);) {
    // wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], WNOHANG, NULL) = 4242
    if (line.rfind("wait4(", 0) == 0) {
      const auto eq = line.rfind("= ");
      const long pid = eq == std::string::npos ? 0 : std::atol(line.c_str() + eq + 2);
      if (pid > 0) {
        reaped.insert(pid);
        ++reaps;
      }
    } else if (line.rfind("kill(", 0) == 0) {
      const long target = std::labs(std::atol(line.c_str() + 5));
      EXPECT_EQ(reaped.count(target), 0u) << "signalled reaped pid " << target << ": " << line;
    }
  }
  EXPECT_GE(reaps, 4) << "the trace saw no reaping; is strace tracing the supervisor?";
}

// Goal: a slow instance is not a dead one. Both instances keep their executor busy with
// back-to-back 1 s tasks while stress-ng loads both cores; neither is restarted.
TEST_F(SupervisorTest, BusyInstancesUnderCpuStressAreNotRestarted) {
  const std::string stress_ng = tool_path("stress-ng");
  ASSERT_FALSE(stress_ng.empty()) << "stress-ng is required (scripts/setup.sh installs it)";
  write_profile(spec_of(2, "busy", "io.nodus.test.busy"));
  start_up();
  ASSERT_TRUE(wait_all_ready(2, seconds(30))) << up_log();
  RunResult stress = run({stress_ng, "--cpu", "2", "--timeout", "8s", "--quiet"}, {}, seconds(30));
  EXPECT_EQ(stress.exit_code, 0) << stress.err;
  const auto rows = status();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.restarts, 0u) << "instance " << row.index << ": " << row.last_failure;
    EXPECT_EQ(row.state, "ready") << "instance " << row.index;
  }
  EXPECT_THAT(up_log(), ::testing::Not(HasSubstr("is unhealthy")));
}

// Goal: an instance whose executor makes no progress for supervisor.hang_timeout_ms is hung:
// it is restarted, and the reason names the executor.
TEST_F(SupervisorTest, HungExecutorIsRestarted) {
  ProfileSpec spec = spec_of(1, "hang", "io.nodus.test.hang");
  spec.supervisor =
      "{restart: on-failure, backoff_ms: {initial: 20, max: 200}, stop_timeout_ms: 2000,"
      " heartbeat_ms: 100, hang_timeout_ms: 2000, crash_loop: {deaths: 3, window_s: 60}}";
  write_profile(spec);
  start_up();
  ASSERT_TRUE(wait_status(
      [](const std::vector<Row>& rows) { return rows.size() == 1 && rows[0].restarts >= 1; },
      seconds(30)))
      << up_log();
  const auto rows = status();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_THAT(rows[0].last_failure, HasSubstr("executor made no progress for"));
}

// Goal: as PID 1 (own pid namespace) the supervisor reaps an orphaned grandchild and SIGTERM
// stops every instance cleanly.
TEST_F(SupervisorTest, AsPid1ReapsOrphansAndStopsOnSigterm) {
  if (run({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/true"}).exit_code != 0) {
    GTEST_SKIP() << "unshare --pid is not permitted here";
  }
  write_profile(spec_of(2));
  record_pids_ = false;
  up_ = std::make_unique<Child>(
      std::vector<std::string>{"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", kNodus, "up",
                               "--profile", profile_.string()},
      dir_ / "up.log");
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  const auto children = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> out;
    for (pid_t c; in >> c;)
      out.push_back(c);
    return out;
  };
  const auto kids = children(up_->pid());
  ASSERT_EQ(kids.size(), 1u);
  const pid_t init = kids[0];  // `nodus up`, PID 1 inside the namespace
  // A shell inside the namespace starts `sleep` and exits: the sleep is orphaned onto PID 1.
  RunResult sh = run({"/usr/bin/nsenter", "-t", std::to_string(init), "-p", "--", "/bin/sh", "-c",
                      "exec 1>&- 2>&-; /bin/sleep 300 & exit 0"});
  ASSERT_EQ(sh.exit_code, 0) << sh.err;
  pid_t orphan = 0;
  for (int i = 0; i < 100 && orphan == 0; ++i) {
    for (pid_t c : children(init)) {
      if (read_file("/proc/" + std::to_string(c) + "/comm") == "sleep\n") orphan = c;
    }
    if (orphan == 0) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_NE(orphan, 0) << "the orphan was not re-parented to PID 1";
  ASSERT_EQ(::kill(orphan, SIGKILL), 0);
  EXPECT_TRUE(wait_gone(orphan, seconds(5))) << "orphan left as a zombie";
  std::vector<pid_t> instances;  // host pids: status() reports the namespace's own
  for (pid_t c : children(init)) {
    if (c != orphan) instances.push_back(c);
  }
  ASSERT_EQ(instances.size(), 2u);
  ASSERT_EQ(::kill(init, SIGTERM), 0);
  EXPECT_EQ(up_->wait(seconds(10)), 0) << up_log();  // stop_timeout_ms is 2000
  EXPECT_THAT(up_log(), HasSubstr("stopping every instance: SIGTERM"));
  // A clean stop, not SIGKILL. (The pid inside the namespace depends on how many threads and
  // short-lived children the supervisor made first, the check of the plugins included.)
  EXPECT_THAT(up_log(), ::testing::ContainsRegex("suptest-0 exited pid=[0-9]+ status=\"exit 0\""));
  EXPECT_THAT(up_log(), ::testing::Not(HasSubstr("sending SIGKILL")));
  for (pid_t pid : instances)
    EXPECT_TRUE(wait_gone(pid, seconds(5)));
}

// Goal: a missing profile is a clear error, exit 2, and nothing runs.
TEST_F(SupervisorTest, MissingProfileFails) {
  RunResult r = nodus({"up", "--profile", (dir_ / "nope.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr((dir_ / "nope.yaml").string()));
}

// Goal: a port already in use is named (port, instance) and nothing is started.
TEST_F(SupervisorTest, PortInUseFailsBeforeStarting) {
  write_profile(spec_of(3));
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(base_port_ + 2));  // instance 1 health
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  RunResult r = nodus({"up", "--profile", profile_.string()});
  ::close(fd);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("port " + std::to_string(base_port_ + 2) +
                               " (instance 1 health) on 127.0.0.1 is already in use"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("started suptest")));
  EXPECT_FALSE(fs::exists(run_dir_ / "control.addr"));
}

// Goal: an unwritable data directory is named and nothing is started. (As root, permission
// bits do not stop us, so the data directory sits below a regular file.)
TEST_F(SupervisorTest, UnwritableDataDirFails) {
  std::ofstream(dir_ / "file") << "x";
  ProfileSpec spec = spec_of(2);
  spec.data_dir = (dir_ / "file" / "data").string();
  write_profile(spec);
  RunResult r = nodus({"up", "--profile", profile_.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("instance 0: data directory " + (dir_ / "file/data").string() +
                               "/suptest-0 is not writable"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("started suptest")));
}

// Goal: an instance that refuses at start what no check before the start can see (its stored
// state: FAILED_PRECONDITION, exit 2) makes `up` exit 2 and leaves nothing running.
TEST_F(SupervisorTest, RejectedConfigExitsTwo) {
  write_profile(spec_of(2, "start_refuses", "io.nodus.test.start-refuses"));
  start_up();
  EXPECT_EQ(up_->wait(seconds(20)), 2) << up_log();
  EXPECT_THAT(up_log(), HasSubstr("rejected its configuration (exit 2)"));
  EXPECT_THAT(up_log(), HasSubstr("stored state was written by another cluster"));
  RunResult st = nodus({"status", "--run-dir", run_dir_.string()});
  EXPECT_THAT(st.err, HasSubstr("no cluster is running"));
}

// `nodus up` checks every instance's plugins before it spawns any (kernel/supervisor/preflight.h).
class PreflightTest : public SupervisorTest {
 protected:
  // Runs `nodus up -q` and checks that it refused before spawning anything: exit 2, and no
  // instance ever started (the supervisor makes an instance's log file and logs "started
  // <node>" before each spawn). Returns stderr, which must be one line.
  std::string refused_before_spawn() {
    RunResult r = nodus({"up", "-q", "--profile", profile_.string()});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_THAT(r.err, ::testing::MatchesRegex("[^\n]+\n")) << "not one line";
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(run_dir_ / "logs", ec)) {
      EXPECT_THAT(entry.path().filename().string(), ::testing::StartsWith("supervisor.log"))
          << "an instance log exists: an instance was spawned";
    }
    EXPECT_THAT(read_file(run_dir_ / "logs" / "supervisor.log"),
                ::testing::Not(HasSubstr("started suptest")));
    return r.err;
  }
};

// Goal: a bad plugin value is one FILE:LINE:COL line from `up -q`, exit 2, nothing spawned.
TEST_F(PreflightTest, BadPluginValue) {
  ProfileSpec spec = spec_of(2);
  spec.plugin_config = "{limit: -1}";
  write_profile(spec);
  EXPECT_EQ(refused_before_spawn(),
            profile_.string() + ":10:14: plugins[0].config.limit: must not be negative\n");
}

// Goal: a missing required plugin key is one FILE:LINE:COL line, exit 2, nothing spawned.
TEST_F(PreflightTest, MissingRequiredKey) {
  write_profile(spec_of(2, "required_key", "io.nodus.test.keyed"));
  EXPECT_EQ(refused_before_spawn(),
            profile_.string() + ":9:5: plugins[0].config: missing required key 'endpoint'\n");
}

// Goal: a required capability no plugin of the profile provides is one line at the plugin's
// entry, exit 2, nothing spawned.
TEST_F(PreflightTest, MissingCapabilityProvider) {
  write_profile(spec_of(2, "missing_cap", "io.nodus.test.needy"));
  const std::string err = refused_before_spawn();
  EXPECT_THAT(err, ::testing::StartsWith(profile_.string() +
                                         ":9:5: plugins[0]: plugin io.nodus.test.needy ("));
  EXPECT_THAT(err, HasSubstr("libnodus_test_missing_cap.so) requires capability "
                             "'nodus.test.absent/v1', which no plugin in the profile provides"));
}

// Goal: a plugin file without the nodus entry point is one line at the plugin's entry, exit 2,
// nothing spawned.
TEST_F(PreflightTest, SharedObjectWithoutEntryPoint) {
  ProfileSpec spec = spec_of(2, "no_entry");
  spec.plugin_file = "libnodus_test_no_entry.so";
  write_profile(spec);
  const std::string err = refused_before_spawn();
  EXPECT_THAT(err, ::testing::StartsWith(profile_.string() +
                                         ":9:5: plugins[0]: plugin io.nodus.test.good: "));
  EXPECT_THAT(err, HasSubstr("libnodus_test_no_entry.so: no nodus entry point"));
}

// Goal: each instance is configured as itself: a layout only instance 1 cannot honour stops
// the start before instance 0 is spawned, with the one line naming instance 1.
TEST_F(PreflightTest, ChecksEveryInstance) {
  ProfileSpec spec = spec_of(2, kPluginDir.string(), "io.nodus.isolation.linux");
  spec.plugin_config = "{cpus: ['0', '4000'], strict: true}";
  write_profile(spec);
  EXPECT_THAT(refused_before_spawn(),
              ::testing::StartsWith(profile_.string() +
                                    ":10:14: plugins[0].config.cpus: instance 1 asks for CPUs "
                                    "4000 but only "));
}

// Goal: more strictly pinned CPUs than the host has is a configuration error: `up` exits 2
// naming the key, and no instance is left running.
TEST_F(SupervisorTest, MoreStrictlyPinnedInstancesThanCpusFails) {
  // An absolute plugin_dir replaces the test-plugin root: this uses the real plugin.
  ProfileSpec spec = spec_of(2, kPluginDir.string(), "io.nodus.isolation.linux");
  // No host this runs on has 4096 CPUs per instance to give.
  spec.plugin_config = "{cpus_per_instance: 4096, strict: true}";
  write_profile(spec);
  start_up();
  EXPECT_EQ(up_->wait(seconds(20)), 2) << up_log();
  EXPECT_THAT(up_log(), HasSubstr("cpus_per_instance: instance 0 of 2 needs 4096 CPUs"));
  EXPECT_THAT(up_log(), HasSubstr("strict: true forbids sharing"));
  RunResult st = nodus({"status", "--run-dir", run_dir_.string()});
  EXPECT_THAT(st.err, HasSubstr("no cluster is running"));
}

// Goal: every verb says clearly when no cluster is running.
TEST_F(SupervisorTest, VerbsSayWhenNoneRunning) {
  for (const char* verb : {"status", "health", "down"}) {
    RunResult r = nodus({verb, "--run-dir", run_dir_.string()});
    EXPECT_EQ(r.exit_code, 1) << verb;
    EXPECT_THAT(r.err, HasSubstr("no cluster is running in " + run_dir_.string())) << verb;
  }
  RunResult scale = nodus({"scale", "2", "--run-dir", run_dir_.string()});
  EXPECT_THAT(scale.err, HasSubstr("no cluster is running"));
}

}  // namespace
}  // namespace nodus::test
