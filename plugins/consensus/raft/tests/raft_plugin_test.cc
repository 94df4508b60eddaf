// The Raft plugin in one TestNode (fake executor, transport and storage): the bound of the
// pending table, and what a start does with a stored configuration that does not match the
// instances of the profile.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "nodus/capabilities/consensus.h"
#include "nodus/harness/test_node.h"

namespace nodus::testing {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

constexpr const char* kRaftName = "io.nodus.consensus.raft";

// A ConfState (raft.proto: repeated uint32 voters = 1) with these voters, encoded by hand:
// this binary must not link the plugin's protobuf code a second time.
std::string conf_with_voters(const std::vector<uint8_t>& voters) {
  std::string out;
  for (uint8_t v : voters) {
    out.push_back('\x08');  // field 1, varint
    out.push_back(static_cast<char>(v));
  }
  return out;
}

// A single-voter node leads at once; with no state machine registered nothing applies, so
// every proposal and read stays pending until its deadline.
Consensus* start_single_leader(TestNode& node, const std::string& config) {
  EXPECT_TRUE(node.add_plugin(RAFT_PLUGIN, config).ok());
  Status st = node.start();
  EXPECT_TRUE(st.ok()) << st.to_string();
  auto* raft = node.find<Consensus>();
  EXPECT_NE(raft, nullptr);
  node.executor().advance(milliseconds(50));
  EXPECT_EQ(raft->state().role, ConsensusRole::kLeader);
  return raft;
}

// Goal: proposals, reads and membership changes beyond max_pending are refused with
// RESOURCE_EXHAUSTED at once; the ones admitted expire through the one expiry path, which frees
// room again. (Forwarded proposals take their room in propose(), the same check as here; the
// table's own test covers every kind: RaftPendingTable.OneBoundForEveryKind.)
TEST(RaftPluginTest, PendingTableIsBounded) {
  TestNode node({.index = 0, .instances = 1});
  Consensus* raft = start_single_leader(node, "max_pending: 2\npropose_timeout_ms: 1000\n");
  ASSERT_NE(raft, nullptr);
  std::vector<std::optional<Status>> results(4);
  auto record = [&](size_t i) {
    return [&results, i](Result<ProposeResult> r) { results[i] = r.status(); };
  };
  raft->propose("a", record(0));
  raft->read_index([&](Status s) { results[1] = s; });
  node.executor().run_until_idle();
  EXPECT_FALSE(results[0].has_value());
  EXPECT_FALSE(results[1].has_value());
  EXPECT_EQ(node.metric_value("nodus_raft_pending_proposals"), 1);
  EXPECT_EQ(node.metric_value("nodus_raft_pending_reads"), 1);

  raft->propose("c", record(2));
  raft->read_index([&](Status s) { results[3] = s; });
  ASSERT_TRUE(results[2].has_value());
  EXPECT_EQ(results[2]->code(), StatusCode::kResourceExhausted) << results[2]->to_string();
  EXPECT_THAT(results[2]->message(), HasSubstr("max_pending"));
  ASSERT_TRUE(results[3].has_value());
  EXPECT_EQ(results[3]->code(), StatusCode::kResourceExhausted);
  std::optional<Status> conf;
  raft->change_membership(MembershipChange::kAddLearner, 0, [&](Status s) { conf = s; });
  ASSERT_TRUE(conf.has_value());
  EXPECT_EQ(conf->code(), StatusCode::kResourceExhausted) << conf->to_string();
  EXPECT_THAT(conf->message(), HasSubstr("membership change refused"));

  node.executor().advance(milliseconds(1100));
  ASSERT_TRUE(results[0].has_value());
  EXPECT_EQ(results[0]->code(), StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(results[1].has_value());
  EXPECT_EQ(results[1]->code(), StatusCode::kDeadlineExceeded);

  std::optional<Status> later;
  raft->propose("d", [&](Result<ProposeResult> r) { later = r.status(); });
  node.executor().run_until_idle();
  EXPECT_FALSE(later.has_value()) << later->to_string();  // admitted: room again
  EXPECT_TRUE(node.stop().ok());
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->code(), StatusCode::kUnavailable);  // stop answers what is left
}

// Goal: a lone instance whose stored configuration's voters cannot reach a quorum (old data,
// fewer instances) refuses to start with one line naming the directory: no other instance
// could ever bring it a newer configuration.
TEST(RaftPluginTest, StoredConfigurationWithoutQuorumRefusesToStartAlone) {
  TestNode node({.index = 0, .instances = 1});
  ASSERT_TRUE(
      node.storage(kRaftName).put_state("raft.initconf", conf_with_voters({0, 1, 2, 3})).ok());
  ASSERT_TRUE(node.add_plugin(RAFT_PLUGIN, "").ok());
  Status st = node.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.to_string();
  EXPECT_THAT(st.message(), HasSubstr("voters 0,1,2,3"));
  EXPECT_THAT(st.message(), HasSubstr("no leader can ever be elected"));
  EXPECT_EQ(st.message().find('\n'), std::string::npos);
}

// Goal: with other instances running, the same stored configuration starts (with a warning
// naming the directory): a follower that missed a scale-down's entries, then restarted, must
// come back and be brought up to date by the leader, not be refused for good (a release-lane
// failure of RaftFailoverTest.ScaleUpDownWithRestartsUnderLoad: instance 1 restarted right
// after `nodus scale 3` still stored voters 0..7).
TEST(RaftPluginTest, StaleLargerConfigurationStartsAndWaitsForTheLeader) {
  TestNode node({.index = 0, .instances = 2});
  ASSERT_TRUE(
      node.storage(kRaftName).put_state("raft.initconf", conf_with_voters({0, 1, 2, 3})).ok());
  ASSERT_TRUE(node.add_plugin(RAFT_PLUGIN, "").ok());
  ASSERT_TRUE(node.start().ok());
  auto* raft = node.find<Consensus>();
  ASSERT_NE(raft, nullptr);
  EXPECT_EQ(raft->state().voters, (std::vector<PeerId>{0, 1, 2, 3}));
  EXPECT_TRUE(node.logs().contains("waits for a leader whose newer configuration includes it"))
      << ::testing::PrintToString(node.logs().lines());
  EXPECT_TRUE(node.logs().contains("voters 0,1,2,3"))
      << ::testing::PrintToString(node.logs().lines());
  EXPECT_TRUE(node.stop().ok());
}

// Goal: the stored configuration wins over a larger instance count, and the start says which
// instances are left out instead of letting them wait silently.
TEST(RaftPluginTest, StoredConfigurationWinsOverInstanceCountAndSaysSo) {
  TestNode node({.index = 0, .instances = 5});
  ASSERT_TRUE(node.storage(kRaftName).put_state("raft.initconf", conf_with_voters({0, 1, 2})).ok());
  ASSERT_TRUE(node.add_plugin(RAFT_PLUGIN, "").ok());
  ASSERT_TRUE(node.start().ok());
  auto* raft = node.find<Consensus>();
  ASSERT_NE(raft, nullptr);
  EXPECT_EQ(raft->state().voters, (std::vector<PeerId>{0, 1, 2}));
  EXPECT_TRUE(node.logs().contains("instances 3,4 of this profile are not in the configuration"))
      << ::testing::PrintToString(node.logs().lines());
  EXPECT_TRUE(node.stop().ok());
}

// Goal: the first start stores the configuration it booted with.
TEST(RaftPluginTest, FirstStartStoresTheInitialConfiguration) {
  TestNode node({.index = 0, .instances = 3});
  ASSERT_TRUE(node.add_plugin(RAFT_PLUGIN, "").ok());
  ASSERT_TRUE(node.start().ok());
  auto stored = node.storage(kRaftName).get_state("raft.initconf");
  ASSERT_TRUE(stored.ok());
  ASSERT_TRUE(stored->has_value());  // protobuf's packed encoding; the log line shows it
  EXPECT_TRUE(node.logs().contains("voters 0,1,2, learners none (quorum 2)"))
      << ::testing::PrintToString(node.logs().lines());
  EXPECT_TRUE(node.stop().ok());
}

// Goal: an instance started by `nodus scale` (joining) stores no configuration of its own and
// ignores Raft traffic until a peer told it the cluster's initial configuration; then it
// stores that one and counts exactly those voters (entries from index 1 replay on the same
// base as everywhere else, so it can never count itself a majority of a made-up cluster).
TEST(RaftPluginTest, JoiningInstanceLearnsTheInitialConfigurationFromAPeer) {
  TestNode node({.index = 3, .instances = 4, .joining = true});
  ASSERT_TRUE(node.add_plugin(RAFT_PLUGIN, "").ok());
  ASSERT_TRUE(node.start().ok());
  node.executor().advance(milliseconds(200));
  auto* raft = node.find<Consensus>();
  ASSERT_NE(raft, nullptr);
  EXPECT_TRUE(raft->state().voters.empty());
  auto stored = node.storage(kRaftName).get_state("raft.initconf");
  ASSERT_TRUE(stored.ok());
  EXPECT_FALSE(stored->has_value()) << "a placeholder configuration was stored";
  EXPECT_TRUE(node.logs().contains("joins a running cluster"))
      << ::testing::PrintToString(node.logs().lines());

  // It asked its peers; the first answer wins.
  std::optional<size_t> ask;
  for (size_t i = 0; i < node.transport().calls().size(); ++i) {
    if (node.transport().calls()[i].method == "raft.initconf") ask = i;
  }
  ASSERT_TRUE(ask.has_value()) << "no raft.initconf call";
  node.transport().complete_call(*ask, conf_with_voters({0, 1, 2}));
  node.executor().run_until_idle();
  EXPECT_EQ(raft->state().voters, (std::vector<PeerId>{0, 1, 2}));
  stored = node.storage(kRaftName).get_state("raft.initconf");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->has_value());
  // Not a member yet: it does not campaign, and answers peers with what it learned.
  node.executor().advance(milliseconds(2000));
  EXPECT_NE(raft->state().role, ConsensusRole::kLeader);
  EXPECT_NE(raft->state().role, ConsensusRole::kCandidate);
  auto answer = node.transport().invoke(0, "raft.initconf", "");
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->ok()) << answer->status().to_string();
  EXPECT_TRUE(node.stop().ok());
}

}  // namespace
}  // namespace nodus::testing
