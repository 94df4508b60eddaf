// Simulation tests of io.nodus.consensus.raft: the real plugin .so on three simulated nodes,
// with the harness's test-only key-value plugin (io.nodus.testing.consensus-kv) as the state
// machine. A client history of puts and linearizable gets is judged by the harness's checker under
// every fault kind; scenario tests cover a disk stall, snapshot catch-up, membership changes and
// leadership transfer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "nodus/capabilities/consensus.h"
#include "nodus/harness/consensus_kv.h"
#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/sim_faults.h"
#include "nodus/testing/linearizability.h"
#include "nodus/testing/sim_gtest.h"

namespace nodus::testing {
namespace {

using RaftKv = ConsensusKv;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kRaftConfig =
    "election_timeout_ms: [150, 300]\nheartbeat_ms: 50\ntick_ms: 10\n"
    "propose_timeout_ms: 1000\nsnapshot_entries: 40\nsnapshot_chunk_bytes: 64\n";

struct Cluster {
  explicit Cluster(uint64_t seed, uint32_t nodes = 3) : sim(make_options(seed, nodes)) {}
  static SimOptions make_options(uint64_t seed, uint32_t nodes) {
    SimOptions o;
    o.seed = seed;
    o.nodes = nodes;
    // RAFT_SIM_LOGS=1 keeps plugin logs, printed by dump() on failure.
    o.capture_logs = std::getenv("RAFT_SIM_LOGS") != nullptr;
    // Crashes may tear the first lost record and cut a snapshot write in flight.
    o.crash_disk = true;
    return o;
  }
  Status start(const std::string& raft_config = kRaftConfig, const std::string& kv_config = "") {
    NODUS_RETURN_IF_ERROR(sim.add_plugin(RAFT_PLUGIN, raft_config));
    NODUS_RETURN_IF_ERROR(sim.add_plugin(RAFTKV_PLUGIN, kv_config));
    return sim.start();
  }
  RaftKv* kv(SimNodeId n) { return sim.find<RaftKv>(n); }
  // Each node's state and (with RAFT_SIM_LOGS=1) its log lines, for failure messages.
  std::string dump() {
    std::string out;
    for (SimNodeId i = 0; i < sim.size(); ++i) {
      out += "node " + std::to_string(i) + ": ";
      if (Consensus* r = raft(i)) {
        const ConsensusState s = r->state();
        out +=
            std::string(consensus_role_name(s.role)) + " term " + std::to_string(s.term) +
            " leader " + (s.leader ? std::to_string(*s.leader) : "-") + " commit " +
            std::to_string(s.commit_index) + " applied " + std::to_string(s.applied_index) +
            " last " + std::to_string(s.last_index) + " kv_applied " +
            std::to_string(kv(i) ? kv(i)->applied_index() : 0) + " kv_state " +
            (kv(i) ? std::to_string(std::hash<std::string>{}(kv(i)->state_image()) % 100000)
                   : std::string("-")) +
            " dropped " + std::to_string(sim.metric_value(i, "nodus_raft_messages_dropped_total")) +
            " snap_recv " +
            std::to_string(sim.metric_value(i, "nodus_raft_snapshots_received_total")) +
            " snap_sent " + std::to_string(sim.metric_value(i, "nodus_raft_snapshots_sent_total")) +
            " fsyncs " + std::to_string(sim.metric_value(i, "nodus_raft_fsync_seconds")) + "\n";
      } else {
        out += "down\n";
      }
      if (std::getenv("RAFT_SIM_LOGS") != nullptr) {
        for (const auto& line : sim.logs(i).lines())
          out += "  " + line + "\n";
      }
    }
    return out;
  }
  Consensus* raft(SimNodeId n) { return sim.find<Consensus>(n); }
  std::optional<SimNodeId> leader() {
    for (SimNodeId i = 0; i < sim.size(); ++i) {
      if (raft(i) && raft(i)->state().role == ConsensusRole::kLeader) return i;
    }
    return std::nullopt;
  }
  // Every node is up, knows a leader, applied the same log index and holds the same key-value
  // state, and no state machine saw a command twice or out of order. The KV's own applied
  // index is not compared: it skips no-op entries (see RaftKv::applied_index). A run in which
  // no command ever committed (possible under the harshest schedules) converges too, once the
  // leaders' no-op entries are applied everywhere.
  bool converged() {
    std::optional<uint64_t> applied;
    std::optional<std::string> image;
    for (SimNodeId i = 0; i < sim.size(); ++i) {
      if (!kv(i) || !raft(i)->state().leader || kv(i)->order_errors() > 0) return false;
      const uint64_t a = raft(i)->state().applied_index;
      if (a == 0 || (applied && *applied != a)) return false;
      applied = a;
      std::string state = kv(i)->state_image();
      if (image && *image != state) return false;
      image = std::move(state);
    }
    return true;
  }
  // Invariant: no two nodes lead in the same term.
  void add_election_safety() {
    sim.add_invariant("one_leader_per_term", [this]() -> Status {
      for (SimNodeId i = 0; i < sim.size(); ++i) {
        Consensus* c = raft(i);
        if (!c) continue;
        const ConsensusState s = c->state();
        if (s.role != ConsensusRole::kLeader) continue;
        auto [it, inserted] = leaders.emplace(s.term, i);
        if (!inserted && it->second != i) {
          return failed_precondition("nodes " + std::to_string(it->second) + " and " +
                                     std::to_string(i) + " both lead term " +
                                     std::to_string(s.term));
        }
      }
      return {};
    });
  }
  SimCluster sim;
  std::map<uint64_t, SimNodeId> leaders;
};

// A put that failed with this status never reached any log: no leader known here, the leader
// was moving (transfer) or the node asked was no leader, or the command was invalid.
bool refused_before_log(const Status& s) {
  const std::string& m = s.message();
  return s.code() == StatusCode::kInvalidArgument ||
         m.find("no raft leader known") != std::string::npos ||
         m.find("leadership transfer in progress") != std::string::npos ||
         m.find("not the raft leader") != std::string::npos;
}

// Closed-loop clients: one operation at a time to a random live node; an operation without an
// answer (node crashed, timeout) stays open in the history, and the client moves on.
class Workload {
 public:
  Workload(Cluster& c, KvHistory& h, Duration until) : c_(c), h_(h), until_(until) {}
  void start(int clients) {
    for (int i = 0; i < clients; ++i)
      c_.sim.at(milliseconds(i), [this, i] { issue(static_cast<uint64_t>(i)); });
  }
  size_t completed() const { return completed_; }
  std::string describe() const {
    std::string out = "completed " + std::to_string(completed_) + "\n";
    for (const auto& [e, n] : errors_)
      out += "  " + std::to_string(n) + " x " + e + "\n";
    return out;
  }

