// raft/core/core_impl.h: the implementation of Core (internal; drivers use raft_core.h).
//
// One object per node. Split over several files by concern: core_impl.cc (roles, elections,
// step dispatch, Ready), core_replication.cc (log replication, commit, snapshots),
// core_membership.cc (configuration changes, leadership transfer) and core_read.cc
// (ReadIndex and lease reads).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nodus/check.h"
#include "progress.h"
#include "raft_core.h"
#include "raft_log.h"

namespace nodus::raft {

// Values beyond this are treated as malformed: no honest term or index gets near it, and
// rejecting them keeps every `+ 1` below free of overflow.
inline constexpr uint64_t kMaxSaneValue = uint64_t{1} << 62;

// Read contexts (request ids, round sequences) travel as 8 little-endian bytes.
std::string encode_u64(uint64_t v);
std::optional<uint64_t> decode_u64(const std::string& s);

class CoreImpl final : public Core {
 public:
  explicit CoreImpl(CoreConfig config);
  Status init(Persisted persisted);

  void tick() override;
  void step(const pb::Message& message) override;
  Result<uint64_t> propose(std::string data) override;
  Result<uint64_t> propose_conf_change(const pb::ConfChange& change) override;
  void read_index(uint64_t request_id) override;
  Status transfer_leadership(std::optional<PeerId> to) override;
  void campaign() override;
  void log_synced(uint64_t index, uint64_t term) override;
  void applied(uint64_t index) override;
  void snapshot_installed(const pb::SnapshotMeta& meta) override;
  void report_snapshot(PeerId peer, bool ok) override;
  void report_unreachable(PeerId peer) override;
  Status compact(const pb::SnapshotMeta& meta) override;
  bool has_ready() const override;
  Ready ready() override;
  ConsensusState state() const override;
  const pb::SnapshotMeta& snapshot_meta() const override { return snapshot_; }
  uint64_t first_index() const override { return log_.first_index(); }
  uint64_t last_index() const override { return log_.last_index(); }
  uint64_t term_at(uint64_t index) const override { return log_.term(index).value_or(0); }
  const Counters& counters() const override { return counters_; }
  uint64_t uncommitted_bytes() const override { return uncommitted_bytes_; }
  Status check_invariants() const override;
  pb::ConfState conf_state() const override;

 private:
  struct PendingRead {
    uint64_t request_id = 0;
    std::optional<PeerId> origin;  // a follower that forwarded it; empty: this node
  };
  // A batch of reads confirmed by one heartbeat round.
  struct ReadRound {
    uint64_t index = 0;
    uint32_t age_ticks = 0;
    std::vector<PendingRead> reads;
    std::set<PeerId> acks;
  };

  enum class VoteResult { kPending, kWon, kLost };

