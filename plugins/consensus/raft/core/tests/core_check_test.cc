// Death tests of the core's always-on invariant checks: a bug planted in the private state
// (through CoreImplTestPeer) must stop the process before its effect is persisted or sent.
// They run in the dev and the release (NDEBUG) lanes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core_impl.h"
#include "raft_log.h"

namespace nodus::raft {

// Reaches the private state of CoreImpl to plant bugs (a friend of CoreImpl).
class CoreImplTestPeer {
 public:
  static void set_vote(CoreImpl& core, PeerId vote) { core.vote_ = vote; }
  static void become_follower(CoreImpl& core, uint64_t term) {
    core.become_follower(term, std::nullopt);
  }
};

namespace {

class RaftCoreCheckDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }

  // Node 0 of three voters, in term 1 with one entry.
  static std::unique_ptr<CoreImpl> make_core() {
    CoreConfig config;
    config.id = 0;
    config.check_quorum = false;
    auto core = std::make_unique<CoreImpl>(config);
    Persisted p;
    p.hard_state.set_term(1);
    pb::Entry e;
    e.set_index(1);
    e.set_term(1);
    p.entries.push_back(e);
    for (uint32_t i = 0; i < 3; ++i)
      p.bootstrap.add_voters(i);
    EXPECT_TRUE(core->init(std::move(p)).ok());
    return core;
  }

  static pb::Message vote_request(PeerId from, uint64_t term) {
    pb::Message m;
    m.set_type(pb::MSG_VOTE);
    m.set_from(from);
    m.set_to(0);
    m.set_term(term);
    m.set_index(1);
    m.set_log_term(1);
    return m;
  }
};

// Goal: two different votes in one term stop the node in ready(), before the second vote is
// handed out for persisting (it used to be recorded and persisted anyway).
TEST_F(RaftCoreCheckDeathTest, SecondVoteInOneTermStopsBeforePersisting) {
  auto core = make_core();
  core->step(vote_request(1, 2));
  Ready rd = core->ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  ASSERT_EQ(rd.hard_state->vote(), 1U);
  CoreImplTestPeer::set_vote(*core, 2);  // the planted bug: a second vote in term 2
  EXPECT_DEATH(core->ready(), "two different votes in term 2: 1 then 2");
}

// Goal: a node whose term would go backwards stops.
TEST_F(RaftCoreCheckDeathTest, TermGoingBackwardsStops) {
  auto core = make_core();
  core->step(vote_request(1, 5));
  EXPECT_DEATH(CoreImplTestPeer::become_follower(*core, 4),
               "term >= term_ \\(4 vs 5\\): terms never go backwards");
}

// Goal: the log's positions stop the node when a caller breaks them.
TEST_F(RaftCoreCheckDeathTest, LogPositionsStop) {
  RaftLog log;
  pb::Entry e;
  e.set_term(2);
  log.append(e);
  log.append(e);
  log.set_commit(2);
  EXPECT_DEATH(log.set_commit(1), "the commit index never decreases");
  EXPECT_DEATH(log.set_commit(3), "only entries in the log are committed");
  EXPECT_DEATH(log.set_applied(3), "only committed entries are applied");
  e.set_term(1);
  EXPECT_DEATH(log.append(e), "terms in the log never go down");
}

}  // namespace
}  // namespace nodus::raft