 private:
  void issue(uint64_t client) {
    SimCluster& sim = c_.sim;
    if (sim.now().time_since_epoch() >= until_) return;
    SimRandom& rng = sim.random();
    const uint32_t n = sim.size();
    auto node = static_cast<SimNodeId>(rng.uniform(0, n - 1));
    for (uint32_t i = 0; i < n && !sim.up(node); ++i)
      node = (node + 1) % n;
    if (!sim.up(node)) return next(client, milliseconds(50));
    const std::string key = rng.chance(0.5) ? "a" : "b";
    const bool is_put = rng.chance(0.5);
    const int64_t value = static_cast<int64_t>(++seq_);
    const size_t op = h_.invoke(client, is_put ? KvOp::put(key, value) : KvOp::get(key), sim.now());
    auto answered = std::make_shared<bool>(false);
    sim.post(node, [this, node, op, key, is_put, value, answered, client] {
      RaftKv* kv = c_.kv(node);
      if (!kv) return;
      if (is_put) {
        kv->put(key, value, [this, op, answered, client](Status s) {
          if (*answered) return;
          *answered = true;
          bool open = false;
          if (s.ok()) {
            h_.complete(op, 0, c_.sim.now());
            ++completed_;
          } else if (refused_before_log(s)) {
            h_.fail(op);  // refused before it reached any log
          } else {        // may or may not have been applied; stays open
            errors_[s.to_string().substr(0, 60)]++;
            open = true;
          }
          next(open ? client + 1000 * ++reincarnations_ : client, think());
        });
      } else {
        kv->get(key, [this, op, answered, client](Result<int64_t> r) {
          if (*answered) return;
          *answered = true;
          if (r.ok()) {
            h_.complete(op, *r, c_.sim.now());
            ++completed_;
          } else {
            h_.fail(op);  // a read that failed changed nothing
          }
          next(client, think());
        });
      }
    });
    sim.at(milliseconds(1500), [this, answered, client] {
      if (*answered) return;
      *answered = true;
      // The open operation may still take effect: continue as a new client.
      next(client + 1000 * ++reincarnations_, milliseconds(100));
    });
  }
  Duration think() { return milliseconds(c_.sim.random().uniform(5, 30)); }
  void next(uint64_t client, Duration after) {
    c_.sim.at(after, [this, client] { issue(client); });
  }

