// Roles, elections, message dispatch and Ready assembly. See core_impl.h for the file split.
#include "core_impl.h"

#include <algorithm>
#include <utility>

namespace nodus::raft {

namespace {

// splitmix64: a tiny, well-mixed PRNG, so election timeouts are deterministic per seed and id.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

bool is_vote_request(pb::MessageType t) {
  return t == pb::MSG_VOTE || t == pb::MSG_PRE_VOTE;
}

bool is_from_leader(pb::MessageType t) {
  return t == pb::MSG_APPEND || t == pb::MSG_HEARTBEAT || t == pb::MSG_SNAPSHOT;
}

bool same_hard_state(const pb::HardState& a, const pb::HardState& b) {
  return a.term() == b.term() && a.has_vote() == b.has_vote() && a.vote() == b.vote() &&
         a.commit() == b.commit();
}

}  // namespace

Result<std::unique_ptr<Core>> Core::create(CoreConfig config, Persisted persisted) {
  if (config.heartbeat_ticks == 0) return invalid_argument("heartbeat_ticks: must be positive");
  if (config.election_ticks <= config.heartbeat_ticks) {
    return invalid_argument("election_ticks: must be larger than heartbeat_ticks");
  }
  if (config.election_ticks > (1U << 30)) return invalid_argument("election_ticks: too large");
  if (config.max_inflight_msgs == 0) return invalid_argument("max_inflight_msgs: must be positive");
  if (config.max_msg_bytes == 0) return invalid_argument("max_msg_bytes: must be positive");
  if (config.read_mode == ReadMode::kLease && !config.check_quorum) {
    return invalid_argument("read_mode: lease reads need check_quorum");
  }
  if (config.lease_clock_drift_ppm >= 1'000'000) {
    return invalid_argument("lease_clock_drift_ppm: must be below 1000000");
  }
  auto core = std::make_unique<CoreImpl>(config);
  NODUS_RETURN_IF_ERROR(core->init(std::move(persisted)));
  return std::unique_ptr<Core>(std::move(core));
}

CoreImpl::CoreImpl(CoreConfig config) : config_(config) {
  rng_state_ = config_.seed ^ (0xD1B54A32D192ED03ULL * (uint64_t{config_.id} + 1));
}

Status CoreImpl::init(Persisted persisted) {
  const pb::HardState& hs = persisted.hard_state;
  if (hs.term() > kMaxSaneValue || hs.commit() > kMaxSaneValue) {
    return invalid_argument("hard_state: term or commit out of range");
  }
  if (persisted.snapshot.index() > kMaxSaneValue || persisted.snapshot.term() > hs.term()) {
    return invalid_argument("snapshot: index or term out of range");
  }
  NODUS_RETURN_IF_ERROR(
      log_.init(persisted.snapshot, std::move(persisted.entries), hs.commit()).with_context("log"));
  if (log_.last_term() > hs.term()) {
    return invalid_argument("log: last entry's term is beyond hard_state.term");
  }
  snapshot_ = persisted.snapshot;
  term_ = hs.term();
  if (hs.has_vote()) vote_ = hs.vote();
  const bool snapshot_has_conf = snapshot_.index() > 0 || snapshot_.conf().voters_size() > 0 ||
                                 snapshot_.conf().learners_size() > 0;
  set_conf(snapshot_has_conf ? snapshot_.conf() : persisted.bootstrap);
  if (!snapshot_has_conf) *snapshot_.mutable_conf() = persisted.bootstrap;
  apply_conf_entries(log_.first_index(), log_.commit());
  reset_randomized_timeout();
  prev_hard_ = hard_state();
  prev_soft_ = SoftState{state().role, leader_};
  vote_seen_term_ = term_;
  vote_seen_ = vote_;
  return {};
}

// ---- roles ----

void CoreImpl::reset(uint64_t term) {
  NODUS_CHECK_GE(term, term_) << "terms never go backwards; node " << config_.id;
  if (term != term_) {
    term_ = term;
    vote_.reset();
    term_leader_.reset();
  }
  if (transferee_) finish_transfer(aborted("leadership lost during the transfer"));
  lease_revoked_ = false;
  leader_lease_tick_ = 0;
  fail_all_reads();
  leader_.reset();
  election_elapsed_ticks_ = 0;
  heartbeat_elapsed_ticks_ = 0;
  reset_randomized_timeout();
  votes_.clear();
  progress_.clear();
  need_broadcast_ = false;
  leaving_ = false;
  uncommitted_bytes_ = 0;
  ack_to_.reset();
  ack_wanted_ = 0;
  ack_sent_ = 0;
}

void CoreImpl::become_follower(uint64_t term, std::optional<PeerId> leader) {
  reset(term);
  role_ = ConsensusRole::kFollower;
  if (leader) {
    leader_ = leader;
    term_leader_ = leader;
  }
}

void CoreImpl::become_pre_candidate() {
  // A pre-candidate keeps its term and vote: it only asks whether it could win.
  fail_all_reads();
  role_ = ConsensusRole::kPreCandidate;
  leader_.reset();
  votes_.clear();
  election_elapsed_ticks_ = 0;
  reset_randomized_timeout();
}

void CoreImpl::become_candidate() {
  reset(term_ + 1);
  role_ = ConsensusRole::kCandidate;
  vote_ = config_.id;
}

void CoreImpl::become_leader() {
  NODUS_CHECK(promotable()) << "only a voter can win an election; node " << config_.id << " term "
                            << term_;
  reset(term_);
  role_ = ConsensusRole::kLeader;
  leader_ = config_.id;
  term_leader_ = config_.id;
  ++counters_.elections_won;
  sync_progress();
  // Entries from earlier terms may hold a configuration change; none more until they commit.
  pending_conf_index_ = log_.last_index();
  pb::Entry noop;
  noop.set_term(term_);
  noop.set_type(pb::ENTRY_NORMAL);
  log_.append(std::move(noop));
  need_broadcast_ = true;
}

void CoreImpl::reset_randomized_timeout() {
  randomized_timeout_ticks_ =
      config_.election_ticks +
      static_cast<uint32_t>(next_random(rng_state_) % config_.election_ticks);
}

void CoreImpl::start_election(bool transfer) {
  if (!promotable() || is_leader()) return;
  if (config_.pre_vote && !transfer) {
    become_pre_candidate();
    ++counters_.pre_votes_started;
    votes_[config_.id] = true;
    if (tally_votes() == VoteResult::kWon) {
      start_vote(false);
      return;
    }
    send_vote_requests(pb::MSG_PRE_VOTE, term_ + 1, false);
    return;
  }
  start_vote(transfer);
}

void CoreImpl::start_vote(bool transfer) {
  become_candidate();
  ++counters_.elections_started;
  votes_[config_.id] = true;
  if (tally_votes() == VoteResult::kWon) {
    become_leader();
    return;
  }
  send_vote_requests(pb::MSG_VOTE, term_, transfer);
}

void CoreImpl::send_vote_requests(pb::MessageType type, uint64_t term, bool transfer) {
  for (PeerId id : voters_) {
    if (id == config_.id) continue;
    pb::Message m;
    m.set_type(type);
    m.set_to(id);
    m.set_term(term);
    m.set_index(log_.last_index());
    m.set_log_term(log_.last_term());
    m.set_transfer(transfer);
    send(std::move(m));
  }
}

CoreImpl::VoteResult CoreImpl::tally_votes() const {
  size_t granted = 0;
  size_t rejected = 0;
  for (const auto& [id, yes] : votes_) {
    if (voters_.count(id) == 0) continue;
    (yes ? granted : rejected)++;
  }
  if (granted >= quorum()) return VoteResult::kWon;
  if (voters_.size() - rejected < quorum()) return VoteResult::kLost;
  return VoteResult::kPending;
}

// ---- inputs ----

void CoreImpl::campaign() {
  start_election(false);
}

void CoreImpl::tick() {
  ++ticks_;
  if (is_leader()) {
    tick_heartbeat();
  } else {
    tick_election();
  }
  tick_reads();
}

void CoreImpl::tick_election() {
  if (election_elapsed_ticks_ < (1U << 31)) ++election_elapsed_ticks_;
  if (promotable() && election_elapsed_ticks_ >= randomized_timeout_ticks_) {
    election_elapsed_ticks_ = 0;
    start_election(false);
  }
}

void CoreImpl::tick_heartbeat() {
  ++heartbeat_elapsed_ticks_;
  ++election_elapsed_ticks_;
  if (election_elapsed_ticks_ >= config_.election_ticks) {
    election_elapsed_ticks_ = 0;
    if (config_.check_quorum) {
      if (!quorum_active()) {
        // Without a live quorum this leader cannot commit; step down so a read or proposal
        // here fails fast instead of waiting on a leader that is cut off.
        become_follower(term_, std::nullopt);
        return;
      }
      for (auto& [id, pr] : progress_)
        pr.recent_active = id == config_.id;
    }
  }
  if (transferee_ && ++transfer_elapsed_ticks_ >= config_.election_ticks) {
    finish_transfer(deadline_exceeded("leadership transfer did not finish within an election"));
  }
  if (heartbeat_elapsed_ticks_ >= config_.heartbeat_ticks) {
    heartbeat_elapsed_ticks_ = 0;
    start_read_round();
    broadcast_heartbeat();
  }
}

bool CoreImpl::validate(const pb::Message& m) const {
  if (m.type() <= pb::MSG_UNSPECIFIED || m.type() > pb::MSG_READ_INDEX_RESP) return false;
  if (m.to() != config_.id || m.from() == config_.id) return false;
  if (m.term() > kMaxSaneValue || m.log_term() > kMaxSaneValue || m.index() > kMaxSaneValue ||
      m.commit() > kMaxSaneValue || m.reject_hint() > kMaxSaneValue) {
    return false;
  }
  if (static_cast<uint64_t>(m.entries_size()) > kMaxSaneValue - m.index()) return false;
  if (m.snapshot().index() > kMaxSaneValue || m.snapshot().term() > kMaxSaneValue) return false;
  return true;
}

void CoreImpl::step(const pb::Message& m) {
  if (!validate(m)) {
    drop();
    return;
  }
  if (!step_term(m)) return;
  switch (m.type()) {
    case pb::MSG_PRE_VOTE:
    case pb::MSG_VOTE:
      handle_vote_request(m);
      return;
    case pb::MSG_TIMEOUT_NOW:
      handle_timeout_now(m);
      return;
    case pb::MSG_READ_INDEX:
      handle_read_index(m);
      return;
    default:
      break;
  }
  if (is_leader()) {
    step_leader(m);
    return;
  }
  if (is_from_leader(m.type())) {
    // One leader per term: a second claimant in the same term is a forgery or a bug.
    if (term_leader_ && *term_leader_ != m.from()) {
      drop();
      return;
    }
    if (role_ != ConsensusRole::kFollower) {
      become_follower(term_, m.from());
    } else {
      leader_ = m.from();
      term_leader_ = m.from();
    }
    election_elapsed_ticks_ = 0;
    leader_lease_tick_ = std::max(leader_lease_tick_, m.lease_tick());
    if (m.type() == pb::MSG_APPEND) {
      handle_append(m);
    } else if (m.type() == pb::MSG_HEARTBEAT) {
      handle_heartbeat(m);
    } else {
      handle_snapshot(m);
    }
    return;
  }
  switch (m.type()) {
    case pb::MSG_PRE_VOTE_RESP:
    case pb::MSG_VOTE_RESP:
      handle_vote_response(m);
      return;
    case pb::MSG_READ_INDEX_RESP:
      handle_read_index_response(m);
      return;
    default:
      // Responses meant for a leader arriving after this node stepped down.
      return;
  }
}

bool CoreImpl::step_term(const pb::Message& m) {
  if (m.term() > term_) {
    if (is_vote_request(m.type())) {
      // Check-quorum lease: while this node hears from a live leader, a (pre-)candidate that
      // cannot reach it must not disrupt the cluster. A transfer is the leader's own wish.
      const bool in_lease = config_.check_quorum && leader_.has_value() &&
                            election_elapsed_ticks_ < config_.election_ticks;
      if (!m.transfer() && in_lease) return false;
    }
    // A pre-vote never changes terms; a granted pre-vote answer carries the future term.
    if (m.type() == pb::MSG_PRE_VOTE) return true;
    if (m.type() == pb::MSG_PRE_VOTE_RESP && !m.reject()) return true;
    if (is_leader() && transferee_ && *transferee_ == m.from()) finish_transfer(ok_status());
    become_follower(m.term(),
                    is_from_leader(m.type()) ? std::optional<PeerId>(m.from()) : std::nullopt);
    return true;
  }
  if (m.term() < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type() == pb::MSG_APPEND || m.type() == pb::MSG_HEARTBEAT)) {
      // A stale leader (say, healed from a partition) learns the current term and steps down;
      // with pre-vote the other nodes would otherwise never raise their terms past it.
      pb::Message r;
      r.set_type(pb::MSG_APPEND_RESP);
      r.set_to(m.from());
      r.set_term(term_);
      send(std::move(r));
    } else if (m.type() == pb::MSG_PRE_VOTE) {
      pb::Message r;
      r.set_type(pb::MSG_PRE_VOTE_RESP);
      r.set_to(m.from());
      r.set_term(term_);
      r.set_reject(true);
      send(std::move(r));
    }
    drop();
    return false;
  }
  return true;
}

