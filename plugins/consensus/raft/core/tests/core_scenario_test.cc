// Scenario tests: small clusters of Cores on the in-test network, one Raft situation each.
// Most situations are transcripts (../testdata/*.txt, run by transcript_test.cc); these are the
// ones a transcript shows badly: lease timing over many tick phases and drift ratios, flow
// control windows, the driver's sync contract, long heartbeat runs and resource limits.
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