  // ---- roles and elections (core_impl.cc) ----
  VoteResult tally_votes() const;
  void reset(uint64_t term);
  void become_follower(uint64_t term, std::optional<PeerId> leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void start_election(bool transfer);
  // The real election, after a won pre-vote or without one. Only a leadership transfer sets
  // `transfer` on the vote requests: it lets voters ignore their check-quorum lease, which a
  // won pre-vote must not (a voter may have heard from the leader again since).
  void start_vote(bool transfer);
  void send_vote_requests(pb::MessageType type, uint64_t term, bool transfer);
  void reset_randomized_timeout();
  bool promotable() const { return voters_.count(config_.id) > 0; }
  bool is_leader() const { return role_ == ConsensusRole::kLeader; }
  size_t quorum() const { return voters_.size() / 2 + 1; }
  bool validate(const pb::Message& m) const;
  bool step_term(const pb::Message& m);
  void handle_vote_request(const pb::Message& m);
  void handle_vote_response(const pb::Message& m);
  void tick_election();
  void tick_heartbeat();
  void send(pb::Message m);
  void drop() { ++counters_.messages_dropped_stale; }
  pb::HardState hard_state() const;

  // ---- replication (core_replication.cc) ----
  void step_leader(const pb::Message& m);
  void handle_append(const pb::Message& m);
  void handle_heartbeat(const pb::Message& m);
  void handle_snapshot(const pb::Message& m);
  void handle_append_response(const pb::Message& m);
  void handle_heartbeat_response(const pb::Message& m);
  bool send_append(PeerId to, bool send_if_empty);
  void send_heartbeat(PeerId to, const std::string& context);
  void broadcast_append();
  void broadcast_heartbeat();
  bool maybe_commit();
  void commit_to(uint64_t index);
  void flush_ack(bool force);
  bool entries_well_formed(const pb::Message& m) const;

  // ---- membership and transfer (core_membership.cc) ----
  void apply_conf_entries(uint64_t from, uint64_t to);
  void apply_conf_change(const pb::ConfChange& change, uint64_t index);
  void set_conf(const pb::ConfState& conf);
  void sync_progress();
  pb::ConfState conf_at(uint64_t index) const;
  void finish_transfer(Status result);
  void handle_timeout_now(const pb::Message& m);
  bool quorum_active() const;

  // ---- reads (core_read.cc) ----
  void handle_read_index(const pb::Message& m);
  void handle_read_index_response(const pb::Message& m);
  void handle_read_ack(PeerId from, const std::string& context);
  void start_read_round();
  void release_confirmed_reads();
  void answer_read(const PendingRead& read, uint64_t index);
  void fail_read(const PendingRead& read);
  // To a follower that forwarded the read: its index, or a rejection (no index).
  void send_read_response(PeerId to, uint64_t request_id, std::optional<uint64_t> index);
  void fail_all_reads();
  void tick_reads();
  bool committed_in_term() const;
  bool lease_valid() const;
  uint64_t lease_ticks() const;
  void send_timeout_now(PeerId to);

  CoreConfig config_;
  RaftLog log_;
  pb::SnapshotMeta snapshot_;
  Counters counters_;

  // Hard state.
  uint64_t term_ = 0;
  std::optional<PeerId> vote_;

  ConsensusRole role_ = ConsensusRole::kFollower;
  std::optional<PeerId> leader_;       // the leader as reported in SoftState
  std::optional<PeerId> term_leader_;  // the leader of term_, once known; never changes in a term

  // Configuration as of the commit index (conf changes take effect when committed).
  std::set<PeerId> voters_;
  std::set<PeerId> learners_;
  // Configurations that took effect after the snapshot, by the index of their entry, so that
  // compact() can put the configuration as of its index into the snapshot metadata.
  std::map<uint64_t, pb::ConfState> conf_history_;
  uint64_t pending_conf_index_ = 0;

  // Leader state.
  std::map<PeerId, Progress> progress_;
  uint64_t uncommitted_bytes_ = 0;
  bool need_broadcast_ = false;  // new entries or commit to send with the next ready()
  bool leaving_ = false;         // this leader proposed its own removal
  std::optional<PeerId> transferee_;
  uint32_t transfer_elapsed_ticks_ = 0;
  // This leader sent MSG_TIMEOUT_NOW in its term: the target may win without waiting for the
  // voters' leases (even after the transfer timed out here, if the message was slow), so no
  // lease read is served for the rest of the term.
  bool lease_revoked_ = false;

  // Every tick() so far, from 1 so that a lease_tick of 0 means "no heartbeat acknowledged".
  uint64_t ticks_ = 1;
  // Follower: the newest lease_tick of an append or heartbeat from the leader of term_; it
  // reset the election timer, so acknowledgements echo it.
  uint64_t leader_lease_tick_ = 0;

  // Elections.
  std::map<PeerId, bool> votes_;
  uint32_t election_elapsed_ticks_ = 0;
  uint32_t heartbeat_elapsed_ticks_ = 0;
  uint32_t randomized_timeout_ticks_ = 0;
  uint64_t rng_state_ = 0;

  // Follower: acknowledgement of appended entries, sent once they are synced.
  std::optional<PeerId> ack_to_;
  uint64_t ack_wanted_ = 0;  // highest index known to match the leader of this term
  uint64_t ack_sent_ = 0;

  // Follower: a received snapshot waiting for snapshot_installed().
  std::optional<pb::SnapshotMeta> pending_snapshot_;
  bool pending_snapshot_emitted_ = false;

  // Reads.
  std::vector<PendingRead> unsent_reads_;      // leader: waiting for a round (or first commit)
  std::map<uint64_t, ReadRound> read_rounds_;  // leader: by round sequence
  uint64_t read_seq_ = 0;
  std::map<uint64_t, uint32_t> forwarded_reads_;  // follower: request id -> age in ticks

  // Output being assembled for the next Ready.
  std::vector<pb::Message> msgs_;
  std::vector<ReadState> read_states_;
  std::vector<uint64_t> failed_reads_;
  std::vector<PeerId> send_snapshot_to_;
  std::optional<Status> transfer_result_;
  SoftState prev_soft_;
  pb::HardState prev_hard_;

  // The vote as last handed out for persisting, so that ready() can stop a second vote in
  // one term before it reaches the disk.
  uint64_t vote_seen_term_ = 0;
  std::optional<PeerId> vote_seen_;

  // Tests reach the private state to plant the bugs that the checks must stop.
  friend class CoreImplTestPeer;
};

}  // namespace nodus::raft
