#include "raft_log.h"

#include <algorithm>
#include <string>
#include <utility>

namespace nodus::raft {

Status RaftLog::init(const pb::SnapshotMeta& snapshot, std::vector<pb::Entry> entries,
                     uint64_t commit) {
  snapshot_index_ = snapshot.index();
  snapshot_term_ = snapshot.term();
  if (snapshot_index_ > 0 && snapshot_term_ == 0) {
    return invalid_argument("snapshot: index " + std::to_string(snapshot_index_) + " has term 0");
  }
  uint64_t prev_term = snapshot_term_;
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t want = snapshot_index_ + 1 + i;
    if (entries[i].index() != want) {
      return invalid_argument("entries: expected index " + std::to_string(want) + ", got " +
                              std::to_string(entries[i].index()));
    }
    if (entries[i].term() < prev_term || entries[i].term() == 0) {
      return invalid_argument("entries: term goes down at index " + std::to_string(want));
    }
    prev_term = entries[i].term();
  }
  entries_.assign(std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
  if (commit > last_index()) {
    return invalid_argument("hard_state.commit " + std::to_string(commit) +
                            " is beyond the last index " + std::to_string(last_index()));
  }
  commit_ = std::max(commit, snapshot_index_);
  applied_ = snapshot_index_;
  emitted_ = snapshot_index_;
  synced_ = last_index();
  persist_from_ = last_index() + 1;
  return {};
}

std::optional<uint64_t> RaftLog::term(uint64_t index) const {
  if (index == snapshot_index_) return snapshot_term_;
  if (index < snapshot_index_ || index > last_index()) return std::nullopt;
  return entries_[index - snapshot_index_ - 1].term();
}

const pb::Entry* RaftLog::entry(uint64_t index) const {
  if (index <= snapshot_index_ || index > last_index()) return nullptr;
  return &entries_[index - snapshot_index_ - 1];
}

uint64_t RaftLog::append(pb::Entry entry) {
  const uint64_t index = last_index() + 1;
  NODUS_CHECK_GE(entry.term(), last_term()) << "terms in the log never go down, at " << index;
  entry.set_index(index);
  entries_.push_back(std::move(entry));
  return index;
}

void RaftLog::truncate_from(uint64_t index) {
  NODUS_CHECK_GT(index, commit_) << "committed entries are never removed";
  while (!entries_.empty() && last_index() >= index)
    entries_.pop_back();
  // Entries at or after `index` are gone: what the driver synced of them no longer counts,
  // and the replacements must be handed out for persistence again.
  synced_ = std::min(synced_, index - 1);
  persist_from_ = std::min(persist_from_, index);
  emitted_ = std::min(emitted_, index - 1);
}

bool RaftLog::merge(uint64_t prev_index, const pb::Message& message) {
  const auto& ents = message.entries();
  size_t i = 0;
  // Skip the prefix already present with the same term.
  for (; i < static_cast<size_t>(ents.size()); ++i) {
    const uint64_t index = prev_index + 1 + i;
    if (index > last_index()) break;
    if (!match_term(index, ents[static_cast<int>(i)].term())) {
      if (index <= commit_) return false;
      truncate_from(index);
      break;
    }
  }
  for (; i < static_cast<size_t>(ents.size()); ++i) {
    pb::Entry e = ents[static_cast<int>(i)];
    e.set_index(prev_index + 1 + i);
    // Log matching: the entries continue the matched prefix without a gap, and the caller
    // (the core) refused messages whose terms go down.
    NODUS_CHECK_EQ(e.index(), last_index() + 1) << "indexes in the log are contiguous";
    NODUS_CHECK_GE(e.term(), last_term()) << "terms in the log never go down";
    entries_.push_back(std::move(e));
  }
  return true;
}

std::vector<pb::Entry> RaftLog::slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  std::vector<pb::Entry> out;
  if (lo <= snapshot_index_) return out;
  hi = std::min(hi, last_index());
  uint64_t bytes = 0;
  for (uint64_t i = lo; i <= hi; ++i) {
    const pb::Entry& e = entries_[i - snapshot_index_ - 1];
    bytes += entry_bytes(e);
    if (!out.empty() && bytes > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

uint64_t RaftLog::find_conflict_by_term(uint64_t index, uint64_t term) const {
  index = std::min(index, last_index());
  while (index > snapshot_index_) {
    const uint64_t t = entries_[index - snapshot_index_ - 1].term();
    if (t <= term) break;
    --index;
  }
  return index;
}

void RaftLog::on_synced(uint64_t index, uint64_t term) {
  if (index < persist_from_ && index > synced_ && index <= last_index() &&
      match_term(index, term)) {
    synced_ = index;
  }
}

std::vector<pb::Entry> RaftLog::take_unpersisted() {
  std::vector<pb::Entry> out;
  for (uint64_t i = std::max(persist_from_, first_index()); i <= last_index(); ++i) {
    out.push_back(entries_[i - snapshot_index_ - 1]);
  }
  persist_from_ = last_index() + 1;
  return out;
}

uint64_t RaftLog::committed_emittable() const {
  return std::min(commit_, persist_from_ - 1);
}

Status RaftLog::compact(uint64_t index, uint64_t term) {
  if (index <= snapshot_index_) return {};  // already compacted that far
  if (index > applied_) {
    return failed_precondition("compact " + std::to_string(index) + " beyond applied " +
                               std::to_string(applied_));
  }
  if (!match_term(index, term)) {
    return invalid_argument("compact: term " + std::to_string(term) + " does not match index " +
                            std::to_string(index));
  }
  while (!entries_.empty() && entries_.front().index() <= index)
    entries_.pop_front();
  snapshot_index_ = index;
  snapshot_term_ = term;
  return {};
}

void RaftLog::restore(uint64_t index, uint64_t term) {
  entries_.clear();
  snapshot_index_ = index;
  snapshot_term_ = term;
  commit_ = std::max(commit_, index);
  applied_ = std::max(applied_, index);
  emitted_ = std::max(emitted_, index);
  synced_ = index;
  persist_from_ = index + 1;
}

Status RaftLog::check() const {
  uint64_t prev = snapshot_term_;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].index() != snapshot_index_ + 1 + i) {
      return internal_error("log not dense at position " + std::to_string(i));
    }
    if (entries_[i].term() < prev) {
      return internal_error("log term goes down at index " + std::to_string(entries_[i].index()));
    }
    prev = entries_[i].term();
  }
  if (commit_ > last_index()) return internal_error("commit beyond last index");
  if (applied_ > commit_) return internal_error("applied beyond commit");
  if (emitted_ > commit_) return internal_error("handed out for applying beyond commit");
  if (synced_ > last_index()) return internal_error("synced beyond last index");
  if (persist_from_ > last_index() + 1) return internal_error("persist position beyond log");
  return {};
}

}  // namespace nodus::raft
