// Simulation tests of io.nodus.simtest.gcounter: replicas converge after every fault kind,
// no acknowledged increment is lost, and the planted merge bug is caught.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gcounter_api.h"
#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/sim_faults.h"
#include "nodus/testing/sim_checkers.h"
#include "nodus/testing/sim_gtest.h"

namespace nodus::testing {
namespace {

using simtest::GCounterService;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint32_t kNodes = 3;

struct Outcome {
  Status status;
  std::string faults;
};

Outcome run_gcounter(uint64_t seed, uint32_t faults, bool planted_bug) {
  SimOptions options;
  options.seed = seed;
  options.nodes = kNodes;
  options.capture_logs = false;
  SimCluster sim(options);
  Outcome out;
  out.status = sim.add_plugin(GCOUNTER_PLUGIN, planted_bug ? "unsafe_merge_by_sum: true" : "");
  if (out.status.ok()) out.status = sim.start();
  if (!out.status.ok()) return out;
  FaultPlan plan;
  plan.kinds = faults;
  FaultInjector nemesis(sim, plan);
  nemesis.schedule(seconds(2));
  // Increments at random nodes every few milliseconds while the faults run.
  auto acknowledged = std::make_shared<int64_t>(0);
  for (int i = 0; i < 200; ++i) {
    const auto node = static_cast<SimNodeId>(sim.random().uniform(0, kNodes - 1));
    sim.at(milliseconds(10 * i), [&sim, node, acknowledged] {
      sim.post(node, [&sim, node, acknowledged] {
        if (auto* g = sim.find<GCounterService>(node); g && g->increment(1).ok()) {
          ++*acknowledged;
        }
      });
    });
  }
  sim.run_for(seconds(3));  // one quiet second after the heal at 2 s
  out.faults = nemesis.describe();
  std::vector<Replica> replicas;
  for (SimNodeId i = 0; i < kNodes; ++i) {
    auto* g = sim.find<GCounterService>(i);
    if (!g) {
      out.status = internal_error("node " + std::to_string(i) + " is down after the heal");
      return out;
    }
    replicas.push_back({i, g->digest()});
  }
  out.status = check_convergence(replicas);
  if (out.status.ok() && sim.find<GCounterService>(0)->total() < *acknowledged) {
    out.status = failed_precondition("acknowledged increments lost: total " +
                                     std::to_string(sim.find<GCounterService>(0)->total()) + " < " +
                                     std::to_string(*acknowledged));
  }
  if (out.status.ok() && *acknowledged == 0) out.status = internal_error("nothing ran");
  return out;
}

// Goal: after any fault kind heals, every replica holds the same counts and nothing
// acknowledged is lost.
class GCounterUnderFaults : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GCounterUnderFaults, Converges) {
  for (uint64_t seed : sim_seeds(10)) {
    Outcome r = run_gcounter(seed, GetParam(), false);
    ASSERT_TRUE(r.status.ok()) << replay_hint(seed) << r.status.to_string() << "\nfaults:\n"
                               << r.faults;
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, GCounterUnderFaults,
                         ::testing::Values(kFaultDrop, kFaultDuplicate, kFaultReorder,
                                           kFaultPartition, kFaultOneWayPartition,
                                           kFaultCrashLoseUnsynced, kAllFaults),
                         [](const ::testing::TestParamInfo<uint32_t>& p) {
                           return std::string(fault_kind_name(p.param));
                         });

// Goal: the convergence checker catches the planted non-idempotent merge.
TEST(GCounterSim, ConvergenceCheckerCatchesPlantedBug) {
  Outcome r = run_gcounter(1, kFaultDuplicate, true);
  EXPECT_EQ(r.status.code(), StatusCode::kFailedPrecondition) << r.status.to_string();
  EXPECT_NE(r.status.message().find("diverged"), std::string::npos) << r.status.to_string();
}

// Goal: the simulator grows and shrinks a running cluster. A node added mid-run is a peer of
// every node from then on and converges with them, its own increments included; a removed
// node is nobody's peer and never comes back, and the rest still converge.
TEST(GCounterSim, NodeAddedAndRemovedWhileRunning) {
  for (uint64_t seed : sim_seeds(5)) {
    SimOptions options;
    options.seed = seed;
    options.nodes = kNodes;
    SimCluster sim(options);
    ASSERT_TRUE(sim.add_plugin(GCOUNTER_PLUGIN).ok());
    ASSERT_TRUE(sim.start().ok());
    for (SimNodeId i = 0; i < kNodes; ++i)
      sim.post(i, [&sim, i] { ASSERT_TRUE(sim.find<GCounterService>(i)->increment(1).ok()); });
    sim.run_for(milliseconds(500));
    const Result<SimNodeId> added = sim.add_node();
    ASSERT_TRUE(added.ok()) << added.status().to_string();
    ASSERT_EQ(*added, kNodes);
    ASSERT_EQ(sim.size(), kNodes + 1);
    EXPECT_EQ(sim.network().transport(0).peers().size(), kNodes) << "node 0 lists the new one";
    sim.post(*added,
             [&sim, n = *added] { ASSERT_TRUE(sim.find<GCounterService>(n)->increment(10).ok()); });
    auto totals_are = [&](int64_t want, const std::vector<SimNodeId>& nodes) {
      for (SimNodeId n : nodes) {
        auto* g = sim.find<GCounterService>(n);
        if (g == nullptr || g->total() != want) return false;
      }
      return true;
    };
    ASSERT_TRUE(sim.run_until(
        [&] {
          return totals_are(13, {0, 1, 2, 3});
        },
        seconds(5)))
        << replay_hint(seed);
    ASSERT_TRUE(sim.remove_node(1).ok());
    EXPECT_TRUE(sim.removed(1));
    EXPECT_FALSE(sim.up(1));
    EXPECT_EQ(sim.restart(1).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(sim.remove_node(1).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(sim.network().transport(0).peers().size(), kNodes - 1) << "node 1 is gone";
    EXPECT_EQ(sim.network().transport(0).send(1, "x", "y").code(), StatusCode::kNotFound);
    sim.post(0, [&sim] { ASSERT_TRUE(sim.find<GCounterService>(0)->increment(100).ok()); });
    EXPECT_TRUE(sim.run_until(
        [&] {
          return totals_are(113, {0, 2, 3});
        },
        seconds(5)))
        << replay_hint(seed);
    EXPECT_TRUE(sim.failure().ok()) << sim.failure().to_string();
  }
}

// Goal: a cluster cannot grow before it started, nor take plugins after.
TEST(GCounterSim, GrowthMisuseIsRefused) {
  SimCluster sim(SimOptions{});
  EXPECT_EQ(sim.add_node().status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sim.add_plugin(GCOUNTER_PLUGIN).ok());
  ASSERT_TRUE(sim.start().ok());
  EXPECT_EQ(sim.add_plugin(GCOUNTER_PLUGIN).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(sim.remove_node(7).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace nodus::testing
