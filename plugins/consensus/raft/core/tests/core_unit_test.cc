// Unit tests of Core driven message by message: creation checks, term and vote rules,
// totality of step() on garbage, backtracking, snapshots and restart.
#include <gtest/gtest.h>

#include <string>

#include "raft_core.h"
#include "test_network.h"

namespace nodus::raft {
namespace {

pb::Entry entry(uint64_t index, uint64_t term, std::string data = "") {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

Persisted three_voters(uint64_t term = 0, std::vector<pb::Entry> entries = {}) {
  Persisted p;
  p.hard_state.set_term(term);
  p.entries = std::move(entries);
  for (uint32_t i = 0; i < 3; ++i)
    p.bootstrap.add_voters(i);
  return p;
}

std::unique_ptr<Core> make(PeerId id, Persisted p, CoreConfig c = {}) {
  c.id = id;
  auto r = Core::create(c, std::move(p));
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? std::move(r).value() : nullptr;
}

pb::Message msg(pb::MessageType type, PeerId from, PeerId to, uint64_t term) {
  pb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(to);
  m.set_term(term);
  return m;
}

std::vector<pb::Message> drain(Core& c) {
  std::vector<pb::Message> out;
  while (c.has_ready()) {
    Ready rd = c.ready();
    if (!rd.entries.empty()) c.log_synced(rd.entries.back().index(), rd.entries.back().term());
    if (!rd.committed.empty()) c.applied(rd.committed.back().index());
    for (auto& m : rd.messages)
      out.push_back(std::move(m));
  }
  return out;
}

// Goal: create() refuses inconsistent configuration and persisted state.
TEST(RaftCore, CreateValidates) {
  CoreConfig bad;
  bad.election_ticks = 1;
  bad.heartbeat_ticks = 1;
  EXPECT_FALSE(Core::create(bad, three_voters()).ok());
  Persisted p = three_voters(1, {entry(1, 2)});  // entry from a term after hard_state.term
  EXPECT_FALSE(Core::create({}, p).ok());
  Persisted q = three_voters(2, {entry(1, 1)});
  q.hard_state.set_commit(5);
  EXPECT_FALSE(Core::create({}, q).ok());
  CoreConfig lease;
  lease.read_mode = ReadMode::kLease;
  lease.check_quorum = false;
  EXPECT_FALSE(Core::create(lease, three_voters()).ok());
}

// Goal: a node votes at most once per term, for an up-to-date candidate only, and the vote
// is in the hard state of the same Ready as the response.
TEST(RaftCore, OneVotePerTerm) {
  CoreConfig c;
  c.check_quorum = false;
  auto core = make(0, three_voters(1, {entry(1, 1)}), c);
  pb::Message v = msg(pb::MSG_VOTE, 1, 0, 2);
  v.set_index(1);
  v.set_log_term(1);
  core->step(v);
  Ready rd = core->ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote(), 1U);
  ASSERT_EQ(rd.messages.size(), 1U);
  EXPECT_FALSE(rd.messages[0].reject());
  pb::Message v2 = v;
  v2.set_from(2);
  core->step(v2);
  auto out = drain(*core);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_TRUE(out[0].reject());
  // A stale log is refused even in a fresh term.
  pb::Message v3 = msg(pb::MSG_VOTE, 2, 0, 3);
  core->step(v3);
  out = drain(*core);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_TRUE(out[0].reject());
  EXPECT_TRUE(core->check_invariants().ok());
}

// Goal: a lower-term MSG_APPEND is answered with the current term (so a stale leader steps
// down) and counted as dropped.
TEST(RaftCore, LowerTermAnsweredWithCurrentTerm) {
  auto core = make(0, three_voters(5));
  core->step(msg(pb::MSG_APPEND, 1, 0, 3));
  auto out = drain(*core);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].type(), pb::MSG_APPEND_RESP);
  EXPECT_EQ(out[0].term(), 5U);
  EXPECT_EQ(core->counters().messages_dropped_stale, 1U);
}

// Goal: a follower that hears from its leader ignores a higher-term vote request (lease)
// unless the request comes from a leadership transfer.
TEST(RaftCore, LeaseIgnoresDisruptiveVotes) {
  auto core = make(0, three_voters(1));
  core->step(msg(pb::MSG_HEARTBEAT, 1, 0, 1));
  drain(*core);
  pb::Message v = msg(pb::MSG_VOTE, 2, 0, 2);
  core->step(v);
  EXPECT_EQ(core->state().term, 1U);
  v.set_transfer(true);
  core->step(v);
  EXPECT_EQ(core->state().term, 2U);
}