void CoreImpl::handle_vote_request(const pb::Message& m) {
  const bool pre = m.type() == pb::MSG_PRE_VOTE;
  const bool can_vote =
      (vote_ && *vote_ == m.from()) || (!vote_ && !term_leader_) || (pre && m.term() > term_);
  pb::Message r;
  r.set_type(pre ? pb::MSG_PRE_VOTE_RESP : pb::MSG_VOTE_RESP);
  r.set_to(m.from());
  if (can_vote && log_.is_up_to_date(m.index(), m.log_term())) {
    // A granted pre-vote answers in the term asked about, so the pre-candidate can count it.
    r.set_term(m.term());
    if (!pre) {
      NODUS_CHECK(!vote_ || *vote_ == m.from())
          << "one vote per term: node " << config_.id << " voted for " << vote_.value_or(0)
          << " in term " << term_ << ", asked by " << m.from();
      election_elapsed_ticks_ = 0;
      vote_ = m.from();
    }
  } else {
    r.set_term(term_);
    r.set_reject(true);
  }
  send(std::move(r));
}

void CoreImpl::handle_vote_response(const pb::Message& m) {
  if (role_ == ConsensusRole::kPreCandidate && m.type() == pb::MSG_PRE_VOTE_RESP) {
    if (!m.reject() && m.term() != term_ + 1) return;
  } else if (role_ == ConsensusRole::kCandidate && m.type() == pb::MSG_VOTE_RESP) {
    if (m.term() != term_) return;
  } else {
    return;
  }
  votes_.emplace(m.from(), !m.reject());
  switch (tally_votes()) {
    case VoteResult::kWon:
      if (role_ == ConsensusRole::kPreCandidate) {
        start_vote(false);
      } else {
        become_leader();
      }
      return;
    case VoteResult::kLost:
      become_follower(term_, std::nullopt);
      return;
    case VoteResult::kPending:
      return;
  }
}

