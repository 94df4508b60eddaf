// Datagrams in the simulation harness, through io.nodus.simtest.dgecho: loss, duplication and
// reordering drawn from the seed (a seed replays the same trace), partitions, and executor
// stalls (handling waits, the bounded queue overflows).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dgecho_api.h"
#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/sim_faults.h"

namespace nodus::testing {
namespace {

using simtest::DatagramEcho;
using std::chrono::milliseconds;

constexpr uint16_t kGossip = 7946;

SimOptions options(uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  o.nodes = 3;
  o.ports = {{"gossip", kGossip}};
  o.capture_logs = false;
  return o;
}

// Node 0 sends `count` numbered datagrams to node 1, one per millisecond.
void send_numbered(SimCluster& sim, int count) {
  for (int i = 0; i < count; ++i) {
    sim.at(milliseconds(i), [&sim, i] {
      sim.post(0, [&sim, i] {
        auto* echo = sim.find<DatagramEcho>(0);
        ASSERT_NE(echo, nullptr);
        ASSERT_TRUE(echo->send(SimDatagramNetwork::address(1, kGossip), std::to_string(i)).ok());
      });
    });
  }
}

std::vector<std::string> payloads(SimCluster& sim, SimNodeId node) {
  std::vector<std::string> out;
  for (const auto& r : sim.find<DatagramEcho>(node)->received())
    out.push_back(r.payload);
  return out;
}

struct LossyRun {
  uint64_t trace = 0;
  std::vector<std::string> at_receiver;  // node 1, in handling order
  std::vector<std::string> echoes;       // node 0
  SimDatagramStats stats;
};

LossyRun lossy_run(uint64_t seed) {
  SimCluster sim(options(seed));
  EXPECT_TRUE(sim.add_plugin(DGECHO_PLUGIN).ok());
  EXPECT_TRUE(sim.start().ok());
  sim.network().set_all({.drop = 0.2, .duplicate = 0.2, .reorder = 0.3});
  send_numbered(sim, 200);
  EXPECT_TRUE(sim.run_for(std::chrono::seconds(1))) << sim.failure().to_string();
  return {sim.trace_hash(), payloads(sim, 1), payloads(sim, 0), sim.datagrams().stats()};
}

// Goal: loss, duplication and reordering all happen, and the same seed replays the same run
// (same trace hash, same datagrams in the same order); another seed differs.
TEST(DatagramSim, LossDuplicationReorderingReplayFromTheSeed) {
  const LossyRun a = lossy_run(42);
  const LossyRun b = lossy_run(42);
  const LossyRun c = lossy_run(43);
  EXPECT_GT(a.stats.lost, 0u);
  EXPECT_GT(a.stats.duplicated, 0u);
  std::vector<int> order;
  for (const auto& p : a.at_receiver)
    order.push_back(std::stoi(p));
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end())) << "no datagram was reordered";
  std::vector<int> distinct = order;
  std::sort(distinct.begin(), distinct.end());
  EXPECT_LT(std::unique(distinct.begin(), distinct.end()) - distinct.begin(), 200)
      << "no datagram was lost";
  EXPECT_GT(order.size(),
            static_cast<size_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin()))
      << "no duplicate was handled";
  EXPECT_EQ(a.trace, b.trace);
  EXPECT_EQ(a.at_receiver, b.at_receiver);
  EXPECT_EQ(a.echoes, b.echoes);
  EXPECT_NE(a.trace, c.trace);
}

