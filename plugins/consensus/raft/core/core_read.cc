// Linearizable reads: ReadIndex (a heartbeat round confirms leadership for a batch of reads)
// and lease reads (check_quorum bounds how long a deposed leader can believe it leads).
#include <algorithm>
#include <functional>
#include <utility>
#include <vector>

#include "core_impl.h"

namespace nodus::raft {

std::string encode_u64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return out;
}

std::optional<uint64_t> decode_u64(const std::string& s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(s[static_cast<size_t>(i)]);
  return v;
}

bool CoreImpl::committed_in_term() const {
  return log_.term(log_.commit()) == term_;
}

uint64_t CoreImpl::lease_ticks() const {
  // A follower that received a heartbeat refuses other candidates' votes until its
  // election_ticks-th tick after that, more than election_ticks - 1 of its tick periods. The
  // leader counts in its own ticks, which may be slower by up to (1 + d) / (1 - d).
  const uint64_t d = config_.lease_clock_drift_ppm;
  return (uint64_t{config_.election_ticks} - 1) * (1'000'000 - d) / (1'000'000 + d);
}

bool CoreImpl::lease_valid() const {
  // Each voter whose heartbeat acknowledgement echoed send tick s ignores vote requests for
  // an election timeout after it received that heartbeat, hence after s. While a quorum
  // (this leader included, at now) acknowledged heartbeats sent less than lease_ticks() ago,
  // no other leader can have been elected. The lease counts from the send, not from the
  // acknowledgement's arrival, which may be arbitrarily late. A transfer's vote ignores those
  // promises, so after MSG_TIMEOUT_NOW there is no lease (lease_revoked_).
  if (config_.read_mode != ReadMode::kLease || !is_leader() || lease_revoked_ ||
      !committed_in_term()) {
    return false;
  }
  std::vector<uint64_t> sent;
  for (PeerId id : voters_) {
    if (id == config_.id) {
      sent.push_back(ticks_);
      continue;
    }
    auto it = progress_.find(id);
    sent.push_back(it == progress_.end() ? 0 : it->second.lease_tick);
  }
  if (sent.size() < quorum()) return false;
  std::sort(sent.begin(), sent.end(), std::greater<>());
  const uint64_t start = sent[quorum() - 1];
  return start > 0 && ticks_ - start < lease_ticks();
}

void CoreImpl::read_index(uint64_t request_id) {
  if (is_leader()) {
    PendingRead read{request_id, std::nullopt};
    if (lease_valid()) {
      answer_read(read, log_.commit());
    } else {
      unsent_reads_.push_back(read);
    }
    return;
  }
  if (role_ != ConsensusRole::kFollower || !leader_) {
    failed_reads_.push_back(request_id);
    return;
  }
  if (forwarded_reads_.count(request_id) > 0) return;  // already asked
  forwarded_reads_[request_id] = 0;
  pb::Message m;
  m.set_type(pb::MSG_READ_INDEX);
  m.set_to(*leader_);
  m.set_context(encode_u64(request_id));
  send(std::move(m));
}

void CoreImpl::handle_read_index(const pb::Message& m) {
  const auto id = decode_u64(m.context());
  if (!id) {
    drop();
    return;
  }
  if (!is_leader()) {
    pb::Message r;
    r.set_type(pb::MSG_READ_INDEX_RESP);
    r.set_to(m.from());
    r.set_reject(true);
    r.set_context(m.context());
    send(std::move(r));
    return;
  }
  PendingRead read{*id, m.from()};
  if (lease_valid()) {
    answer_read(read, log_.commit());
  } else {
    unsent_reads_.push_back(read);
  }
}

void CoreImpl::handle_read_index_response(const pb::Message& m) {
  const auto id = decode_u64(m.context());
  if (!id || forwarded_reads_.erase(*id) == 0) return;  // unknown or already failed
  if (m.reject()) {
    failed_reads_.push_back(*id);
  } else {
    read_states_.push_back(ReadState{*id, m.index()});
  }
}

void CoreImpl::start_read_round() {
  // A new leader does not know the commit index of earlier terms until its own entry
  // commits; reads wait for that.
  if (!is_leader() || unsent_reads_.empty() || !committed_in_term()) return;
  if (quorum() <= 1) {
    for (const auto& r : unsent_reads_)
      answer_read(r, log_.commit());
    unsent_reads_.clear();
    return;
  }
  const uint64_t seq = ++read_seq_;
  ReadRound& round = read_rounds_[seq];
  round.index = log_.commit();
  round.reads = std::move(unsent_reads_);
  unsent_reads_.clear();
  round.acks.insert(config_.id);
  broadcast_heartbeat();
}

void CoreImpl::handle_read_ack(PeerId from, const std::string& context) {
  const auto seq = decode_u64(context);
  if (!seq || voters_.count(from) == 0) return;
  // The answer to a heartbeat sent after round `seq` began confirms every round up to it.
  for (auto it = read_rounds_.begin(); it != read_rounds_.end() && it->first <= *seq; ++it) {
    it->second.acks.insert(from);
  }
  release_confirmed_reads();
}

void CoreImpl::release_confirmed_reads() {
  while (!read_rounds_.empty()) {
    auto it = read_rounds_.begin();
    size_t acks = 0;
    for (PeerId id : it->second.acks)
      acks += voters_.count(id);
    if (acks < quorum()) return;
    for (const auto& r : it->second.reads)
      answer_read(r, it->second.index);
    read_rounds_.erase(it);
  }
}

void CoreImpl::answer_read(const PendingRead& read, uint64_t index) {
  if (!read.origin) {
    read_states_.push_back(ReadState{read.request_id, index});
    return;
  }
  send_read_response(*read.origin, read.request_id, index);
}

void CoreImpl::fail_read(const PendingRead& read) {
  if (!read.origin) {
    failed_reads_.push_back(read.request_id);
    return;
  }
  send_read_response(*read.origin, read.request_id, std::nullopt);
}

void CoreImpl::send_read_response(PeerId to, uint64_t request_id, std::optional<uint64_t> index) {
  pb::Message r;
  r.set_type(pb::MSG_READ_INDEX_RESP);
  r.set_to(to);
  if (index) {
    r.set_index(*index);
  } else {
    r.set_reject(true);
  }
  r.set_context(encode_u64(request_id));
  send(std::move(r));
}

void CoreImpl::fail_all_reads() {
  for (const auto& r : unsent_reads_)
    fail_read(r);
  unsent_reads_.clear();
  for (const auto& [seq, round] : read_rounds_) {
    for (const auto& r : round.reads)
      fail_read(r);
  }
  read_rounds_.clear();
  for (const auto& [id, age] : forwarded_reads_)
    failed_reads_.push_back(id);
  forwarded_reads_.clear();
}

void CoreImpl::tick_reads() {
  // Bounded waiting: a read whose confirmation or answer was lost fails after two election
  // timeouts instead of hanging.
  const uint32_t limit = 2 * config_.election_ticks;
  for (auto it = forwarded_reads_.begin(); it != forwarded_reads_.end();) {
    if (++it->second >= limit) {
      failed_reads_.push_back(it->first);
      it = forwarded_reads_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = read_rounds_.begin(); it != read_rounds_.end();) {
    if (++it->second.age_ticks >= limit) {
      for (const auto& r : it->second.reads)
        fail_read(r);
      it = read_rounds_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace nodus::raft
