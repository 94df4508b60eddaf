// nodus/harness/consensus_conformance.h: the conformance suite of nodus.consensus/v1. Any
// plugin that provides the capability, ours or a third party's, runs it against its own .so
// file: each test starts a simulated cluster of the plugin and the harness's key-value state
// machine, on several seeds, and checks what the capability's contract
// (nodus/capabilities/consensus.h) promises.
//
// Include this header in exactly one .cc file of a test binary (it defines the tests), link
// nodus::harness and GoogleTest, and instantiate it:
//
//   #include <nodus/harness/consensus_conformance.h>
//   INSTANTIATE_TEST_SUITE_P(
//       MyRaft, nodus::testing::ConsensusConformance,
//       ::testing::Values(nodus::testing::ConsensusSubject{
//           .name = "MyRaft", .plugin = MY_PLUGIN_FILE, .kv_plugin = CONSENSUS_KV_PLUGIN,
//           .config_yaml = "election_timeout_ms: [150, 300]\n"}),
//       nodus::testing::consensus_subject_name);
//
// A failure prints its seed and the command that replays it (NODUS_SIM_SEED=...).
#pragma once

#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nodus/harness/consensus_cluster.h"
#include "nodus/testing/sim_gtest.h"

namespace nodus::testing {

class ConsensusConformance : public ::testing::TestWithParam<ConsensusSubject> {
 protected:
  std::vector<uint64_t> seeds() const { return sim_seeds(GetParam().seeds); }
};

// Test output names the subject, not its bytes.
inline void PrintTo(const ConsensusSubject& s, std::ostream* out) {
  *out << s.name << " (" << s.plugin.string() << ")";
}

#define ASSERT_OK_START(cluster, seed)                                              \
  do {                                                                              \
    const ::nodus::Status started_ = (cluster).start();                             \
    ASSERT_TRUE(started_.ok()) << started_.to_string() << " " << replay_hint(seed); \
  } while (false)

inline std::string consensus_subject_name(const ::testing::TestParamInfo<ConsensusSubject>& info) {
  return info.param.name;
}

// One leader is elected and every node learns who it is; no two nodes ever lead one term
// (checked after every event, as in every test of this suite).
TEST_P(ConsensusConformance, ElectsOneLeaderEveryNodeKnows) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto leader = c.wait_for_leader();
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed) << "\n" << c.dump();
    const ConsensusState s = c.consensus(*leader)->state();
    EXPECT_EQ(s.role, ConsensusRole::kLeader);
    EXPECT_GT(s.term, 0u) << "a leader's term starts at 1";
    EXPECT_TRUE(c.sim().failure().ok()) << c.sim().failure().to_string();
  }
}

// Writes through the leader commit, and every node applies the same commands in the same
// order, each once.
TEST_P(ConsensusConformance, AppliesTheSameCommandsInTheSameOrderEverywhere) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto leader = c.wait_for_leader();
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed) << "\n" << c.dump();
    for (int i = 1; i <= 20; ++i) {
      const Status st = c.put(*leader, "k" + std::to_string(i % 3), i);
      ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed);
    }
    ASSERT_TRUE(c.wait_converged()) << replay_hint(seed) << "\n" << c.dump();
    for (SimNodeId n : c.live_nodes()) {
      EXPECT_EQ(c.kv(n)->local_value("k2"), 20) << "node " << n << " " << replay_hint(seed);
      EXPECT_EQ(c.kv(n)->order_errors(), 0u) << "node " << n;
    }
    EXPECT_TRUE(c.sim().failure().ok()) << c.sim().failure().to_string();
  }
}