  Cluster& c_;
  KvHistory& h_;
  Duration until_;
  size_t completed_ = 0;
  uint64_t seq_ = 0;
  uint64_t reincarnations_ = 0;
  std::map<std::string, size_t> errors_;
};

struct Outcome {
  Status status;
  size_t completed = 0;
  uint64_t trace = 0;
  std::string faults;
  double snapshots_received = 0;  // over every node's last incarnation
};

// `setup` runs once the cluster started, before the faults and clients (extra drivers).
Outcome run_kv(uint64_t seed, uint32_t faults, Duration chaos, const std::string& kv_config = "",
               const std::string& raft_config = kRaftConfig,
               const std::function<void(Cluster&)>& setup = nullptr, FaultPlan plan = {}) {
  Cluster c(seed);
  Outcome out;
  out.status = c.start(raft_config, kv_config);
  if (!out.status.ok()) return out;
  if (setup) setup(c);
  KvHistory history;
  plan.kinds = faults;
  FaultInjector nemesis(c.sim, plan);
  nemesis.schedule(chaos);
  Workload clients(c, history, chaos + milliseconds(500));
  clients.start(4);
  c.sim.run_for(chaos + milliseconds(500));
  // After the heal the cluster must agree again.
  if (c.sim.failure().ok() && !c.sim.run_until([&] { return c.converged(); }, seconds(20))) {
    c.sim.fail(failed_precondition("cluster did not converge after the heal\n" + c.dump()));
  }
  for (SimNodeId i = 0; i < c.sim.size(); ++i)
    out.snapshots_received += c.sim.metric_value(i, "nodus_raft_snapshots_received_total");
  out.trace = c.sim.trace_hash();
  out.completed = clients.completed();
  out.faults = nemesis.describe() + clients.describe() + "events " +
               std::to_string(c.sim.events_run()) + ", history " + std::to_string(history.size()) +
               "\n";
  if (std::getenv("RAFT_SIM_VERBOSE") != nullptr) std::cerr << out.faults;
  out.status = c.sim.failure();
  if (out.status.ok()) out.status = check_linearizable(history, 1'000'000);
  return out;
}

// Goal: under every fault kind together (partitions, crashes losing unsynced writes, drops,
// duplicates, reordering, clock skew and jumps, slow disks), the KV history stays
// linearizable and the cluster converges, on 1,000 seeds by default.
TEST(RaftSim, LinearizableUnderAllFaults) {
  size_t completed = 0;
  for (uint64_t seed : sim_seeds(1000)) {
    Outcome r = run_kv(seed, kAllFaults, seconds(3));
    ASSERT_TRUE(r.status.ok()) << replay_hint(seed) << r.status.to_string() << "\nfaults:\n"
                               << r.faults;
    completed += r.completed;
  }
  EXPECT_GT(completed, 0u);
}

// Goal: the checker has teeth here: reads that skip the read_index barrier (a planted bug in
// the test plugin) are caught as a linearizability violation on some seed.
TEST(RaftSim, CheckerCatchesStaleReads) {
  bool caught = false;
  for (uint64_t seed = 1; seed <= 300 && !caught; ++seed) {
    Outcome r = run_kv(seed, kFaultPartition | kFaultOneWayPartition, seconds(3),
                       "unsafe_local_reads: true");
    caught = r.status.code() == StatusCode::kFailedPrecondition &&
             r.status.message().find("linearizab") != std::string::npos;
  }
  EXPECT_TRUE(caught);
}

// Goal: each fault kind alone, a few seeds each, longer chaos.
class RaftUnderFault : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RaftUnderFault, StaysLinearizable) {
  size_t completed = 0;
  for (uint64_t seed : sim_seeds(5)) {
    Outcome r = run_kv(seed, GetParam(), seconds(3));
    ASSERT_TRUE(r.status.ok()) << replay_hint(seed) << r.status.to_string() << "\nfaults:\n"
                               << r.faults;
    completed += r.completed;
  }
  EXPECT_GT(completed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Faults, RaftUnderFault,
                         ::testing::Values(kFaultDrop, kFaultDuplicate, kFaultReorder,
                                           kFaultPartition, kFaultOneWayPartition,
                                           kFaultCrashLoseUnsynced, kFaultClockSkew,
                                           kFaultClockJump, kFaultSlowDisk),
                         [](const ::testing::TestParamInfo<uint32_t>& p) {
                           return std::string(fault_kind_name(p.param));
                         });

// Goal: the seeds that failed the 10,000-seed sweep stay fixed, in every test run. Each also
// shows that it still reaches the snapshot path it broke on (a change of the random draws
// that stops a seed from getting there fails here rather than passing without testing).
struct RegressionSeed {
  uint64_t seed;
  uint32_t faults;
};

void PrintTo(const RegressionSeed& p, std::ostream* os) {
  *os << fault_kind_name(p.faults) << " seed " << p.seed;
}

class RaftRegressionSeed : public ::testing::TestWithParam<RegressionSeed> {};

TEST_P(RaftRegressionSeed, ConvergesAndStaysLinearizable) {
  const RegressionSeed p = GetParam();
  Outcome r = run_kv(p.seed, p.faults, seconds(3));
  ASSERT_TRUE(r.status.ok()) << "seed " << p.seed << " " << fault_kind_name(p.faults) << ": "
                             << r.status.to_string() << "\nfaults:\n"
                             << r.faults;
  EXPECT_GE(r.snapshots_received, 1) << "seed " << p.seed << " no longer installs a snapshot";
  EXPECT_GT(r.completed, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    LongRun, RaftRegressionSeed,
    // partition: a follower's image completed in a term it had already left; the next
    // leader's stream of the same snapshot was acknowledged whole and never installed.
    // crash_lose_unsynced: a node restored from a snapshot taken at a no-op entry; the
    // convergence check compared the KV's last-command index instead of the state.
    ::testing::Values(RegressionSeed{1815, kFaultPartition}, RegressionSeed{5792, kFaultPartition},
                      RegressionSeed{2153, kFaultCrashLoseUnsynced},
                      RegressionSeed{7651, kFaultCrashLoseUnsynced}),
    [](const ::testing::TestParamInfo<RegressionSeed>& p) {
      return std::string(fault_kind_name(p.param.faults)) + "_" + std::to_string(p.param.seed);
    });

// Moves leadership every `period` until `until`: the leader hands over to a random other node.
void transfer_repeatedly(Cluster& c, Duration period, Duration until, size_t* transfers) {
  c.sim.at(period, [&c, period, until, transfers] {
    if (c.sim.now().time_since_epoch() >= until) return;
    if (auto l = c.leader()) {
      const auto target = static_cast<PeerId>((*l + 1 + c.sim.random().uniform(0, 1)) % 3);
      c.sim.post(*l, [&c, l = *l, target, transfers] {
        if (Consensus* r = c.raft(l)) {
          r->transfer_leadership(target, [transfers](Status s) { *transfers += s.ok() ? 1 : 0; });
        }
      });
    }
    transfer_repeatedly(c, period, until, transfers);
  });
}

// Goal: lease reads (read_mode: lease) stay linearizable while leadership moves every 150 ms
// and the nodes' clocks run at different rates (up to 8% off, within lease_clock_drift_ppm),
// with messages dropped, delayed and reordered so a deposed leader may hear late that it was
// deposed. Before the fix the old leader served reads from a lease that the transfer had
// voided, or that a late acknowledgement or a fast follower's clock had outlived.
TEST(RaftSim, LeaseReadsLinearizableAcrossTransfersAndDrift) {
  const std::string config =
      std::string(kRaftConfig) + "read_mode: lease\nlease_clock_drift_ppm: 100000\n";
  size_t completed = 0;
  size_t transfers = 0;
  for (uint64_t seed : sim_seeds(40)) {
    auto setup = [&transfers](Cluster& c) {
      for (SimNodeId i = 0; i < c.sim.size(); ++i) {
        c.sim.set_clock_drift_ppm(
            i, static_cast<double>(c.sim.random().uniform(0, 160'000)) - 80'000.0);
      }
      transfer_repeatedly(c, milliseconds(150), seconds(3), &transfers);
    };
    FaultPlan plan;
    plan.drop = 0.2;
    plan.delay_max = milliseconds(100);
    Outcome r = run_kv(seed, kFaultDrop | kFaultDelay | kFaultReorder | kFaultOneWayPartition,
                       seconds(3), "", config, setup, plan);
    ASSERT_TRUE(r.status.ok()) << replay_hint(seed) << r.status.to_string() << "\nfaults:\n"
                               << r.faults;
    completed += r.completed;
  }
  EXPECT_GT(completed, 0u);
  EXPECT_GT(transfers, 0u) << "no leadership transfer succeeded: the test tested nothing";
}

// Goal: the same seed replays the same run.
TEST(RaftSim, SameSeedSameTrace) {
  const Outcome a = run_kv(11, kAllFaults, seconds(1));
  const Outcome b = run_kv(11, kAllFaults, seconds(1));
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.completed, b.completed);
}

// Runs until a leader is known by every node of `nodes`; returns it.
std::optional<SimNodeId> wait_for_leader_among(Cluster& c, const std::vector<SimNodeId>& nodes) {
  if (!c.sim.run_until(
          [&] {
            auto l = c.leader();
            if (!l) return false;
            for (SimNodeId i : nodes) {
              if (!c.raft(i) || c.raft(i)->state().leader != l) return false;
            }
            return true;
          },
          seconds(10))) {
    return std::nullopt;
  }
  return c.leader();
}

std::optional<SimNodeId> wait_for_leader(Cluster& c) {
  return wait_for_leader_among(c, {0, 1, 2});
}

// Puts `count` values through `node`, one after another; returns how many succeeded.
size_t put_many(Cluster& c, SimNodeId node, int count, const std::string& key = "k") {
  size_t ok = 0;
  for (int i = 1; i <= count; ++i) {
    bool done = false;
    c.sim.post(node, [&, i] {
      c.kv(node)->put(key, i, [&](Status s) {
        ok += s.ok() ? 1 : 0;
        done = true;
      });
    });
    c.sim.run_until([&] { return done; }, seconds(5));
  }
  return ok;
}

// Goal: one follower's disk stalls for seconds: its acknowledgements wait, but heartbeats and
// votes do not, so nobody starts an election and the term stays the same; commits continue
// through the healthy majority.
TEST(RaftScenario, DiskStallCausesNoElection) {
  for (uint64_t seed : sim_seeds(3)) {
    Cluster c(seed);
    ASSERT_TRUE(c.start("snapshot_entries: 100000\n").ok());
    c.add_election_safety();
    auto leader = wait_for_leader(c);
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed);
    const uint64_t term = c.raft(*leader)->state().term;
    const SimNodeId slow = (*leader + 1) % 3;
    std::vector<double> elections;
    for (SimNodeId i = 0; i < 3; ++i)
      elections.push_back(c.sim.metric_value(i, "nodus_raft_elections_started_total"));
    c.sim.set_disk_latency(slow, seconds(3));
    EXPECT_EQ(put_many(c, *leader, 20), 20u) << replay_hint(seed);
    // While its syncs are outstanding the slow node is not blocked: a task posted to it runs
    // at once (simulated time), and it still follows the same leader.
    const TimePoint posted = c.sim.now();
    std::optional<TimePoint> ran;
    c.sim.post(slow, [&] { ran = c.sim.now(); });
    c.sim.run_for(milliseconds(100));
    ASSERT_TRUE(ran.has_value()) << replay_hint(seed);
    EXPECT_LT(*ran - posted, milliseconds(50)) << replay_hint(seed);
    EXPECT_EQ(c.raft(slow)->state().leader, std::optional<PeerId>(*leader));
    c.sim.run_for(seconds(8));
    for (SimNodeId i = 0; i < 3; ++i) {
      EXPECT_EQ(c.raft(i)->state().term, term) << "node " << i << " " << replay_hint(seed);
      EXPECT_EQ(c.sim.metric_value(i, "nodus_raft_elections_started_total"), elections[i])
          << "node " << i << " " << replay_hint(seed);
    }
    EXPECT_EQ(c.leader(), leader);
    // The slow follower still catches up once its syncs complete.
    c.sim.set_disk_latency(slow, Duration::zero());
    EXPECT_TRUE(c.sim.run_until([&] { return c.converged(); }, seconds(10))) << replay_hint(seed);
    EXPECT_EQ(c.kv(slow)->local_value("k"), 20);
    EXPECT_TRUE(c.sim.failure().ok()) << c.sim.failure().to_string();
  }
}

// Goal: a node that was down while the others compacted catches up by a chunked snapshot
// stream, while heartbeats keep flowing (no election, same leader and term).
TEST(RaftScenario, SnapshotTransferCatchesUpALaggingNode) {
  for (uint64_t seed : sim_seeds(3)) {
    Cluster c(seed);
    ASSERT_TRUE(c.start("snapshot_entries: 20\nsnapshot_chunk_bytes: 16\n").ok());
    c.add_election_safety();
    auto leader = wait_for_leader(c);
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed);
    const SimNodeId lagging = (*leader + 2) % 3;
    c.sim.crash(lagging);
    // Many keys make the image span many chunks.
    for (int k = 0; k < 10; ++k)
      EXPECT_EQ(put_many(c, *leader, 10, "key" + std::to_string(k)), 10u) << replay_hint(seed);
    const uint64_t term = c.raft(*leader)->state().term;
    ASSERT_TRUE(c.sim.restart(lagging).ok());
    EXPECT_TRUE(c.sim.run_until([&] { return c.converged(); }, seconds(20))) << replay_hint(seed);
    EXPECT_GE(c.sim.metric_value(lagging, "nodus_raft_snapshots_received_total"), 1)
        << replay_hint(seed);
    EXPECT_EQ(c.kv(lagging)->local_value("key9"), 10);
    EXPECT_EQ(c.raft(*leader)->state().term, term);
    EXPECT_EQ(c.leader(), leader);
    EXPECT_TRUE(c.sim.failure().ok()) << c.sim.failure().to_string();
  }
}

// Goal: a node outside the configuration joins as a learner (replicates, never votes), is
// promoted to voter, and a voter is removed; data stays consistent throughout.
TEST(RaftScenario, MembershipLearnerPromoteRemove) {
  for (uint64_t seed : sim_seeds(3)) {
    Cluster c(seed);
    ASSERT_TRUE(c.start(std::string(kRaftConfig) + "voters: [0, 1]\n").ok());
    c.add_election_safety();
    auto leader = wait_for_leader_among(c, {0, 1});
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed);
    auto change = [&](MembershipChange kind, PeerId peer) {
      std::optional<Status> result;
      c.sim.post(*leader, [&] {
        c.raft(*leader)->change_membership(kind, peer, [&](Status s) { result = s; });
      });
      c.sim.run_until([&] { return result.has_value(); }, seconds(5));
      return result.value_or(deadline_exceeded("no answer"));
    };
    EXPECT_EQ(put_many(c, *leader, 5), 5u);
    Status st = change(MembershipChange::kAddLearner, 2);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed);
    EXPECT_TRUE(c.sim.run_until(
        [&] {
          return c.raft(2)->state().role == ConsensusRole::kLearner &&
                 c.kv(2)->local_value("k") == 5;
        },
        seconds(5)))
        << replay_hint(seed);
    st = change(MembershipChange::kAddVoter, 2);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed);
    const SimNodeId other = *leader == 0 ? 1 : 0;
    st = change(MembershipChange::kRemove, other);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed);
    EXPECT_EQ(put_many(c, *leader, 5, "after"), 5u);
    const ConsensusState s = c.raft(*leader)->state();
    EXPECT_EQ(std::set<PeerId>(s.voters.begin(), s.voters.end()), std::set<PeerId>({*leader, 2}));
    EXPECT_TRUE(c.sim.run_until([&] { return c.kv(2)->local_value("after") == 5; }, seconds(5)));
    EXPECT_TRUE(c.sim.failure().ok()) << c.sim.failure().to_string();
  }
}

