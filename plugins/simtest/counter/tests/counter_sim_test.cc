// Simulation tests of io.nodus.simtest.counter: a client workload under every fault kind,
// judged by the linearizability checker and a plugin invariant, and the planted bug caught.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "counter_api.h"
#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/sim_faults.h"
#include "nodus/harness/test_node.h"
#include "nodus/testing/linearizability.h"
#include "nodus/testing/sim_gtest.h"

namespace nodus::testing {
namespace {

using simtest::CounterService;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint32_t kNodes = 3;
constexpr SimNodeId kLeader = 0;

struct RunOutcome {
  Status status;         // the first checker or invariant failure
  uint64_t trace = 0;    // event trace hash
  size_t completed = 0;  // operations with a response
  std::string faults;    // what the nemesis did, for failure reports
};

// Closed-loop clients: each sends one operation to a random live node, waits for the answer
// (or gives up after a while, leaving the operation open) and sends the next.
class Workload {
 public:
  Workload(SimCluster& sim, KvHistory& history, Duration until)
      : sim_(sim), history_(history), until_(until) {}

  void start(int clients) {
    for (int c = 0; c < clients; ++c)
      sim_.at(milliseconds(c), [this, c] { issue(static_cast<uint64_t>(c)); });
  }
  size_t completed() const { return completed_; }

 private:
  void issue(uint64_t client) {
    if (sim_.now().time_since_epoch() >= until_) return;
    SimRandom& rng = sim_.random();
    auto node = static_cast<SimNodeId>(rng.uniform(0, kNodes - 1));
    for (uint32_t i = 0; i < kNodes && !sim_.up(node); ++i)
      node = (node + 1) % kNodes;
    if (!sim_.up(node)) return next(client, milliseconds(50));
    const bool is_add = rng.chance(0.6);
    const auto delta = static_cast<int64_t>(rng.uniform(1, 3));
    const size_t op =
        history_.invoke(client, is_add ? KvOp::add("c", delta) : KvOp::get("c"), sim_.now());
    auto answered = std::make_shared<bool>(false);
    sim_.post(node, [this, node, op, is_add, delta, answered, client] {
      auto* counter = sim_.find<CounterService>(node);
      if (!counter) return;
      auto done = [this, op, answered, client](Result<int64_t> r) {
        if (*answered) return;  // the client gave up; the operation stays open
        *answered = true;
        if (r.ok()) {
          history_.complete(op, r.value(), sim_.now());
          ++completed_;
        } else if (r.status().code() == StatusCode::kFailedPrecondition) {
          history_.fail(op);  // certainly not applied
        }
        next(client, milliseconds(sim_.random().uniform(1, 20)));
      };
      is_add ? counter->add(delta, done) : counter->read(done);
    });
    // A client whose node died, or whose answer is lost, gives up and moves on.
    sim_.at(milliseconds(500), [this, answered, client] {
      if (*answered) return;
      *answered = true;
      next(client, milliseconds(200));  // back off: open operations are costly to check
    });
  }

  void next(uint64_t client, Duration after) {
    sim_.at(after, [this, client] { issue(client); });
  }

