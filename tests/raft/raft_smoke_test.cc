// Real-process tests of io.nodus.consensus.raft: `nodus up` with three instances elects
// exactly one leader, the others follow, and every instance turns ready (a leader is known);
// `nodus failover` moves leadership through Raft's leadership transfer, which is Raft's own
// plugin command (nodus/services/admin.h) that the CLI routes like any other.
#include <gtest/gtest.h>

#include <signal.h>

#include <string>
#include <thread>

#include "supervisor_fixture.h"

namespace nodus::test {
namespace {

class RaftSmokeTest : public SupervisorTest {};

size_t count_role(const std::vector<Row>& rows, const std::string& role) {
  size_t n = 0;
  for (const auto& r : rows)
    n += r.role == role ? 1 : 0;
  return n;
}

// Goal: one leader and two followers appear in `nodus status`, all instances ready.
TEST_F(RaftSmokeTest, ThreeInstancesElectOneLeader) {
  ProfileSpec spec;
  spec.instances = 3;
  spec.plugin_dir = kPluginDir.string();  // absolute: the real plugin directory
  spec.plugin = "io.nodus.consensus.raft";
  spec.plugin_config =
      "{election_timeout_ms: [300, 600], heartbeat_ms: 100, tick_ms: 20, fsync: batch}";
  write_profile(spec);
  start_up();
  const bool elected = wait_status(
      [](const std::vector<Row>& rows) {
        if (rows.size() != 3) return false;
        for (const auto& r : rows) {
          if (r.state != "ready") return false;
        }
        return count_role(rows, "leader") == 1 && count_role(rows, "follower") == 2;
      },
      std::chrono::seconds(30));
  const auto rows = status();
  std::string seen;
  for (const auto& r : rows)
    seen += std::to_string(r.index) + ":" + r.state + "/" + r.role + " ";
  ASSERT_TRUE(elected) << seen << "\n" << up_log();
  // The raft series are exported on each instance's /metrics (served on the health port).
  for (const auto& r : rows) {
    std::string body;
    ASSERT_EQ(http_get(static_cast<uint16_t>(r.ports.at("health")), "/metrics", &body), 200);
    EXPECT_NE(body.find("nodus_raft_term"), std::string::npos) << body.substr(0, 2000);
    EXPECT_NE(body.find("nodus_raft_role{"), std::string::npos);
  }
}

int leader_of(const std::vector<Row>& rows) {
  int leader = -1;
  for (const auto& r : rows) {
    if (r.role == "leader") leader = static_cast<int>(r.index);
  }
  return leader;
}

// Goal: `nodus failover --to I` hands leadership to I, `nodus failover` to some other
// instance, and a bad target is refused with a message that names it.
TEST_F(RaftSmokeTest, FailoverMovesLeadership) {
  ProfileSpec spec;
  spec.instances = 3;
  spec.plugin_dir = kPluginDir.string();
  spec.plugin = "io.nodus.consensus.raft";
  spec.plugin_config =
      "{election_timeout_ms: [300, 600], heartbeat_ms: 100, tick_ms: 20, fsync: batch}";
  write_profile(spec);
  start_up();
  ASSERT_TRUE(wait_status([](const std::vector<Row>& rows) { return leader_of(rows) >= 0; },
                          std::chrono::seconds(30)))
      << up_log();
  const int first = leader_of(status());
  const uint32_t target = static_cast<uint32_t>((first + 1) % 3);

  RunResult moved =
      nodus({"failover", "--run-dir", run_dir_.string(), "--to", std::to_string(target)});
  ASSERT_EQ(moved.exit_code, 0) << moved.err << up_log();
  EXPECT_NE(moved.out.find("to instance " + std::to_string(target)), std::string::npos)
      << moved.out;
  EXPECT_EQ(leader_of(status()), static_cast<int>(target));

  RunResult any = nodus({"failover", "--run-dir", run_dir_.string(), "-o", "json"});
  ASSERT_EQ(any.exit_code, 0) << any.err;
  EXPECT_NE(any.out.find("\"previous\":" + std::to_string(target)), std::string::npos) << any.out;
  const int now = leader_of(status());
  EXPECT_GE(now, 0);
  EXPECT_NE(now, static_cast<int>(target));

  RunResult bad = nodus({"failover", "--run-dir", run_dir_.string(), "--to", "9"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("instance 9: no such instance"), std::string::npos) << bad.err;
}

// Goal: plugin commands and sections work end to end with real processes: `nodus help` lists
// Raft's command with its help, `nodus status` shows Raft's section (-o json) and column, a
// command runs on one instance, on all (one result each) and on the leader, and unknown
// commands, instances and bad arguments are refused naming them. A frozen instance answers
// with an error naming it within the deadline.
TEST_F(RaftSmokeTest, PluginCommandsAndSectionsFromTheCli) {
  ProfileSpec spec;
  spec.instances = 3;
  spec.plugin_dir = kPluginDir.string();
  spec.plugin = "io.nodus.consensus.raft";
  spec.plugin_config =
      "{election_timeout_ms: [300, 600], heartbeat_ms: 100, tick_ms: 20, fsync: batch}";
  write_profile(spec);
  start_up();
  ASSERT_TRUE(wait_status([](const std::vector<Row>& rows) { return leader_of(rows) >= 0; },
                          std::chrono::seconds(30)))
      << up_log();
  const std::string run_dir = run_dir_.string();

  RunResult help = nodus({"help", "--run-dir", run_dir});
  ASSERT_EQ(help.exit_code, 0) << help.err;
  EXPECT_NE(help.out.find("plugin commands of the running cluster"), std::string::npos);
  EXPECT_NE(help.out.find("failover"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("Raft leadership transfer"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("scale N"), std::string::npos);  // built-in verbs too
  RunResult usage = nodus({"failover", "--help", "--run-dir", run_dir});
  ASSERT_EQ(usage.exit_code, 0) << usage.err;
  EXPECT_NE(usage.out.find("--to"), std::string::npos) << usage.out;

  RunResult json = nodus({"status", "--run-dir", run_dir, "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"plugins\":{\"io.nodus.consensus.raft\":{\"role\":\"leader\""),
            std::string::npos)
      << json.out;
  EXPECT_NE(json.out.find("\"commit_index\":"), std::string::npos);
  RunResult table = nodus({"status", "--run-dir", run_dir});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("raft: term "), std::string::npos) << table.out;

  // One result per instance: the leader moves leadership, the followers refuse.
  RunResult all = nodus({"failover", "--all", "--run-dir", run_dir, "-o", "json"});
  EXPECT_EQ(all.exit_code, 1) << all.out << all.err;
  EXPECT_NE(all.out.find("{\"results\":[{\"instance\":0,"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("is not the raft leader"), std::string::npos) << all.out;
  EXPECT_NE(all.out.find("\"previous\":"), std::string::npos) << all.out;
  ASSERT_TRUE(wait_status([](const std::vector<Row>& rows) { return leader_of(rows) >= 0; },
                          std::chrono::seconds(30)));

  const int leader = leader_of(status());
  const uint32_t follower = static_cast<uint32_t>((leader + 1) % 3);
  RunResult refused =
      nodus({"failover", "--instance", std::to_string(follower), "--run-dir", run_dir});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("instance " + std::to_string(follower)), std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("is not the raft leader"), std::string::npos) << refused.err;

  RunResult unknown = nodus({"frobnicate", "--run-dir", run_dir});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown command 'frobnicate'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("failover"), std::string::npos) << unknown.err;
  RunResult no_instance = nodus({"failover", "--instance", "7", "--run-dir", run_dir});
  EXPECT_EQ(no_instance.exit_code, 2);  // naming an instance that does not exist is bad input
  EXPECT_NE(no_instance.err.find("instance 7: no such instance"), std::string::npos)
      << no_instance.err;
  RunResult bad_arg = nodus({"failover", "--to", "two", "--run-dir", run_dir});
  EXPECT_EQ(bad_arg.exit_code, 2);
  EXPECT_NE(bad_arg.err.find("argument --to 'two' is not a decimal integer"), std::string::npos)
      << bad_arg.err;
  RunResult extra = nodus({"failover", "--colour", "red", "--run-dir", run_dir});
  EXPECT_EQ(extra.exit_code, 2);
  EXPECT_NE(extra.err.find("unknown argument --colour"), std::string::npos) << extra.err;

  // A frozen instance: an error naming it (a hang would run into nodus()'s 30 s limit and
  // fail the exit code check).
  const auto rows = status();
  pid_t frozen_pid = 0;
  for (const auto& r : rows) {
    if (r.index == follower) frozen_pid = r.pid;
  }
  ASSERT_GT(frozen_pid, 0);
  ASSERT_EQ(::kill(frozen_pid, SIGSTOP), 0);
  RunResult frozen = nodus({"failover", "--instance", std::to_string(follower), "--deadline-ms",
                            "1000", "--run-dir", run_dir});
  ::kill(frozen_pid, SIGCONT);
  EXPECT_EQ(frozen.exit_code, 1);
  EXPECT_NE(frozen.err.find("instance " + std::to_string(follower)), std::string::npos)
      << frozen.err;
}

// Goal: an instance started alone over a cluster's old data, without a quorum of the stored
// configuration, refuses at start (exit 2) with one line naming the data directory instead of
// staying pre-candidate forever (with other instances it starts: one of them may hold a newer
// configuration, raft_plugin_test); a lone `nodus node` with the original instance count says
// at start how many voters it waits for.
TEST_F(RaftSmokeTest, StaleDataWithFewerInstancesIsRefusedAtStart) {
  ProfileSpec spec;
  spec.instances = 3;
  spec.plugin_dir = kPluginDir.string();
  spec.plugin = "io.nodus.consensus.raft";
  spec.plugin_config =
      "{election_timeout_ms: [300, 600], heartbeat_ms: 100, tick_ms: 20, fsync: batch}";
  write_profile(spec);
  start_up();
  ASSERT_TRUE(wait_all_ready(3, std::chrono::seconds(30))) << up_log();
  ASSERT_EQ(nodus({"down", "--run-dir", run_dir_.string()}).exit_code, 0);
  ASSERT_EQ(up_->wait(std::chrono::seconds(20)), 0) << up_log();

  const RunResult lone =
      run({kNodus, "node", "--profile", profile_.string(), "--instance", "0", "--instances", "1"},
          {}, std::chrono::seconds(20));
  EXPECT_EQ(lone.exit_code, 2) << lone.out << lone.err;
  EXPECT_NE(lone.err.find("no leader can ever be elected"), std::string::npos) << lone.err;
  EXPECT_NE(lone.err.find("voters 0,1,2"), std::string::npos) << lone.err;
  EXPECT_NE(lone.err.find((dir_ / "data").string()), std::string::npos) << lone.err;

  // With the instance count it was created with, a lone instance explains what it waits for.
  Child alone({kNodus, "node", "--profile", profile_.string(), "--instance", "0"},
              dir_ / "alone.log");
  bool said = false;
  for (int i = 0; i < 100 && !said; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    said = read_file(dir_ / "alone.log").find("ready once 2 voters run") != std::string::npos;
  }
  alone.signal(SIGTERM);
  alone.wait(std::chrono::seconds(10));
  EXPECT_TRUE(said) << read_file(dir_ / "alone.log");
}

}  // namespace
}  // namespace nodus::test