void CoreImpl::send(pb::Message m) {
  m.set_from(config_.id);
  if (m.term() == 0) m.set_term(term_);
  // Lease bookkeeping: the leader stamps what resets a follower's election timer with its
  // tick; the follower's acknowledgements carry the newest stamp it received (see
  // lease_valid()).
  if (is_leader() && (m.type() == pb::MSG_APPEND || m.type() == pb::MSG_HEARTBEAT)) {
    m.set_lease_tick(ticks_);
  } else if (!is_leader() &&
             (m.type() == pb::MSG_APPEND_RESP || m.type() == pb::MSG_HEARTBEAT_RESP)) {
    m.set_lease_tick(leader_lease_tick_);
  }
  msgs_.push_back(std::move(m));
}

pb::HardState CoreImpl::hard_state() const {
  pb::HardState hs;
  hs.set_term(term_);
  if (vote_) hs.set_vote(*vote_);
  // Only a commit index whose entries are durable here may be persisted: the hard state is
  // written before the entries it would otherwise cover, and after a crash the log that
  // survives could hold different (older-term) entries at those indexes.
  hs.set_commit(std::min(log_.commit(), log_.synced()));
  return hs;
}

void CoreImpl::log_synced(uint64_t index, uint64_t term) {
  log_.on_synced(index, term);
  if (is_leader()) {
    auto it = progress_.find(config_.id);
    if (it != progress_.end()) it->second.match = std::max(it->second.match, log_.synced());
    if (maybe_commit()) need_broadcast_ = true;
  } else {
    flush_ack(false);
  }
}