  SimCluster& sim_;
  KvHistory& history_;
  Duration until_;
  size_t completed_ = 0;
};

RunOutcome run_counter(uint64_t seed, uint32_t faults, bool planted_bug, bool with_invariant) {
  SimOptions options;
  options.seed = seed;
  options.nodes = kNodes;
  options.capture_logs = false;
  SimCluster sim(options);
  RunOutcome out;
  out.status = sim.add_plugin(
      COUNTER_PLUGIN, planted_bug ? "unsafe_ack_before_replication: true" : "timeout_ms: 100");
  if (out.status.ok()) out.status = sim.start();
  if (!out.status.ok()) return out;
  if (with_invariant) {
    // The plugin's own invariant: no follower is ahead of the leader.
    sim.add_invariant("leader_not_behind", [&sim]() -> Status {
      auto* leader = sim.find<CounterService>(kLeader);
      if (!leader) return {};
      for (SimNodeId i = 1; i < kNodes; ++i) {
        auto* f = sim.find<CounterService>(i);
        if (f && f->local_value() > leader->local_value()) {
          return failed_precondition("follower " + std::to_string(i) + " has " +
                                     std::to_string(f->local_value()) + ", leader " +
                                     std::to_string(leader->local_value()));
        }
      }
      return {};
    });
  }
  KvHistory history;
  FaultPlan plan;
  plan.kinds = faults;
  FaultInjector nemesis(sim, plan);
  nemesis.schedule(seconds(2));
  Workload clients(sim, history, seconds(3));
  clients.start(3);
  sim.run_for(seconds(4));
  out.trace = sim.trace_hash();
  out.completed = clients.completed();
  out.faults = nemesis.describe();
  out.status = sim.failure();
  if (out.status.ok()) out.status = check_linearizable(history, 500'000);
  return out;
}

// Goal: with every fault kind on its own and all together, the correct counter stays
// linearizable and keeps its invariant on every seed.
class CounterUnderFaults : public ::testing::TestWithParam<uint32_t> {};

TEST_P(CounterUnderFaults, StaysLinearizable) {
  size_t completed = 0;
  for (uint64_t seed : sim_seeds(50)) {
    RunOutcome r = run_counter(seed, GetParam(), /*planted_bug=*/false, /*with_invariant=*/true);
    ASSERT_TRUE(r.status.ok()) << replay_hint(seed) << r.status.to_string() << "\nfaults:\n"
                               << r.faults;
    completed += r.completed;
  }
  EXPECT_GT(completed, 0u);  // the workload really ran
}

INSTANTIATE_TEST_SUITE_P(Faults, CounterUnderFaults,
                         ::testing::Values(kFaultDrop, kFaultDelay, kFaultDuplicate, kFaultReorder,
                                           kFaultPartition, kFaultOneWayPartition, kFaultCrash,
                                           kFaultCrashLoseUnsynced, kFaultClockSkew,
                                           kFaultClockJump, kFaultSlowDisk, kAllFaults),
                         [](const ::testing::TestParamInfo<uint32_t>& p) {
                           return std::string(fault_kind_name(p.param));
                         });

// Goal: the same seed gives the same event trace; another seed gives another.
TEST(CounterSim, SameSeedSameTrace) {
  const RunOutcome a = run_counter(7, kAllFaults, false, true);
  const RunOutcome b = run_counter(7, kAllFaults, false, true);
  const RunOutcome c = run_counter(8, kAllFaults, false, true);
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.completed, b.completed);
  EXPECT_NE(a.trace, c.trace);
}

// Goal: the planted bug (ack before sync and replication) is caught by the linearizability
// checker alone, under crashes that lose unsynced writes.
TEST(CounterSim, LinearizabilityCheckerCatchesPlantedBug) {
  bool caught = false;
  for (uint64_t seed = 1; seed <= 100 && !caught; ++seed) {
    RunOutcome r = run_counter(seed, kFaultCrashLoseUnsynced, /*planted_bug=*/true,
                               /*with_invariant=*/false);
    if (r.status.code() == StatusCode::kFailedPrecondition) {
      caught = true;
      std::cout << "caught at " << replay_command(seed, "") << r.status.to_string() << "\n";
    }
  }
  EXPECT_TRUE(caught);
}

// Goal: the plugin's own invariant (registered with add_invariant) catches the bug too.
TEST(CounterSim, InvariantCatchesPlantedBug) {
  bool caught = false;
  for (uint64_t seed = 1; seed <= 100 && !caught; ++seed) {
    RunOutcome r = run_counter(seed, kFaultCrashLoseUnsynced, true, true);
    caught = r.status.message().find("invariant leader_not_behind") != std::string::npos;
  }
  EXPECT_TRUE(caught);
}

// Goal: TestNode::restart() starts the plugin again over the storage it wrote: a synced add
// survives the restart, the new plugin takes its transport handlers again, and the next add
// goes on from the recovered value.
TEST(CounterTestNode, RestartRecoversFromStorage) {
  TestNode node;  // one instance: the leader, with no peers to replicate to
  ASSERT_TRUE(node.add_plugin(COUNTER_PLUGIN).ok());
  ASSERT_TRUE(node.start().ok());
  const auto add = [&node](int64_t delta) {
    std::optional<Result<int64_t>> out;
    node.find<CounterService>()->add(delta, [&out](Result<int64_t> r) { out = std::move(r); });
    node.executor().run_until_idle();
    return out;
  };
  const auto first = add(5);
  ASSERT_TRUE(first.has_value() && first->ok());
  EXPECT_EQ(first->value(), 5);

  ASSERT_TRUE(node.restart().ok());
  const CounterService* counter = node.find<CounterService>();
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->local_value(), 5);
  EXPECT_EQ(counter->durable_value(), 5);
  const auto second = add(2);
  ASSERT_TRUE(second.has_value() && second->ok());
  EXPECT_EQ(second->value(), 7);
  // One log over both incarnations: the second add appended after the first.
  auto log = node.storage("io.nodus.simtest.counter").open_log("counter");
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->last_index(), 2u);
}

}  // namespace
}  // namespace nodus::testing