// Goal: the vote that follows a won pre-vote is an ordinary one. Only a leadership transfer
// may ask voters to ignore their check-quorum lease; otherwise a node cut off from a live
// leader could win a pre-vote from a voter that then hears from the leader again, and still
// depose that leader (and break the promise lease reads rely on).
TEST(RaftCore, VoteAfterPreVoteIsNotATransfer) {
  auto core = make(0, three_voters(1));
  core->campaign();
  auto sent = drain(*core);
  ASSERT_EQ(sent.size(), 2U);
  EXPECT_EQ(sent[0].type(), pb::MSG_PRE_VOTE);
  core->step(msg(pb::MSG_PRE_VOTE_RESP, 1, 0, 2));
  sent = drain(*core);
  ASSERT_EQ(sent.size(), 2U);
  for (const auto& m : sent) {
    EXPECT_EQ(m.type(), pb::MSG_VOTE);
    EXPECT_FALSE(m.transfer()) << "to " << m.to();
  }
}

// Goal: step() survives garbage: out-of-range ids, huge indexes and terms, malformed entries
// and contexts, with the invariants intact.
TEST(RaftCore, StepIsTotal) {
  testing::Network net(3);
  const PeerId l = *net.wait_leader();
  uint64_t rng = 99;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const uint64_t big[] = {0, 1, 2, 3, 1000, uint64_t{1} << 62, ~uint64_t{0}};
  for (int i = 0; i < 5000; ++i) {
    pb::Message m;
    m.set_type(static_cast<pb::MessageType>(next() % 16));
    m.set_from(static_cast<uint32_t>(next() % 5));
    m.set_to(static_cast<uint32_t>(next() % 4));
    m.set_term(big[next() % 7]);
    m.set_index(big[next() % 7]);
    m.set_log_term(big[next() % 7]);
    m.set_commit(big[next() % 7]);
    m.set_reject(next() % 2 == 0);
    m.set_reject_hint(big[next() % 7]);
    if (next() % 3 == 0) m.set_context(std::string(next() % 10, 'x'));
    for (uint64_t k = next() % 3; k > 0; --k) {
      auto* e = m.add_entries();
      e->set_index(m.index() + k);
      e->set_term(big[next() % 7]);
      e->set_type(static_cast<pb::EntryType>(next() % 3));
    }
    if (next() % 5 == 0) {
      m.mutable_snapshot()->set_index(big[next() % 7]);
      m.mutable_snapshot()->set_term(big[next() % 7]);
      m.mutable_snapshot()->mutable_conf()->add_voters(static_cast<uint32_t>(next() % 4));
    }
    const auto target = static_cast<PeerId>(next() % 3);
    net.core(target).step(m);
    drain(net.core(target));
    ASSERT_TRUE(net.core(target).check_invariants().ok())
        << i << ": " << net.core(target).check_invariants().to_string();
  }
  EXPECT_GT(net.core(l).counters().messages_dropped_stale, 0U);
}

// Goal: fast backtracking repairs a long divergent follower log in a few round trips, not
// one per entry.
TEST(RaftCore, FastBacktracking) {
  CoreConfig c;
  c.pre_vote = false;
  c.check_quorum = false;
  testing::Network net(3, c);
  std::vector<pb::Entry> leader_log;
  std::vector<pb::Entry> stale_log;
  for (uint64_t i = 1; i <= 50; ++i) {
    leader_log.push_back(entry(i, i <= 5 ? 1 : 4));
    stale_log.push_back(entry(i, i <= 5 ? 1 : 2));
  }
  net.load(0, three_voters(4, leader_log));
  net.load(1, three_voters(4, leader_log));
  net.load(2, three_voters(4, stale_log));
  net.core(0).campaign();
  net.process(0);
  net.deliver();
  ASSERT_EQ(net.core(0).state().role, ConsensusRole::kLeader);
  size_t rejects = 0;
  for (const auto& m : net.node(2).sent)
    rejects += m.type() == pb::MSG_APPEND_RESP && m.reject();
  EXPECT_LE(rejects, 3U);
  EXPECT_EQ(net.core(2).term_at(50), 4U);
  EXPECT_TRUE(net.violations().empty());
}