void CoreImpl::applied(uint64_t index) {
  // Never beyond what was handed out for applying.
  index = std::min(index, log_.emitted());
  if (index > log_.applied()) log_.set_applied(index);
  NODUS_CHECK_LE(log_.applied(), log_.commit()) << "only committed entries are applied";
}

// ---- outputs ----

ConsensusState CoreImpl::state() const {
  ConsensusState s;
  s.role = role_;
  if (role_ == ConsensusRole::kFollower && !promotable() && learners_.count(config_.id) > 0) {
    s.role = ConsensusRole::kLearner;
  }
  s.term = term_;
  s.leader = leader_;
  s.commit_index = log_.commit();
  s.applied_index = log_.applied();
  s.last_index = log_.last_index();
  s.voters.assign(voters_.begin(), voters_.end());
  s.learners.assign(learners_.begin(), learners_.end());
  return s;
}

bool CoreImpl::has_ready() const {
  if (!msgs_.empty() || !read_states_.empty() || !failed_reads_.empty() ||
      !send_snapshot_to_.empty() || transfer_result_.has_value() || need_broadcast_) {
    return true;
  }
  if (pending_snapshot_ && !pending_snapshot_emitted_) return true;
  if (!pending_snapshot_ &&
      (log_.has_unpersisted() || log_.committed_emittable() > log_.emitted())) {
    return true;
  }
  if (is_leader() && !unsent_reads_.empty() && committed_in_term()) return true;
  if (!same_hard_state(hard_state(), prev_hard_)) return true;
  return !(SoftState{state().role, leader_} == prev_soft_);
}