// Goal: leadership moves to the named node on request, and writes continue there.
TEST(RaftScenario, LeadershipTransfer) {
  for (uint64_t seed : sim_seeds(3)) {
    Cluster c(seed);
    ASSERT_TRUE(c.start().ok());
    c.add_election_safety();
    auto leader = wait_for_leader(c);
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed);
    EXPECT_EQ(put_many(c, *leader, 5), 5u);
    const SimNodeId target = (*leader + 1) % 3;
    std::optional<Status> result;
    c.sim.post(*leader, [&] {
      c.raft(*leader)->transfer_leadership(target, [&](Status s) { result = s; });
    });
    ASSERT_TRUE(c.sim.run_until([&] { return result.has_value(); }, seconds(5)));
    const auto new_leader = wait_for_leader(c);
    EXPECT_TRUE(result->ok()) << result->to_string() << " " << replay_hint(seed) << c.dump();
    EXPECT_TRUE(new_leader == target) << replay_hint(seed) << c.dump();
    EXPECT_EQ(put_many(c, target, 5, "k2"), 5u);
    EXPECT_TRUE(c.sim.failure().ok()) << c.sim.failure().to_string();
  }
}

// Goal: the operator's `failover` command (nodus/services/admin.h), run through the harness
// as the supervisor would, moves leadership to the asked-for voter and says so; Raft's status
// section shows the roles and the term; a follower refuses the command naming the leader.
TEST(RaftScenario, FailoverCommandAndStatusSection) {
  for (uint64_t seed : sim_seeds(2)) {
    Cluster c(seed);
    ASSERT_TRUE(c.start().ok());
    auto leader = wait_for_leader(c);
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed);
    const auto section = c.sim.status_section(*leader, "io.nodus.consensus.raft");
    ASSERT_TRUE(section.has_value()) << replay_hint(seed);
    EXPECT_NE(section->json.find("\"role\":\"leader\""), std::string::npos) << section->json;
    EXPECT_EQ(section->column.rfind("term ", 0), 0u) << section->column;

    const SimNodeId target = (*leader + 1) % 3;
    const SimNodeId other = (*leader + 2) % 3;
    std::optional<Result<CommandResult>> refused;
    c.sim.command(other, "failover", {}, [&](Result<CommandResult> r) { refused = r; });
    std::optional<Result<CommandResult>> moved;
    c.sim.command(*leader, "failover", {{"to", std::to_string(target)}},
                  [&](Result<CommandResult> r) { moved = r; });
    ASSERT_TRUE(
        c.sim.run_until([&] { return moved.has_value() && refused.has_value(); }, seconds(10)))
        << replay_hint(seed);
    ASSERT_TRUE(moved->ok()) << moved->status().to_string() << replay_hint(seed);
    EXPECT_EQ((*moved)->leader, std::optional<uint32_t>(target)) << replay_hint(seed);
    EXPECT_EQ((*moved)->text, "leadership moved from instance " + std::to_string(*leader) +
                                  " to instance " + std::to_string(target));
    EXPECT_NE((*moved)->json.find("\"previous\":" + std::to_string(*leader)), std::string::npos);
    ASSERT_FALSE(refused->ok());
    EXPECT_NE(refused->status().message().find("is not the raft leader"), std::string::npos)
        << refused->status().to_string();
    EXPECT_TRUE(wait_for_leader(c) == target) << replay_hint(seed) << c.dump();
    EXPECT_TRUE(c.sim.failure().ok()) << c.sim.failure().to_string();
  }
}

