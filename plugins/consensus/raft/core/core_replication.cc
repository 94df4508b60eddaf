// Log replication: appends, heartbeats, acknowledgements, commit, snapshots and compaction.
#include <algorithm>
#include <functional>
#include <utility>

#include "core_impl.h"

namespace nodus::raft {

// ---- leader side ----

void CoreImpl::step_leader(const pb::Message& m) {
  auto it = progress_.find(m.from());
  if (it == progress_.end()) {
    drop();  // not a member of the configuration this leader replicates to
    return;
  }
  it->second.recent_active = true;
  // The follower echoes the send tick of the newest append or heartbeat it got from this
  // leader; an echo from the future is malformed and must not extend the lease.
  if ((m.type() == pb::MSG_APPEND_RESP || m.type() == pb::MSG_HEARTBEAT_RESP) &&
      m.lease_tick() <= ticks_) {
    it->second.lease_tick = std::max(it->second.lease_tick, m.lease_tick());
  }
  switch (m.type()) {
    case pb::MSG_APPEND_RESP:
      handle_append_response(m);
      return;
    case pb::MSG_HEARTBEAT_RESP:
      handle_heartbeat_response(m);
      return;
    case pb::MSG_SNAPSHOT_RESP:
      if (m.reject()) report_snapshot(m.from(), false);
      return;
    case pb::MSG_APPEND:
    case pb::MSG_HEARTBEAT:
    case pb::MSG_SNAPSHOT:
      drop();  // another leader in this leader's term cannot exist
      return;
    default:
      return;  // late votes and the like
  }
}

void CoreImpl::handle_append_response(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  const uint64_t last = log_.last_index();
  if (m.index() > last) {
    drop();  // acknowledges entries this leader never had
    return;
  }
  if (m.reject()) {
    // Stale rejections (of appends older than what is known to match) are ignored.
    if (pr.state == ProgressState::kReplicate && m.index() <= pr.match) return;
    if (pr.state == ProgressState::kProbe && m.index() + 1 != pr.next) return;
    if (pr.state == ProgressState::kSnapshot) return;
    // Fast backtracking: skip every entry of a term the follower cannot match.
    uint64_t hint = std::min(m.reject_hint(), last);
    if (m.log_term() > 0) hint = log_.find_conflict_by_term(hint, m.log_term());
    pr.become_probe();
    pr.next = std::max(std::min(m.index(), hint + 1), pr.match + 1);
    send_append(m.from(), true);
    return;
  }
  if (m.index() < pr.match) return;  // stale
  pr.maybe_update(m.index());
  if (pr.state == ProgressState::kProbe) {
    pr.become_replicate();
  } else if (pr.state == ProgressState::kSnapshot && pr.match >= pr.pending_snapshot) {
    pr.become_replicate();
  } else {
    pr.inflights.free_up_to(m.index());
  }
  if (maybe_commit()) need_broadcast_ = true;
  if (!is_leader()) return;  // committing our own removal made us step down
  auto it = progress_.find(m.from());
  if (it == progress_.end()) return;  // the peer was removed by that commit
  while (send_append(m.from(), false)) {
  }
  if (transferee_ == m.from() && it->second.match == log_.last_index()) {
    send_timeout_now(m.from());
  }
}

void CoreImpl::handle_heartbeat_response(const pb::Message& m) {
  Progress& pr = progress_.at(m.from());
  pr.probe_sent = false;
  // The follower is alive: one lost MSG_APPEND must not keep a full window stuck.
  if (pr.state == ProgressState::kReplicate &&
      pr.inflights.full(config_.max_inflight_msgs, config_.max_inflight_bytes)) {
    pr.inflights.free_first();
  }
  if (pr.match < log_.last_index()) send_append(m.from(), true);
  if (!m.context().empty()) handle_read_ack(m.from(), m.context());
}

bool CoreImpl::send_append(PeerId to, bool send_if_empty) {
  if (to == config_.id) return false;
  auto it = progress_.find(to);
  if (it == progress_.end()) return false;
  Progress& pr = it->second;
  if (pr.paused(config_.max_inflight_msgs, config_.max_inflight_bytes)) return false;
  if (pr.next > log_.last_index() + 1) pr.next = log_.last_index() + 1;
  const uint64_t prev = pr.next - 1;
  const auto prev_term = log_.term(prev);
  if (!prev_term) {
    // The entries the follower needs were compacted: it needs the snapshot.
    pr.become_snapshot(log_.snapshot_index());
    send_snapshot_to_.push_back(to);
    return false;
  }
  std::vector<pb::Entry> ents = log_.slice(pr.next, log_.last_index(), config_.max_msg_bytes);
  if (ents.empty() && !send_if_empty) return false;
  pb::Message m;
  m.set_type(pb::MSG_APPEND);
  m.set_to(to);
  m.set_index(prev);
  m.set_log_term(*prev_term);
  m.set_commit(log_.commit());
  uint64_t bytes = 0;
  for (auto& e : ents) {
    bytes += entry_bytes(e);
    *m.add_entries() = std::move(e);
  }
  const bool sent_entries = m.entries_size() > 0;
  if (pr.state == ProgressState::kReplicate) {
    if (sent_entries) {
      const uint64_t last = m.entries(m.entries_size() - 1).index();
      pr.next = last + 1;
      pr.inflights.add(last, bytes);
    }
  } else {
    pr.probe_sent = true;
  }
  send(std::move(m));
  return sent_entries && pr.state == ProgressState::kReplicate;
}

void CoreImpl::send_heartbeat(PeerId to, const std::string& context) {
  auto it = progress_.find(to);
  if (it == progress_.end()) return;
  pb::Message m;
  m.set_type(pb::MSG_HEARTBEAT);
  m.set_to(to);
  // Never ahead of what the follower is known to hold, so it cannot commit a wrong entry.
  m.set_commit(std::min(log_.commit(), it->second.match));
  m.set_context(context);
  send(std::move(m));
}

void CoreImpl::broadcast_append() {
  for (auto& [id, pr] : progress_) {
    if (id == config_.id) continue;
    // The first message may be empty: it carries the new commit index.
    if (send_append(id, true)) {
      while (send_append(id, false)) {
      }
    }
  }
}

void CoreImpl::broadcast_heartbeat() {
  std::string context;
  if (!read_rounds_.empty()) context = encode_u64(read_rounds_.rbegin()->first);
  for (const auto& [id, pr] : progress_) {
    if (id != config_.id) send_heartbeat(id, context);
  }
}

bool CoreImpl::maybe_commit() {
  bool advanced = false;
  // Committing a configuration change can shrink the quorum, so look again after each step.
  while (is_leader() && !voters_.empty()) {
    std::vector<uint64_t> matches;
    for (PeerId id : voters_) {
      if (id == config_.id) {
        matches.push_back(log_.synced());  // only our durable copy counts
      } else {
        auto it = progress_.find(id);
        matches.push_back(it == progress_.end() ? 0 : it->second.match);
      }
    }
    std::sort(matches.begin(), matches.end(), std::greater<>());
    const uint64_t candidate = matches[quorum() - 1];
    // Raft §5.4.2: only entries of the current term are committed by counting replicas.
    if (candidate <= log_.commit() || log_.term(candidate) != term_) break;
    commit_to(candidate);
    advanced = true;
  }
  return advanced;
}

void CoreImpl::commit_to(uint64_t index) {
  index = std::min(index, log_.last_index());
  const uint64_t old = log_.commit();
  if (index <= old) return;
  if (is_leader()) {
    for (uint64_t i = old + 1; i <= index; ++i) {
      const pb::Entry* e = log_.entry(i);
      const uint64_t size = e == nullptr ? 0 : e->data().size();
      uncommitted_bytes_ -= std::min(uncommitted_bytes_, size);
    }
  }
  log_.set_commit(index);
  apply_conf_entries(old + 1, index);
}

// ---- follower side ----

bool CoreImpl::entries_well_formed(const pb::Message& m) const {
  if (m.log_term() > m.term()) return false;
  uint64_t prev_term = m.log_term();
  for (int i = 0; i < m.entries_size(); ++i) {
    const pb::Entry& e = m.entries(i);
    if (e.index() != m.index() + 1 + static_cast<uint64_t>(i)) return false;
    if (e.term() == 0 || e.term() < prev_term || e.term() > m.term()) return false;
    if (e.type() != pb::ENTRY_NORMAL && e.type() != pb::ENTRY_CONF_CHANGE) return false;
    prev_term = e.term();
  }
  return true;
}

void CoreImpl::handle_append(const pb::Message& m) {
  if (!entries_well_formed(m)) {
    drop();
    return;
  }
  ack_to_ = m.from();
  // While a snapshot waits for installation the log is frozen. Appends are rejected, so a
  // leader whose snapshot never got installed probes down to its compacted index and sends
  // the snapshot again (which is then handed out again).
  if (!pending_snapshot_ && m.index() < log_.commit()) {
    // Everything up to our commit index is already settled.
    ack_wanted_ = std::max(ack_wanted_, log_.commit());
    flush_ack(true);
    return;
  }
  if (pending_snapshot_ || !log_.match_term(m.index(), m.log_term())) {
    // A hint of 0 sends the leader back to this follower's match index, below its
    // compacted log, hence to a snapshot.
    uint64_t hint = 0;
    if (!pending_snapshot_) {
      hint = log_.find_conflict_by_term(std::min(m.index(), log_.last_index()), m.log_term());
    }
    pb::Message r;
    r.set_type(pb::MSG_APPEND_RESP);
    r.set_to(m.from());
    r.set_index(m.index());
    r.set_reject(true);
    r.set_reject_hint(hint);
    r.set_log_term(pending_snapshot_ ? 0 : log_.term(hint).value_or(0));
    send(std::move(r));
    return;
  }
  NODUS_CHECK(!is_leader()) << "a leader never overwrites its own entries; node " << config_.id
                            << " term " << term_;
  if (!log_.merge(m.index(), m)) {
    drop();  // would overwrite a committed entry
    return;
  }
  const uint64_t last_new = m.index() + static_cast<uint64_t>(m.entries_size());
  ack_wanted_ = std::max(ack_wanted_, last_new);
  commit_to(std::min(m.commit(), last_new));
  // Acknowledge now when everything in the message is already durable; otherwise
  // log_synced() sends the acknowledgement.
  flush_ack(log_.synced() >= last_new);
}

void CoreImpl::flush_ack(bool force) {
  if (!ack_to_ || role_ != ConsensusRole::kFollower) return;
  // Entries up to ack_wanted_ match the leader; entries up to synced() are durable.
  const uint64_t index = std::min(ack_wanted_, log_.synced());
  if (!force && index <= ack_sent_) return;
  pb::Message r;
  r.set_type(pb::MSG_APPEND_RESP);
  r.set_to(*ack_to_);
  r.set_index(index);
  send(std::move(r));
  ack_sent_ = std::max(ack_sent_, index);
}

void CoreImpl::handle_heartbeat(const pb::Message& m) {
  // The log is frozen while a snapshot waits to be installed.
  if (!pending_snapshot_) commit_to(m.commit());
  pb::Message r;
  r.set_type(pb::MSG_HEARTBEAT_RESP);
  r.set_to(m.from());
  r.set_context(m.context());
  send(std::move(r));
}

void CoreImpl::handle_snapshot(const pb::Message& m) {
  const pb::SnapshotMeta& meta = m.snapshot();
  if (meta.index() == 0 || meta.term() == 0 || meta.term() > m.term() ||
      meta.conf().voters_size() == 0) {
    drop();
    return;
  }
  ack_to_ = m.from();
  if (pending_snapshot_) {
    // A newer snapshot replaces the one being installed, and the same one sent again means
    // the driver could not install it: hand it out again. The log stays untouched.
    if (meta.index() >= pending_snapshot_->index()) {
      pending_snapshot_ = meta;
      pending_snapshot_emitted_ = false;
    }
    return;
  }
  if (meta.index() <= log_.commit()) {
    ack_wanted_ = std::max(ack_wanted_, log_.commit());
    flush_ack(true);
    return;
  }
  if (log_.match_term(meta.index(), meta.term())) {
    // The log already holds the snapshot's last entry: no need to replace it.
    ack_wanted_ = std::max(ack_wanted_, meta.index());
    commit_to(meta.index());
    flush_ack(true);
    return;
  }
  pending_snapshot_ = meta;
  pending_snapshot_emitted_ = false;
}

void CoreImpl::snapshot_installed(const pb::SnapshotMeta& meta) {
  if (!pending_snapshot_ || !pending_snapshot_emitted_ ||
      pending_snapshot_->index() != meta.index() || pending_snapshot_->term() != meta.term()) {
    return;
  }
  snapshot_ = *pending_snapshot_;
  pending_snapshot_.reset();
  log_.restore(snapshot_.index(), snapshot_.term());
  conf_history_.clear();
  set_conf(snapshot_.conf());
  if (role_ == ConsensusRole::kFollower && ack_to_) {
    ack_wanted_ = std::max(ack_wanted_, snapshot_.index());
    flush_ack(true);
  }
}

void CoreImpl::report_snapshot(PeerId peer, bool ok) {
  if (!is_leader()) return;
  auto it = progress_.find(peer);
  if (it == progress_.end() || it->second.state != ProgressState::kSnapshot) return;
  Progress& pr = it->second;
  if (!ok) pr.pending_snapshot = 0;
  pr.become_probe();
  // Wait for the follower's acknowledgement or the next heartbeat answer before probing,
  // so a failing stream is not restarted in a tight loop.
  pr.probe_sent = true;
}

void CoreImpl::report_unreachable(PeerId peer) {
  if (!is_leader()) return;
  auto it = progress_.find(peer);
  if (it != progress_.end() && it->second.state == ProgressState::kReplicate) {
    it->second.become_probe();
  }
}

Status CoreImpl::compact(const pb::SnapshotMeta& meta) {
  if (meta.index() <= log_.snapshot_index()) return {};
  uint64_t term = meta.term();
  if (term == 0) term = log_.term(meta.index()).value_or(0);
  NODUS_RETURN_IF_ERROR(log_.compact(meta.index(), term));
  pb::SnapshotMeta full = meta;
  full.set_term(term);
  if (full.conf().voters_size() == 0 && full.conf().learners_size() == 0) {
    *full.mutable_conf() = conf_at(meta.index());
  }
  snapshot_ = std::move(full);
  NODUS_CHECK_LE(snapshot_.index(), log_.commit()) << "only committed state is snapshotted";
  conf_history_.erase(conf_history_.begin(), conf_history_.upper_bound(meta.index()));
  return {};
}

}  // namespace nodus::raft