Ready CoreImpl::ready() {
  if (is_leader()) {
    if (need_broadcast_) {
      need_broadcast_ = false;
      broadcast_append();
    }
    start_read_round();
  }
  need_broadcast_ = false;
  Ready rd;
  SoftState soft{state().role, leader_};
  if (!(soft == prev_soft_)) {
    rd.soft_state = soft;
    prev_soft_ = soft;
  }
  pb::HardState hs = hard_state();
  if (!same_hard_state(hs, prev_hard_)) {
    // The last line of defence for election safety: a second vote in a term must never be
    // persisted (and the vote sent), whatever bug produced it.
    NODUS_CHECK(
        !(hs.term() == vote_seen_term_ && vote_seen_ && hs.has_vote() && hs.vote() != *vote_seen_))
        << "two different votes in term " << hs.term() << ": " << *vote_seen_ << " then "
        << hs.vote() << "; node " << config_.id;
    NODUS_CHECK_GE(hs.term(), prev_hard_.term()) << "the persisted term never goes down";
    if (hs.term() != vote_seen_term_ || !vote_seen_) {
      vote_seen_term_ = hs.term();
      vote_seen_ = hs.has_vote() ? std::optional<PeerId>(hs.vote()) : std::nullopt;
    }
    rd.hard_state = hs;
    prev_hard_ = hs;
  }
  if (pending_snapshot_ && !pending_snapshot_emitted_) {
    rd.snapshot = *pending_snapshot_;
    pending_snapshot_emitted_ = true;
  }
  // While a received snapshot waits for snapshot_installed(), the old log is about to be
  // replaced: handing out its entries for persisting or applying would put them after the
  // snapshot's state.
  if (!pending_snapshot_) {
    rd.entries = log_.take_unpersisted();
    for (uint64_t i = log_.emitted() + 1; i <= log_.committed_emittable(); ++i) {
      const pb::Entry* e = log_.entry(i);
      if (e == nullptr) break;
      rd.committed.push_back(*e);
      log_.set_emitted(i);
    }
  }
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.read_states = std::move(read_states_);
  read_states_.clear();
  rd.failed_reads = std::move(failed_reads_);
  failed_reads_.clear();
  rd.send_snapshot_to = std::move(send_snapshot_to_);
  send_snapshot_to_.clear();
  rd.transfer_result = std::move(transfer_result_);
  transfer_result_.reset();
  return rd;
}

Status CoreImpl::check_invariants() const {
  NODUS_RETURN_IF_ERROR(log_.check());
  if (log_.last_term() > term_) return internal_error("log holds an entry from a future term");
  if (leader_ && leader_ != term_leader_) return internal_error("two leaders in one term");
  if (is_leader()) {
    if (term_leader_ != config_.id) return internal_error("leader not recorded for its term");
    if (vote_ != config_.id) return internal_error("leader did not vote for itself");
    if (voters_.count(config_.id) == 0) return internal_error("leader is not a voter");
  }
  if (role_ == ConsensusRole::kCandidate && vote_ != config_.id) {
    return internal_error("candidate did not vote for itself");
  }
  if (!is_leader() && !progress_.empty()) return internal_error("follower tracks progress");
  for (const auto& [id, pr] : progress_) {
    if (pr.match > log_.last_index() && id != config_.id) {
      return internal_error("follower match beyond the leader's log");
    }
  }
  if (vote_seen_term_ == term_ && vote_seen_ && vote_ && *vote_ != *vote_seen_) {
    return internal_error("vote changed within a term");
  }
  if (snapshot_.index() != log_.snapshot_index()) {
    return internal_error("snapshot metadata out of step with the log");
  }
  return {};
}

}  // namespace nodus::raft