// Goal: a leader that handed leadership over serves no lease read afterwards. The new leader's
// messages to it are lost, so it learns late that it was deposed; meanwhile the new leader
// commits a write, and a read at the old leader must not miss it (judged by the
// linearizability checker). Every node's clock drifts, within lease_clock_drift_ppm.
TEST(RaftScenario, LeaseReadAfterTransferIsNotStale) {
  for (uint64_t seed : sim_seeds(3)) {
    Cluster c(seed);
    ASSERT_TRUE(
        c.start(std::string(kRaftConfig) + "read_mode: lease\nlease_clock_drift_ppm: 100000\n")
            .ok());
    c.add_election_safety();
    for (SimNodeId i = 0; i < 3; ++i) {
      c.sim.set_clock_drift_ppm(i,
                                static_cast<double>(c.sim.random().uniform(0, 160'000)) - 80'000.0);
    }
    auto old = wait_for_leader(c);
    ASSERT_TRUE(old.has_value()) << replay_hint(seed);
    KvHistory h;
    auto put = [&](SimNodeId node, int64_t value) {
      const size_t op = h.invoke(1, KvOp::put("k", value), c.sim.now());
      bool done = false;
      c.sim.post(node, [&, op] {
        c.kv(node)->put("k", value, [&, op](Status s) {
          if (s.ok()) h.complete(op, 0, c.sim.now());
          done = true;
        });
      });
      c.sim.run_until([&] { return done; }, seconds(3));
    };
    put(*old, 1);
    c.sim.run_for(milliseconds(200));  // both followers acknowledge it: the target is caught up
    const SimNodeId target = (*old + 1) % 3;
    for (SimNodeId i = 0; i < 3; ++i) {
      if (i != *old) c.sim.network().block(i, *old);
    }
    c.sim.post(*old, [&] { c.raft(*old)->transfer_leadership(target, [](Status) {}); });
    ASSERT_TRUE(c.sim.run_until(
        [&] { return c.raft(target)->state().role == ConsensusRole::kLeader; }, seconds(2)))
        << replay_hint(seed) << c.dump();
    put(target, 2);
    ASSERT_EQ(c.kv(target)->local_value("k"), 2) << replay_hint(seed);
    c.sim.run_for(milliseconds(1));  // the read starts strictly after the write completed
    const size_t read = h.invoke(2, KvOp::get("k"), c.sim.now());
    bool answered = false;
    c.sim.post(*old, [&] {
      c.kv(*old)->get("k", [&](Result<int64_t> r) {
        if (r.ok()) {
          h.complete(read, *r, c.sim.now());
        } else {
          h.fail(read);
        }
        answered = true;
      });
    });
    c.sim.run_until([&] { return answered; }, seconds(3));
    EXPECT_TRUE(answered) << replay_hint(seed);
    const Status lin = check_linearizable(h, 100'000);
    EXPECT_TRUE(lin.ok()) << replay_hint(seed) << lin.to_string();
    EXPECT_TRUE(c.sim.failure().ok()) << c.sim.failure().to_string();
  }
}

}  // namespace
}  // namespace nodus::testing