// Goal: a partition drops every datagram across it, both ways, while the sides still talk.
TEST(DatagramSim, PartitionDropsEverythingAcrossIt) {
  SimCluster sim(options(7));
  ASSERT_TRUE(sim.add_plugin(DGECHO_PLUGIN).ok());
  ASSERT_TRUE(sim.start().ok());
  sim.network().partition({0}, {1, 2});
  send_numbered(sim, 50);
  sim.post(2, [&sim] {
    ASSERT_TRUE(sim.find<DatagramEcho>(2)->send(SimDatagramNetwork::address(1, kGossip), "x").ok());
  });
  ASSERT_TRUE(sim.run_for(milliseconds(500)));
  ASSERT_EQ(sim.find<DatagramEcho>(1)->received().size(), 1u);
  EXPECT_EQ(sim.find<DatagramEcho>(1)->received().front().payload, "x");
  ASSERT_EQ(sim.find<DatagramEcho>(2)->received().size(), 1u);
  EXPECT_EQ(sim.find<DatagramEcho>(2)->received().front().payload, "echo:x");
  EXPECT_TRUE(sim.find<DatagramEcho>(0)->received().empty());
  EXPECT_EQ(sim.datagrams().stats().lost, 50u);
  EXPECT_EQ(sim.metric_value(0, "nodus_datagram_sent_total"), 50);

  // Healed, the same traffic gets through.
  sim.network().heal();
  send_numbered(sim, 10);
  ASSERT_TRUE(sim.run_for(milliseconds(500)));
  EXPECT_EQ(sim.find<DatagramEcho>(0)->received().size(), 10u);
}

// Goal: a datagram in flight when the partition starts is lost too.
TEST(DatagramSim, PartitionCutsDatagramsInFlight) {
  SimCluster sim(options(9));
  ASSERT_TRUE(sim.add_plugin(DGECHO_PLUGIN, "echo: false").ok());
  ASSERT_TRUE(sim.start().ok());
  sim.network().set_all({.latency_min = milliseconds(50), .latency_max = milliseconds(50)});
  send_numbered(sim, 1);
  sim.at(milliseconds(10), [&sim] { sim.network().partition({0}, {1}); });
  ASSERT_TRUE(sim.run_for(milliseconds(200)));
  EXPECT_TRUE(sim.find<DatagramEcho>(1)->received().empty());
  EXPECT_EQ(sim.datagrams().stats().lost, 1u);
}

// Goal: an executor stall delays handling (the datagram waits at the socket) and a long one
// overflows the bounded receive queue, with the drops counted.
TEST(DatagramSim, ExecutorStallDelaysHandlingAndFillsTheQueue) {
  SimCluster sim(options(5));
  ASSERT_TRUE(sim.add_plugin(DGECHO_PLUGIN, "echo: false\nreceive_queue_max: 4").ok());
  ASSERT_TRUE(sim.start().ok());
  const TimePoint t0 = sim.now();
  sim.stall(1, milliseconds(100));
  send_numbered(sim, 20);  // at t0 .. t0 + 19 ms, all arriving during the stall
  ASSERT_TRUE(sim.run_for(milliseconds(300)));
  const auto& got = sim.find<DatagramEcho>(1)->received();
  ASSERT_EQ(got.size(), 4u);
  for (const auto& r : got)
    EXPECT_GE(r.at - t0, milliseconds(100)) << "handled during the stall";
  EXPECT_EQ(sim.metric_value(1, "nodus_datagram_dropped_total"), 16);
  EXPECT_EQ(sim.metric_value(1, "nodus_datagram_received_total"), 4);
}

// Goal: the fault injector's executor stall is drawn from the seed and replays, like the
// others, and is named in its log.
TEST(DatagramSim, FaultInjectorStallsExecutors) {
  auto run = [](uint64_t seed) {
    SimCluster sim(options(seed));
    EXPECT_TRUE(sim.add_plugin(DGECHO_PLUGIN).ok());
    EXPECT_TRUE(sim.start().ok());
    FaultInjector nemesis(sim, {.kinds = kFaultExecutorStall, .mean_interval = milliseconds(20)});
    nemesis.schedule(milliseconds(400));
    send_numbered(sim, 300);
    EXPECT_TRUE(sim.run_for(milliseconds(600)));
    return std::make_pair(sim.trace_hash(), nemesis.describe());
  };
  const auto a = run(3);
  const auto b = run(3);
  EXPECT_NE(a.second.find("executor stall node"), std::string::npos) << a.second;
  EXPECT_EQ(a, b);
  EXPECT_STREQ(fault_kind_name(kFaultExecutorStall), "executor_stall");
}

}  // namespace
}  // namespace nodus::testing