// A proposal made on a follower either commits (forwarded to the leader) or fails with a
// retriable error; a committed one is on every node.
TEST_P(ConsensusConformance, FollowerProposalCommitsOrIsRetriable) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto leader = c.wait_for_leader();
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed) << "\n" << c.dump();
    const SimNodeId follower = (*leader + 1) % 3;
    const Status st = c.put(follower, "f", 7);
    ASSERT_TRUE(st.ok() || is_retriable(st)) << st.to_string() << " " << replay_hint(seed);
    ASSERT_TRUE(c.wait_converged()) << replay_hint(seed) << "\n" << c.dump();
    if (st.ok()) {
      for (SimNodeId n : c.live_nodes())
        EXPECT_EQ(c.kv(n)->local_value("f"), 7) << "node " << n << " " << replay_hint(seed);
    }
  }
}

// A read_index() barrier on any node sees every write acknowledged before it began.
TEST_P(ConsensusConformance, ReadIndexSeesEveryEarlierWrite) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto leader = c.wait_for_leader();
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed) << "\n" << c.dump();
    for (int i = 1; i <= 5; ++i) {
      ASSERT_TRUE(c.put(*leader, "r", i).ok()) << replay_hint(seed);
      for (SimNodeId n : c.live_nodes()) {
        const Result<int64_t> v = c.get(n, "r");
        if (!v.ok()) {  // a barrier may refuse (no leader reachable), never answer stale
          EXPECT_TRUE(is_retriable(v.status())) << v.status().to_string();
          continue;
        }
        EXPECT_EQ(*v, i) << "stale read on node " << n << " " << replay_hint(seed);
      }
    }
  }
}

// The leader crashes: the others elect a new one and keep committing; the old leader comes
// back, catches up, and nothing acknowledged is lost.
TEST_P(ConsensusConformance, SurvivesALeaderCrash) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto first = c.wait_for_leader();
    ASSERT_TRUE(first.has_value()) << replay_hint(seed) << "\n" << c.dump();
    ASSERT_TRUE(c.put(*first, "before", 1).ok()) << replay_hint(seed);
    c.sim().crash(*first);
    const auto second = c.wait_for_leader();
    ASSERT_TRUE(second.has_value()) << replay_hint(seed) << "\n" << c.dump();
    EXPECT_NE(*second, *first);
    ASSERT_TRUE(c.put(*second, "after", 2).ok()) << replay_hint(seed);
    ASSERT_TRUE(c.sim().restart(*first).ok()) << replay_hint(seed);
    ASSERT_TRUE(c.wait_converged()) << replay_hint(seed) << "\n" << c.dump();
    EXPECT_EQ(c.kv(*first)->local_value("before"), 1);
    EXPECT_EQ(c.kv(*first)->local_value("after"), 2);
    EXPECT_TRUE(c.sim().failure().ok()) << c.sim().failure().to_string();
  }
}

// A leader cut off from the majority acknowledges nothing while the majority elects a new
// leader and commits; after the heal every node agrees again. (The cut-off write was not
// acknowledged, so the contract lets it commit later or never.)
TEST_P(ConsensusConformance, MinorityLeaderCommitsNothing) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto old = c.wait_for_leader();
    ASSERT_TRUE(old.has_value()) << replay_hint(seed) << "\n" << c.dump();
    std::vector<SimNodeId> majority;
    for (SimNodeId n : c.live_nodes()) {
      if (n != *old) majority.push_back(n);
    }
    c.sim().network().partition({*old}, majority);
    const Status cut_off = c.put(*old, "m", 1);
    EXPECT_FALSE(cut_off.ok()) << "a leader without a majority acknowledged a write "
                               << replay_hint(seed);
    const auto fresh = c.wait_for_leader(majority);
    ASSERT_TRUE(fresh.has_value()) << replay_hint(seed) << "\n" << c.dump();
    ASSERT_NE(*fresh, *old);
    ASSERT_TRUE(c.put(*fresh, "m", 2).ok()) << replay_hint(seed);
    EXPECT_EQ(c.kv(*fresh)->local_value("m"), 2) << replay_hint(seed);
    c.sim().network().heal();
    ASSERT_TRUE(c.wait_converged()) << replay_hint(seed) << "\n" << c.dump();
    EXPECT_TRUE(c.sim().failure().ok()) << c.sim().failure().to_string();
  }
}