// Goal: heartbeats carry commit = min(leader commit, follower match).
TEST(RaftCore, HeartbeatCommitBoundedByMatch) {
  testing::Network net(3);
  const PeerId l = *net.wait_leader();
  const PeerId f = (l + 1) % 3;
  net.cut(l, f);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(net.core(l).propose("x").ok());
    net.process(l);
    net.deliver();
  }
  const size_t before = net.node(l).sent.size();
  net.core(l).tick();
  net.process(l);
  for (size_t i = before; i < net.node(l).sent.size(); ++i) {
    const auto& m = net.node(l).sent[i];
    if (m.type() == pb::MSG_HEARTBEAT && m.to() == f) {
      EXPECT_LT(m.commit(), net.core(l).state().commit_index);
      EXPECT_LE(m.commit(), net.core(f).last_index());
    }
  }
}

// Goal: a follower puts a newer MSG_SNAPSHOT in Ready::snapshot and, once installed, restarts
// its log after it and acknowledges with MSG_APPEND_RESP index = meta.index.
TEST(RaftCore, FollowerInstallsSnapshot) {
  auto core = make(2, three_voters(1, {entry(1, 1)}));
  pb::Message m = msg(pb::MSG_SNAPSHOT, 0, 2, 2);
  m.mutable_snapshot()->set_index(10);
  m.mutable_snapshot()->set_term(2);
  for (uint32_t i = 0; i < 3; ++i)
    m.mutable_snapshot()->mutable_conf()->add_voters(i);
  core->step(m);
  Ready rd = core->ready();
  ASSERT_TRUE(rd.snapshot.has_value());
  EXPECT_EQ(rd.snapshot->index(), 10U);
  core->snapshot_installed(*rd.snapshot);
  EXPECT_EQ(core->first_index(), 11U);
  EXPECT_EQ(core->last_index(), 10U);
  EXPECT_EQ(core->state().commit_index, 10U);
  auto out = drain(*core);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().type(), pb::MSG_APPEND_RESP);
  EXPECT_EQ(out.back().index(), 10U);
  EXPECT_FALSE(out.back().reject());
  EXPECT_TRUE(core->check_invariants().ok());
}

// Goal: a restarted node keeps its term, vote, commit and configuration, and hands the
// committed entries out again for applying.
TEST(RaftCore, RestartReplaysCommitted) {
  Persisted p = three_voters(3, {entry(1, 1, "a"), entry(2, 2, "b"), entry(3, 3, "c")});
  p.hard_state.set_vote(1);
  p.hard_state.set_commit(2);
  auto core = make(0, p);
  EXPECT_EQ(core->state().term, 3U);
  EXPECT_EQ(core->state().commit_index, 2U);
  EXPECT_EQ(core->state().voters.size(), 3U);
  Ready rd = core->ready();
  ASSERT_EQ(rd.committed.size(), 2U);
  EXPECT_EQ(rd.committed[1].data(), "b");
  EXPECT_TRUE(rd.entries.empty());  // already on disk
}

// Goal: a follower with no known leader fails a read at once; one with a leader forwards it.
TEST(RaftCore, FollowerReads) {
  auto core = make(0, three_voters(1));
  core->read_index(5);
  Ready rd = core->ready();
  EXPECT_EQ(rd.failed_reads, std::vector<uint64_t>{5});
  core->step(msg(pb::MSG_HEARTBEAT, 1, 0, 1));
  drain(*core);
  core->read_index(6);
  auto out = drain(*core);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].type(), pb::MSG_READ_INDEX);
  EXPECT_EQ(out[0].to(), 1U);
}

// Goal: compact fills in the term and configuration, and refuses to pass the applied index.
TEST(RaftCore, CompactCompletesMetadata) {
  testing::Network net(3);
  const PeerId l = *net.wait_leader();
  ASSERT_TRUE(net.core(l).propose("a").ok());
  net.process(l);
  net.deliver();
  pb::SnapshotMeta too_far;
  too_far.set_index(net.core(l).last_index() + 5);
  EXPECT_FALSE(net.core(l).compact(too_far).ok());
  ASSERT_TRUE(net.compact(l).ok());
  const auto& meta = net.core(l).snapshot_meta();
  EXPECT_EQ(meta.index(), 2U);
  EXPECT_GT(meta.term(), 0U);
  EXPECT_EQ(meta.conf().voters_size(), 3);
}

}  // namespace
}  // namespace nodus::raft
