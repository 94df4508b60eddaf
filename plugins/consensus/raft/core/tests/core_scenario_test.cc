// Scenario tests: small clusters of Cores on the in-test network, one Raft situation each.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "test_network.h"

namespace nodus::raft::testing {
namespace {

CoreConfig quiet_config() {
  CoreConfig c;
  c.election_ticks = 10;
  c.heartbeat_ticks = 1;
  return c;
}

pb::Entry make_entry(uint64_t index, uint64_t term, std::string data = "") {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

pb::ConfState voters(std::initializer_list<uint32_t> ids) {
  pb::ConfState c;
  for (auto id : ids)
    c.add_voters(id);
  return c;
}

Persisted persisted(uint64_t term, std::vector<pb::Entry> entries, pb::ConfState conf) {
  Persisted p;
  p.hard_state.set_term(term);
  p.entries = std::move(entries);
  p.bootstrap = std::move(conf);
  return p;
}

// Proposes on the leader and delivers until quiet.
uint64_t write(Network& net, const std::string& data) {
  auto l = net.leader();
  EXPECT_TRUE(l.has_value());
  if (!l) return 0;
  auto r = net.core(*l).propose(data);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  net.process(*l);
  net.deliver();
  return r.ok() ? *r : 0;
}

// Goal: three nodes elect one leader and replicate a write to every state machine.
TEST(RaftCoreScenario, ElectsLeaderAndReplicates) {
  Network net(3, quiet_config());
  auto l = net.wait_leader();
  ASSERT_TRUE(l.has_value());
  write(net, "a");
  write(net, "b");
  net.run_ticks(2);
  for (PeerId i = 0; i < 3; ++i) {
    EXPECT_EQ(net.node(i).state, (std::vector<std::string>{"a", "b"})) << i;
  }
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: an isolated leader steps down by check-quorum; the rest elect a new leader; on
// healing the old leader follows the new term.
TEST(RaftCoreScenario, IsolatedLeaderStepsDown) {
  Network net(3, quiet_config());
  const PeerId old = *net.wait_leader();
  const uint64_t old_term = net.core(old).state().term;
  net.isolate(old);
  net.run_ticks(40);
  EXPECT_NE(net.core(old).state().role, ConsensusRole::kLeader);
  auto fresh = net.leader();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_NE(*fresh, old);
  EXPECT_GT(net.core(*fresh).state().term, old_term);
  net.heal();
  write(net, "x");
  net.run_ticks(3);
  EXPECT_EQ(net.core(old).state().term, net.core(*fresh).state().term);
  EXPECT_EQ(net.node(old).state, std::vector<std::string>{"x"});
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: a split vote elects nobody in that term, and a later term elects a leader.
TEST(RaftCoreScenario, SplitVoteThenRecovery) {
  CoreConfig c = quiet_config();
  c.pre_vote = false;
  Network net(4, c);
  net.cut(0, 1);
  net.cut(0, 3);
  net.cut(1, 2);
  net.core(0).campaign();
  net.core(1).campaign();
  net.process(0);
  net.process(1);
  net.deliver();
  EXPECT_FALSE(net.leader().has_value());
  EXPECT_EQ(net.core(0).state().term, 1U);
  net.heal();
  auto l = net.wait_leader();
  ASSERT_TRUE(l.has_value());
  EXPECT_GT(net.core(*l).state().term, 1U);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: a stale leader that kept leading in a minority (no check-quorum) rejoins, steps
// down, and its uncommitted entry is replaced by the majority's log.
TEST(RaftCoreScenario, StaleLeaderRejoins) {
  CoreConfig c = quiet_config();
  c.check_quorum = false;
  Network net(3, c);
  const PeerId old = *net.wait_leader();
  write(net, "committed");
  net.isolate(old);
  ASSERT_TRUE(net.core(old).propose("lost").ok());
  net.process(old);
  net.deliver();
  // The majority elects a new leader and commits its own writes.
  std::optional<PeerId> fresh;
  for (int i = 0; i < 100 && !fresh; ++i) {
    net.run_ticks(1);
    for (PeerId p = 0; p < 3; ++p) {
      if (p != old && net.core(p).state().role == ConsensusRole::kLeader) fresh = p;
    }
  }
  ASSERT_TRUE(fresh.has_value());
  ASSERT_TRUE(net.core(*fresh).propose("new").ok());
  net.process(*fresh);
  net.deliver();
  EXPECT_EQ(net.core(old).state().role, ConsensusRole::kLeader);  // still believes it
  net.heal();
  net.run_ticks(5);
  EXPECT_NE(net.core(old).state().role, ConsensusRole::kLeader);
  EXPECT_EQ(net.node(old).state, (std::vector<std::string>{"committed", "new"}));
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: Raft figure 8: an entry of an old term replicated on a majority is NOT committed by
// counting, and indeed a later leader may overwrite it.
TEST(RaftCoreScenario, Figure8OldTermEntryNotCommittedByCounting) {
  CoreConfig c = quiet_config();
  c.pre_vote = false;
  c.check_quorum = false;  // no lease: node 1 may vote right after hearing from leader 0
  c.max_msg_bytes = 1;     // one entry per MSG_APPEND, so the test controls what arrives
  Network net(3, c);
  const auto conf = voters({0, 1, 2});
  // Term 2: leader 0 wrote index 2 locally. Term 3: leader 2 wrote its own index 2 locally.
  net.load(0, persisted(3, {make_entry(1, 1), make_entry(2, 2, "old")}, conf));
  net.load(1, persisted(3, {make_entry(1, 1)}, conf));
  net.load(2, persisted(3, {make_entry(1, 1), make_entry(2, 3, "other")}, conf));
  // Node 0 wins term 4 with node 1's vote, but its own term-4 entry never reaches node 1.
  net.cut(0, 2);
  // The first MSG_APPEND (prev = 2) is rejected by node 1, which lacks index 2; the probe
  // then carries index 2 alone; every later term-4 entry is lost.
  auto first = std::make_shared<bool>(true);
  net.set_filter([first](const pb::Message& m) {
    if (m.type() != pb::MSG_APPEND || m.entries_size() == 0 || m.entries(0).term() != 4) {
      return false;
    }
    const bool drop = !*first;
    *first = false;
    return drop;
  });
  net.core(0).campaign();
  net.process(0);
  net.deliver();
  ASSERT_EQ(net.core(0).state().role, ConsensusRole::kLeader);
  ASSERT_EQ(net.core(1).term_at(2), 2U);  // the old entry is now on a majority (0 and 1)
  EXPECT_EQ(net.core(0).state().commit_index, 0U) << "committed an old-term entry by counting";
  // Node 2 can still win (its last term 3 beats 2) and overwrites index 2 everywhere.
  net.set_filter(nullptr);
  net.isolate(0);
  // Term 4 is taken (node 1 voted for 0 in it), so node 2 wins in term 5 at the latest.
  for (int i = 0; i < 2 && net.core(2).state().role != ConsensusRole::kLeader; ++i) {
    net.core(2).campaign();
    net.process(2);
    net.deliver();
  }
  ASSERT_EQ(net.core(2).state().role, ConsensusRole::kLeader);
  net.run_ticks(2);
  EXPECT_EQ(net.core(1).term_at(2), 3U);
  EXPECT_GE(net.core(1).state().commit_index, 2U);
  EXPECT_EQ(net.committed().at(2).first, 3U);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: pre-vote keeps a partitioned node from raising its term and disrupting the leader
// when it rejoins.
TEST(RaftCoreScenario, PreVotePreventsDisruption) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const uint64_t term = net.core(l).state().term;
  const PeerId f = (l + 1) % 3;
  net.isolate(f);
  net.run_ticks(60);
  EXPECT_EQ(net.core(f).state().term, term);
  EXPECT_GT(net.core(f).counters().pre_votes_started, 0U);
  net.heal();
  net.run_ticks(20);
  EXPECT_EQ(net.leader(), l);
  EXPECT_EQ(net.core(l).state().term, term);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: a learner receives entries but never campaigns, never votes and is not counted in the
// commit quorum.
TEST(RaftCoreScenario, LearnerNeverVotesNorCounts) {
  Network net(4, quiet_config(), 3);  // node 3 is a learner
  const PeerId l = *net.wait_leader();
  write(net, "a");
  EXPECT_EQ(net.node(3).state, std::vector<std::string>{"a"});
  EXPECT_EQ(net.core(3).state().role, ConsensusRole::kLearner);
  // With the other two voters cut off, leader + learner are not a quorum.
  for (PeerId p = 0; p < 3; ++p) {
    if (p != l) net.isolate(p);
  }
  const uint64_t commit = net.core(l).state().commit_index;
  ASSERT_TRUE(net.core(l).propose("b").ok());
  net.process(l);
  net.deliver();
  EXPECT_EQ(net.core(3).last_index(), net.core(l).last_index());  // the learner has it
  EXPECT_EQ(net.core(l).state().commit_index, commit);            // but it does not count
  net.run_ticks(60);
  EXPECT_EQ(net.core(3).counters().elections_started, 0U);
  EXPECT_EQ(net.core(3).counters().pre_votes_started, 0U);
  for (const auto& m : net.node(3).sent) {
    EXPECT_FALSE(m.type() == pb::MSG_VOTE || m.type() == pb::MSG_PRE_VOTE);
  }
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: leadership transfer to a named follower succeeds and reports OK.
TEST(RaftCoreScenario, TransferLeadershipSucceeds) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  write(net, "a");
  const PeerId target = (l + 2) % 3;
  ASSERT_TRUE(net.core(l).transfer_leadership(target).ok());
  net.process(l);
  net.deliver();
  EXPECT_EQ(net.leader(), target);
  ASSERT_EQ(net.node(l).transfer_results.size(), 1U);
  EXPECT_TRUE(net.node(l).transfer_results[0].ok());
  write(net, "b");
  EXPECT_EQ(net.node(l).state, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: a transfer to an unreachable target is abandoned after an election timeout; proposals
// are refused while it is in progress and accepted again after.
TEST(RaftCoreScenario, TransferLeadershipAborts) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const PeerId target = (l + 1) % 3;
  net.cut(l, target);
  ASSERT_TRUE(net.core(l).transfer_leadership(target).ok());
  net.process(l);
  auto refused = net.core(l).propose("x");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  net.run_ticks(12);
  ASSERT_EQ(net.node(l).transfer_results.size(), 1U);
  EXPECT_EQ(net.node(l).transfer_results[0].code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(net.leader(), l);
  EXPECT_TRUE(net.core(l).propose("y").ok());
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: ReadIndex on the leader and on a follower returns an index covering a committed write.
TEST(RaftCoreScenario, ReadIndexSeesCommittedWrite) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const uint64_t w = write(net, "a");
  net.core(l).read_index(7);
  net.process(l);
  net.deliver();
  ASSERT_EQ(net.node(l).read_states.size(), 1U);
  EXPECT_EQ(net.node(l).read_states[0].request_id, 7U);
  EXPECT_GE(net.node(l).read_states[0].index, w);
  const PeerId f = (l + 1) % 3;
  net.core(f).read_index(8);
  net.process(f);
  net.deliver();
  ASSERT_EQ(net.node(f).read_states.size(), 1U);
  EXPECT_EQ(net.node(f).read_states[0].request_id, 8U);
  EXPECT_GE(net.node(f).read_states[0].index, w);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: several reads issued together are confirmed by a single heartbeat round.
TEST(RaftCoreScenario, ReadIndexBatchesReads) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  write(net, "a");
  const size_t before = net.node(l).sent.size();
  for (uint64_t id = 1; id <= 5; ++id)
    net.core(l).read_index(id);
  net.process(l);
  size_t heartbeats = 0;
  for (size_t i = before; i < net.node(l).sent.size(); ++i) {
    heartbeats += net.node(l).sent[i].type() == pb::MSG_HEARTBEAT;
  }
  EXPECT_EQ(heartbeats, 2U);  // one round: one heartbeat per follower
  net.deliver();
  EXPECT_EQ(net.node(l).read_states.size(), 5U);
}

// Goal: a deposed leader cannot serve a read; the read fails once it learns the new term.
TEST(RaftCoreScenario, DeposedLeaderCannotServeRead) {
  CoreConfig c = quiet_config();
  c.check_quorum = false;
  Network net(3, c);
  const PeerId old = *net.wait_leader();
  write(net, "a");
  net.isolate(old);
  net.core(old).read_index(42);
  net.process(old);
  net.deliver();
  // Elect someone else and write.
  for (int i = 0; i < 100; ++i) {
    net.run_ticks(1);
    auto l = net.leader();
    if (l && *l != old) break;
  }
  EXPECT_TRUE(net.node(old).read_states.empty());
  net.heal();
  net.run_ticks(3);
  EXPECT_TRUE(net.node(old).read_states.empty());
  EXPECT_EQ(net.node(old).failed_reads, std::vector<uint64_t>{42});
}

// Goal: lease reads answer at once on the leader, with no heartbeat round.
TEST(RaftCoreScenario, LeaseReadAnswersAtOnce) {
  CoreConfig c = quiet_config();
  c.read_mode = ReadMode::kLease;
  Network net(3, c);
  const PeerId l = *net.wait_leader();
  const uint64_t w = write(net, "a");
  net.core(l).read_index(1);
  net.process(l);
  ASSERT_EQ(net.node(l).read_states.size(), 1U);
  EXPECT_GE(net.node(l).read_states[0].index, w);
}

// Runs ticks (delivering after each) until `node` leads; false after `max_ticks`.
bool tick_until_leader(Network& net, PeerId node, int max_ticks = 200) {
  for (int i = 0; i < max_ticks; ++i) {
    if (net.core(node).state().role == ConsensusRole::kLeader) return true;
    net.run_ticks(1);
  }
  return net.core(node).state().role == ConsensusRole::kLeader;
}

// The node other than `old` that leads, if any.
std::optional<PeerId> new_leader(Network& net, PeerId old) {
  for (PeerId i = 0; i < net.size(); ++i) {
    if (i != old && net.core(i).state().role == ConsensusRole::kLeader) return i;
  }
  return std::nullopt;
}

// True when every read the node answered covers `index` (a lease read that does not is
// stale: a write at `index` committed elsewhere before the read was issued).
bool reads_cover(Network& net, PeerId node, uint64_t index) {
  return std::all_of(net.node(node).read_states.begin(), net.node(node).read_states.end(),
                     [&](const ReadState& rs) { return rs.index >= index; });
}

// Goal: a leader that handed leadership over (MSG_TIMEOUT_NOW) serves no lease read: the
// target's transfer vote ignores the voters' leases, so a new leader can commit while the old
// one has not heard of it yet.
TEST(RaftCoreScenario, LeaseEndsWithLeadershipTransfer) {
  CoreConfig c = quiet_config();
  c.read_mode = ReadMode::kLease;
  Network net(3, c);
  const PeerId old = *net.wait_leader();
  write(net, "a");
  const PeerId target = (old + 1) % 3;
  // The old leader hears nothing more: the target's vote request and everything after it is
  // lost on the way (or slow).
  net.set_filter([old](const pb::Message& m) { return m.to() == old; });
  ASSERT_TRUE(net.core(old).transfer_leadership(target).ok());
  net.process(old);
  net.deliver();
  ASSERT_TRUE(tick_until_leader(net, target));
  auto w = net.core(target).propose("b");
  ASSERT_TRUE(w.ok());
  net.process(target);
  net.deliver();
  ASSERT_GE(net.core(target).state().commit_index, *w);
  ASSERT_EQ(net.core(old).state().role, ConsensusRole::kLeader);  // it does not know yet
  net.core(old).read_index(1);
  net.process(old);
  EXPECT_TRUE(reads_cover(net, old, *w)) << "stale lease read after a transfer";
}

// Goal: the lease counts from when the acknowledged heartbeat was sent, not from when its
// acknowledgement arrived: an old acknowledgement that arrives late (here: again and again)
// must not extend the lease past the follower's promise, which began when it received that
// heartbeat.
TEST(RaftCoreScenario, LeaseCountsFromHeartbeatSend) {
  CoreConfig c = quiet_config();
  c.read_mode = ReadMode::kLease;
  Network net(3, c);
  const PeerId old = *net.wait_leader();
  write(net, "a");
  const PeerId slow = (old + 1) % 3;
  // Capture one heartbeat acknowledgement of `slow`; then cut the old leader off.
  std::optional<pb::Message> late_ack;
  net.set_filter([&](const pb::Message& m) {
    if (m.type() == pb::MSG_HEARTBEAT_RESP && m.from() == slow && m.to() == old) {
      if (!late_ack) late_ack = m;
      return true;
    }
    return false;
  });
  for (int i = 0; i < 5 && !late_ack; ++i)
    net.run_ticks(1);
  ASSERT_TRUE(late_ack.has_value());
  net.set_filter(nullptr);
  net.isolate(old);
  // The old acknowledgement keeps arriving at the old leader (a network that delivers late),
  // while the others elect a new leader once `slow`'s promise to the old leader ran out.
  for (int i = 0; i < 200 && !new_leader(net, old); ++i) {
    net.core(old).step(*late_ack);
    net.process(old);
    net.run_ticks(1);
  }
  const std::optional<PeerId> next = new_leader(net, old);
  ASSERT_TRUE(next.has_value());
  auto w = net.core(*next).propose("b");
  ASSERT_TRUE(w.ok());
  net.process(*next);
  net.deliver();
  ASSERT_GE(net.core(*next).state().commit_index, *w);
  net.core(old).step(*late_ack);
  net.process(old);
  if (net.core(old).state().role != ConsensusRole::kLeader) return;  // stepped down: no lease
  net.core(old).read_index(1);
  net.process(old);
  EXPECT_TRUE(reads_cover(net, old, *w)) << "stale lease read from a late acknowledgement";
}

// Goal: with clock drift up to the configured bound, the lease ends before a faster follower's
// promise does: here the followers tick 1.4 times as fast as the leader (bound: 20%). Every
// phase of the leader's check-quorum window and several election timeouts are tried.
TEST(RaftCoreScenario, LeaseAllowsForClockDrift) {
  int elected = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    for (int phase = 0; phase < 10; ++phase) {
      CoreConfig c = quiet_config();
      c.seed = seed;
      c.read_mode = ReadMode::kLease;
      c.lease_clock_drift_ppm = 200'000;
      Network net(3, c);
      const PeerId old = *net.wait_leader();
      write(net, "a");
      net.run_ticks(1 + phase);  // fresh heartbeat rounds, acknowledged by both
      net.isolate(old);
      // The old leader ticks 5 times for every 7 ticks of the others.
      uint64_t w = 0;
      for (int i = 0; i < 400; ++i) {
        for (PeerId n = 0; n < 3; ++n) {
          if (n != old || i % 7 < 5) net.tick(n);
        }
        net.deliver();
        const std::optional<PeerId> next = new_leader(net, old);
        if (w == 0 && next) {
          auto r = net.core(*next).propose("b");
          ASSERT_TRUE(r.ok());
          w = *r;
          net.process(*next);
          net.deliver();
          ++elected;
        }
        if (w == 0 || !next || net.core(*next).state().commit_index < w) continue;
        if (net.core(old).state().role != ConsensusRole::kLeader) break;
        net.core(old).read_index(100 + static_cast<uint64_t>(i));
        net.process(old);
        ASSERT_TRUE(reads_cover(net, old, w))
            << "stale lease read under clock drift, seed " << seed << " phase " << phase;
      }
    }
  }
  EXPECT_EQ(elected, 100) << "some runs elected no new leader";
}

// Goal: flow control: a follower that stops acknowledging has at most max_inflight_msgs
// MSG_APPEND with entries outstanding, and gets heartbeats only after that.
TEST(RaftCoreScenario, FlowControlBoundsInflight) {
  CoreConfig c = quiet_config();
  c.max_inflight_msgs = 2;
  c.max_msg_bytes = 20;  // one small entry per message
  Network net(3, c);
  const PeerId l = *net.wait_leader();
  write(net, "warmup");
  const PeerId f = (l + 1) % 3;
  net.set_filter([f](const pb::Message& m) { return m.from() == f; });
  const size_t before = net.node(l).sent.size();
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(net.core(l).propose("e" + std::to_string(i)).ok());
    net.process(l);
  }
  net.deliver();
  net.run_ticks(3);
  size_t appends = 0;
  for (size_t i = before; i < net.node(l).sent.size(); ++i) {
    const auto& m = net.node(l).sent[i];
    appends += m.to() == f && m.type() == pb::MSG_APPEND && m.entries_size() > 0;
  }
  // Each heartbeat round frees one slot when the window is full, but f's answers are lost,
  // so only the initial window went out.
  EXPECT_LE(appends, 2U);
  net.set_filter(nullptr);
  net.run_ticks(30);
  EXPECT_EQ(net.node(f).state.size(), 21U);
}

// Goal: a follower acknowledges entries only after log_synced covers them.
TEST(RaftCoreScenario, FollowerAcksOnlyAfterSync) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const PeerId f = (l + 1) % 3;
  net.node(f).auto_sync = false;
  const uint64_t index = *net.core(l).propose("a");
  net.process(l);
  net.deliver();
  for (const auto& m : net.node(f).sent) {
    if (m.type() == pb::MSG_APPEND_RESP && !m.reject()) {
      EXPECT_LT(m.index(), index);
    }
  }
  net.sync(f);
  bool acked = false;
  for (const auto& m : net.node(f).sent) {
    acked |= m.type() == pb::MSG_APPEND_RESP && !m.reject() && m.index() >= index;
  }
  EXPECT_TRUE(acked);
}

// Goal: a single-node leader commits only what it has synced.
TEST(RaftCoreScenario, SingleNodeCommitsOnlySynced) {
  Network net(1, quiet_config());
  net.node(0).auto_sync = false;
  net.core(0).campaign();
  net.process(0);
  ASSERT_EQ(net.core(0).state().role, ConsensusRole::kLeader);
  EXPECT_EQ(net.core(0).state().commit_index, 0U);
  net.sync(0);
  EXPECT_EQ(net.core(0).state().commit_index, 1U);  // the no-op
  const uint64_t i = *net.core(0).propose("a");
  net.process(0);
  EXPECT_LT(net.core(0).state().commit_index, i);
  net.sync(0);
  EXPECT_EQ(net.core(0).state().commit_index, i);
  EXPECT_EQ(net.node(0).state, std::vector<std::string>{"a"});
}

// Goal: a follower behind the leader's compacted log gets a snapshot, installs it, and then
// catches up by normal replication.
TEST(RaftCoreScenario, SnapshotSendAndInstall) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const PeerId lag = (l + 1) % 3;
  net.isolate(lag);
  for (int i = 0; i < 10; ++i)
    write(net, "v" + std::to_string(i));
  ASSERT_TRUE(net.compact(l).ok());
  EXPECT_GT(net.core(l).first_index(), 2U);
  EXPECT_EQ(net.core(l).snapshot_meta().conf().voters_size(), 3);
  net.heal();
  net.run_ticks(5);
  write(net, "after");
  net.run_ticks(2);
  EXPECT_EQ(net.node(lag).state, net.node(l).state);
  EXPECT_EQ(net.node(lag).state.size(), 11U);
  EXPECT_EQ(net.core(lag).snapshot_meta().index(), net.core(l).snapshot_meta().index());
  size_t snapshots = 0;
  for (const auto& m : net.node(lag).sent)
    snapshots += m.type() == pb::MSG_APPEND_RESP;
  EXPECT_GT(snapshots, 0U);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: the leader's unsynced copy does not count: with one follower synced the entry is not
// committed; once the leader syncs too, it is.
TEST(RaftCoreScenario, LeaderCountsOnlyItsSyncedCopy) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const PeerId f1 = (l + 1) % 3;
  const PeerId f2 = (l + 2) % 3;
  net.cut(l, f2);
  net.node(l).auto_sync = false;
  const uint64_t index = *net.core(l).propose("a");
  net.process(l);
  net.deliver();
  EXPECT_EQ(net.core(f1).last_index(), index);
  EXPECT_LT(net.core(l).state().commit_index, index);
  net.sync(l);
  EXPECT_EQ(net.core(l).state().commit_index, index);
}

// Goal: while a snapshot transfer is pending the follower still gets heartbeats (so it does
// not campaign), and a failed transfer is retried.
TEST(RaftCoreScenario, HeartbeatsContinueDuringSnapshot) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const PeerId lag = (l + 1) % 3;
  net.isolate(lag);
  for (int i = 0; i < 5; ++i)
    write(net, "v" + std::to_string(i));
  ASSERT_TRUE(net.compact(l).ok());
  net.heal();
  net.set_filter([](const pb::Message& m) { return m.type() == pb::MSG_SNAPSHOT; });
  const uint64_t term = net.core(l).state().term;
  const size_t before = net.node(l).sent.size();
  net.run_ticks(30);
  size_t heartbeats = 0;
  for (size_t i = before; i < net.node(l).sent.size(); ++i) {
    const auto& m = net.node(l).sent[i];
    heartbeats += m.type() == pb::MSG_HEARTBEAT && m.to() == lag;
  }
  EXPECT_GE(heartbeats, 25U);
  EXPECT_EQ(net.core(l).state().term, term);
  EXPECT_EQ(net.leader(), l);
  net.set_filter(nullptr);
  net.run_ticks(5);
  EXPECT_EQ(net.node(lag).state, net.node(l).state);
}

// Goal: a snapshot the driver failed to install is sent and handed out again, and the
// follower catches up.
TEST(RaftCoreScenario, FailedSnapshotInstallIsRetried) {
  Network net(3, quiet_config());
  const PeerId l = *net.wait_leader();
  const PeerId lag = (l + 1) % 3;
  net.isolate(lag);
  for (int i = 0; i < 5; ++i)
    write(net, "v" + std::to_string(i));
  ASSERT_TRUE(net.compact(l).ok());
  net.node(lag).skip_snapshot_installs = 1;
  net.heal();
  net.run_ticks(20);
  EXPECT_EQ(net.node(lag).skip_snapshot_installs, 0);
  EXPECT_EQ(net.node(lag).state, net.node(l).state);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: membership: add a learner, promote it, remove a voter while another is partitioned,
// and keep committing; a removed leader steps down.
TEST(RaftCoreScenario, MembershipChangesDuringPartition) {
  Network net(3, quiet_config());
  PeerId l = *net.wait_leader();
  const PeerId added = net.add_node();
  pb::ConfChange cc;
  cc.set_kind(pb::ConfChange::ADD_LEARNER);
  cc.set_peer(added);
  ASSERT_TRUE(net.core(l).propose_conf_change(cc).ok());
  // One change at a time.
  EXPECT_EQ(net.core(l).propose_conf_change(cc).status().code(), StatusCode::kFailedPrecondition);
  net.process(l);
  net.deliver();
  net.run_ticks(3);
  EXPECT_EQ(net.core(added).state().role, ConsensusRole::kLearner);
  const PeerId other = (l + 1) % 3;
  net.isolate(other);
  cc.set_kind(pb::ConfChange::ADD_VOTER);
  ASSERT_TRUE(net.core(l).propose_conf_change(cc).ok());
  net.process(l);
  net.deliver();
  net.run_ticks(2);
  EXPECT_EQ(net.core(l).state().voters.size(), 4U);
  write(net, "with4");
  EXPECT_EQ(net.node(added).state, std::vector<std::string>{"with4"});
  // Remove the leader itself: it steps down after committing it; the rest carry on.
  cc.set_kind(pb::ConfChange::REMOVE);
  cc.set_peer(l);
  ASSERT_TRUE(net.core(l).propose_conf_change(cc).ok());
  net.process(l);
  net.deliver();
  net.run_ticks(2);
  EXPECT_NE(net.core(l).state().role, ConsensusRole::kLeader);
  net.heal();
  std::optional<PeerId> fresh;
  for (int i = 0; i < 200 && !fresh; ++i) {
    net.run_ticks(1);
    auto x = net.leader();
    if (x && *x != l) fresh = x;
  }
  ASSERT_TRUE(fresh.has_value());
  write(net, "after-remove");
  net.run_ticks(3);
  EXPECT_EQ(net.node(added).state, (std::vector<std::string>{"with4", "after-remove"}));
  EXPECT_EQ(net.core(*fresh).state().voters.size(), 3U);
  EXPECT_TRUE(net.violations().empty()) << net.violations().front();
}

// Goal: proposals beyond max_uncommitted_bytes are refused with RESOURCE_EXHAUSTED.
TEST(RaftCoreScenario, UncommittedBytesLimit) {
  CoreConfig c = quiet_config();
  c.max_uncommitted_bytes = 10;
  Network net(3, c);
  const PeerId l = *net.wait_leader();
  net.isolate(l);
  ASSERT_TRUE(net.core(l).propose("123456").ok());
  auto r = net.core(l).propose("123456");
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(net.core(l).counters().proposals_rejected_flow, 1U);
  EXPECT_EQ(net.core(l).uncommitted_bytes(), 6U);
}

}  // namespace
}  // namespace nodus::raft::testing