// Leadership moves to the node asked for, and writes continue there.
TEST_P(ConsensusConformance, TransfersLeadershipOnRequest) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto leader = c.wait_for_leader();
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed) << "\n" << c.dump();
    ASSERT_TRUE(c.put(*leader, "t", 1).ok()) << replay_hint(seed);
    const SimNodeId target = (*leader + 1) % 3;
    const Status st = c.transfer_leadership(*leader, target);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed);
    const auto now_leading = c.wait_for_leader();
    ASSERT_EQ(now_leading, std::optional<SimNodeId>(target)) << replay_hint(seed) << c.dump();
    EXPECT_TRUE(c.put(target, "t", 2).ok()) << replay_hint(seed);
  }
}

// The cluster grows and shrinks while it runs: a new node joins as a learner (it replicates
// and never votes), is promoted to voter, and an old node is removed; writes continue and
// every remaining node converges.
TEST_P(ConsensusConformance, GrowsAndShrinksOneNodeAtATime) {
  for (uint64_t seed : seeds()) {
    ConsensusCluster c(GetParam(), seed);
    ASSERT_OK_START(c, seed);
    const auto leader = c.wait_for_leader();
    ASSERT_TRUE(leader.has_value()) << replay_hint(seed) << "\n" << c.dump();
    ASSERT_TRUE(c.put(*leader, "g", 1).ok()) << replay_hint(seed);
    const Result<SimNodeId> added = c.sim().add_node();
    ASSERT_TRUE(added.ok()) << added.status().to_string();
    Status st = c.change_membership(*leader, MembershipChange::kAddLearner, *added);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed) << "\n" << c.dump();
    ASSERT_TRUE(c.sim().run_until(
        [&] { return c.kv(*added) != nullptr && c.kv(*added)->local_value("g") == 1; },
        GetParam().operation_limit))
        << "the learner did not catch up " << replay_hint(seed) << "\n"
        << c.dump();
    EXPECT_EQ(c.consensus(*added)->state().role, ConsensusRole::kLearner);
    st = c.change_membership(*leader, MembershipChange::kAddVoter, *added);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed) << "\n" << c.dump();
    const SimNodeId leaving = (*leader + 1) % 3;
    st = c.change_membership(*leader, MembershipChange::kRemove, leaving);
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << replay_hint(seed) << "\n" << c.dump();
    ASSERT_TRUE(c.sim().remove_node(leaving).ok());
    ASSERT_TRUE(c.put(*leader, "g", 2).ok()) << replay_hint(seed) << "\n" << c.dump();
    const ConsensusState s = c.consensus(*leader)->state();
    const std::set<PeerId> voters(s.voters.begin(), s.voters.end());
    EXPECT_EQ(voters.count(*added), 1u);
    EXPECT_EQ(voters.count(leaving), 0u);
    ASSERT_TRUE(c.wait_converged()) << replay_hint(seed) << "\n" << c.dump();
    EXPECT_EQ(c.kv(*added)->local_value("g"), 2);
    EXPECT_TRUE(c.sim().failure().ok()) << c.sim().failure().to_string();
  }
}

// A plugin that takes its time, randomness and messages only from the SDK's services replays
// exactly: the same seed gives the same trace. (Threads, sleeps or wall-clock reads of its
// own break this, and with it every seed a failure prints.)
TEST_P(ConsensusConformance, SameSeedSameTrace) {
  auto run = [&](uint64_t seed) {
    ConsensusCluster c(GetParam(), seed);
    const Status started = c.start();
    EXPECT_TRUE(started.ok()) << started.to_string();
    const auto leader = c.wait_for_leader();
    if (leader) {
      for (int i = 0; i < 5; ++i)
        (void)c.put(*leader, "d", i);
    }
    c.sim().run_for(std::chrono::seconds(1));
    return c.sim().trace_hash();
  };
  for (uint64_t seed : seeds())
    EXPECT_EQ(run(seed), run(seed)) << replay_hint(seed);
}

}  // namespace nodus::testing
