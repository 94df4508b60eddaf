// Membership changes and leadership transfer.
//
// Choice: a configuration change takes effect when its entry COMMITS (etcd style), not when
// it is appended (the dissertation's style). Applying at commit needs no rollback when an
// uncommitted change is truncated, and the conf state is always a function of the commit
// index, which is what snapshot metadata records. It is safe because (1) changes are one
// server at a time, so the majorities of the old and the new configuration overlap whichever
// one a node uses; (2) only one change is pending at a time; and (3) a leader proposes a
// change only after an entry of its own term committed, which closes the known hole where a
// new leader's stale configuration would let two changes from different terms interleave.
#include <iterator>
#include <string>
#include <utility>

#include "core_impl.h"

namespace nodus::raft {

pb::ConfState CoreImpl::conf_state() const {
  pb::ConfState cs;
  for (PeerId id : voters_)
    cs.add_voters(id);
  for (PeerId id : learners_)
    cs.add_learners(id);
  return cs;
}

pb::ConfState CoreImpl::conf_at(uint64_t index) const {
  auto it = conf_history_.upper_bound(index);
  if (it == conf_history_.begin()) return snapshot_.conf();
  return std::prev(it)->second;
}

void CoreImpl::set_conf(const pb::ConfState& conf) {
  voters_.clear();
  learners_.clear();
  for (uint32_t id : conf.voters())
    voters_.insert(id);
  for (uint32_t id : conf.learners()) {
    if (voters_.count(id) == 0) learners_.insert(id);
  }
  if (is_leader()) sync_progress();
}

void CoreImpl::sync_progress() {
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (voters_.count(it->first) == 0 && learners_.count(it->first) == 0) {
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  auto add = [this](PeerId id, bool learner) {
    auto [it, inserted] = progress_.try_emplace(id);
    it->second.learner = learner;
    if (!inserted) return;
    it->second.next = log_.last_index() + 1;
    if (id == config_.id) {
      it->second.match = log_.synced();
      it->second.state = ProgressState::kReplicate;
      it->second.recent_active = true;
    }
  };
  for (PeerId id : voters_)
    add(id, false);
  for (PeerId id : learners_)
    add(id, true);
}

void CoreImpl::apply_conf_entries(uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to; ++i) {
    const pb::Entry* e = log_.entry(i);
    if (e == nullptr || e->type() != pb::ENTRY_CONF_CHANGE) continue;
    pb::ConfChange cc;
    if (!cc.ParseFromString(e->data())) continue;  // a malformed change changes nothing
    apply_conf_change(cc, i);
  }
}

void CoreImpl::apply_conf_change(const pb::ConfChange& cc, uint64_t index) {
  const PeerId peer = cc.peer();
  switch (cc.kind()) {
    case pb::ConfChange::ADD_VOTER:
      learners_.erase(peer);
      voters_.insert(peer);
      break;
    case pb::ConfChange::ADD_LEARNER:
      if (voters_.count(peer) > 0) return;  // demoting a voter is not supported
      learners_.insert(peer);
      break;
    case pb::ConfChange::REMOVE:
      if (voters_.count(peer) > 0 && voters_.size() == 1) return;  // never remove the last voter
      voters_.erase(peer);
      learners_.erase(peer);
      break;
    default:
      return;
  }
  conf_history_[index] = conf_state();
  if (!is_leader()) return;
  if (cc.kind() == pb::ConfChange::REMOVE && peer != config_.id) {
    // A last heartbeat tells the removed peer the commit index that removes it, so it stops
    // counting itself as a voter (it gets no more messages after this).
    send_heartbeat(peer, std::string());
  }
  sync_progress();
  if (transferee_ && voters_.count(*transferee_) == 0) {
    finish_transfer(aborted("the transfer target left the configuration"));
  }
  if (voters_.count(config_.id) == 0) {
    // The removal of this leader is committed: it leaves, and the others elect a successor.
    // First tell them the new commit index: a voter that does not learn it still counts
    // this node in its quorum (and this node, not a voter any more, never campaigns).
    broadcast_append();
    broadcast_heartbeat();
    become_follower(term_, std::nullopt);
  }
}

Result<uint64_t> CoreImpl::propose_conf_change(const pb::ConfChange& change) {
  if (!is_leader()) return unavailable("not the leader");
  if (transferee_) return unavailable("leadership transfer in progress");
  if (pending_conf_index_ > log_.commit()) {
    return failed_precondition("a membership change is still pending");
  }
  if (!committed_in_term()) {
    return unavailable("the new leader has not committed an entry of its term yet");
  }
  const PeerId peer = change.peer();
  const std::string who = "peer " + std::to_string(peer);
  switch (change.kind()) {
    case pb::ConfChange::ADD_VOTER:
      if (voters_.count(peer) > 0) return invalid_argument(who + " is already a voter");
      break;
    case pb::ConfChange::ADD_LEARNER:
      if (voters_.count(peer) > 0) return invalid_argument(who + " is a voter");
      if (learners_.count(peer) > 0) return invalid_argument(who + " is already a learner");
      break;
    case pb::ConfChange::REMOVE:
      if (voters_.count(peer) == 0 && learners_.count(peer) == 0) {
        return invalid_argument(who + " is not a member");
      }
      if (voters_.count(peer) > 0 && voters_.size() == 1) {
        return failed_precondition("cannot remove the last voter");
      }
      break;
    default:
      return invalid_argument("unknown membership change kind");
  }
  pb::Entry e;
  e.set_term(term_);
  e.set_type(pb::ENTRY_CONF_CHANGE);
  e.set_data(change.SerializeAsString());
  NODUS_CHECK_LE(pending_conf_index_, log_.commit()) << "one membership change at a time";
  const uint64_t index = log_.append(std::move(e));
  pending_conf_index_ = index;
  // A leader removing itself appends nothing after the removal, so every voter that holds
  // the removal has a log as up to date as this one and can win the next election even
  // with this node's vote.
  leaving_ = change.kind() == pb::ConfChange::REMOVE && peer == config_.id;
  need_broadcast_ = true;
  return index;
}

Result<uint64_t> CoreImpl::propose(std::string data) {
  if (!is_leader()) {
    std::string msg = "not the leader";
    if (leader_) msg += "; leader is " + std::to_string(*leader_);
    return unavailable(std::move(msg));
  }
  if (transferee_) return unavailable("leadership transfer in progress");
  if (leaving_) return unavailable("the leader is removing itself from the configuration");
  const uint64_t size = data.size();
  // One proposal always fits when nothing is outstanding, so a large command cannot wedge.
  if (uncommitted_bytes_ > 0 && uncommitted_bytes_ + size > config_.max_uncommitted_bytes) {
    ++counters_.proposals_rejected_flow;
    return resource_exhausted("too many uncommitted bytes: " + std::to_string(uncommitted_bytes_));
  }
  pb::Entry e;
  e.set_term(term_);
  e.set_type(pb::ENTRY_NORMAL);
  e.set_data(std::move(data));
  const uint64_t index = log_.append(std::move(e));
  uncommitted_bytes_ += size;
  need_broadcast_ = true;
  return index;
}

bool CoreImpl::quorum_active() const {
  size_t active = 0;
  for (PeerId id : voters_) {
    auto it = progress_.find(id);
    if (id == config_.id || (it != progress_.end() && it->second.recent_active)) ++active;
  }
  return active >= quorum();
}

Status CoreImpl::transfer_leadership(std::optional<PeerId> to) {
  if (!is_leader()) return unavailable("not the leader");
  if (transferee_) return failed_precondition("a leadership transfer is already in progress");
  PeerId target = 0;
  if (to) {
    target = *to;
    if (target == config_.id) return invalid_argument("already the leader");
    if (voters_.count(target) == 0) return invalid_argument("transfer target is not a voter");
  } else {
    bool found = false;
    uint64_t best = 0;
    for (PeerId id : voters_) {
      if (id == config_.id) continue;
      const uint64_t match = progress_.count(id) > 0 ? progress_.at(id).match : 0;
      if (!found || match > best) {
        found = true;
        best = match;
        target = id;
      }
    }
    if (!found) return failed_precondition("no other voter to transfer to");
  }
  transferee_ = target;
  transfer_elapsed_ticks_ = 0;
  if (progress_.count(target) > 0 && progress_.at(target).match == log_.last_index()) {
    send_timeout_now(target);
  } else {
    send_append(target, true);
  }
  return {};
}

void CoreImpl::send_timeout_now(PeerId to) {
  lease_revoked_ = true;
  pb::Message t;
  t.set_type(pb::MSG_TIMEOUT_NOW);
  t.set_to(to);
  send(std::move(t));
}

void CoreImpl::finish_transfer(Status result) {
  if (!transferee_) return;
  transferee_.reset();
  transfer_elapsed_ticks_ = 0;
  transfer_result_ = std::move(result);
}

void CoreImpl::handle_timeout_now(const pb::Message& m) {
  // Only the leader of this term may hand over leadership.
  if (is_leader() || term_leader_ != m.from()) {
    drop();
    return;
  }
  start_election(true);
}

}  // namespace nodus::raft
