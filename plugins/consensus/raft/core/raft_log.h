// raft/core/raft_log.h: the in-memory Raft log of one node, with the positions the durability
// contract needs: what was handed to the driver for persistence, what the driver reported
// synced, what is committed, handed out for applying, and applied.
//
// Entries [first_index(), last_index()] are in memory; the entry at snapshot index is known
// only by its term. Every method checks its arguments: callers pass values from the network.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "nodus/check.h"
#include "nodus/status.h"
#include "raft.pb.h"

namespace nodus::raft {

namespace pb = ::nodus::raft::v1;

// Bytes an entry counts for batching and flow control (payload plus a fixed header).
inline uint64_t entry_bytes(const pb::Entry& e) {
  return e.data().size() + 16;
}

class RaftLog {
 public:
  // Loads what survived on disk. All of it is durable, so synced = last index.
  Status init(const pb::SnapshotMeta& snapshot, std::vector<pb::Entry> entries, uint64_t commit);

  uint64_t snapshot_index() const { return snapshot_index_; }
  uint64_t snapshot_term() const { return snapshot_term_; }
  uint64_t first_index() const { return snapshot_index_ + 1; }
  uint64_t last_index() const { return snapshot_index_ + entries_.size(); }
  uint64_t last_term() const { return entries_.empty() ? snapshot_term_ : entries_.back().term(); }
  // The term of `index`, or nullopt when it is compacted away or beyond the log.
  std::optional<uint64_t> term(uint64_t index) const;
  bool match_term(uint64_t index, uint64_t term) const {
    auto t = this->term(index);
    return t.has_value() && *t == term;
  }
  // nullptr unless first_index() <= index <= last_index().
  const pb::Entry* entry(uint64_t index) const;
  // Whether a log ending at (index, term) is at least as up to date as this one (§5.4.1).
  bool is_up_to_date(uint64_t index, uint64_t term) const {
    return term > last_term() || (term == last_term() && index >= last_index());
  }

  // Leader: appends one entry at last_index() + 1 (index set here).
  uint64_t append(pb::Entry entry);
  // Follower: the entries follow `prev_index`, which matches. Skips the ones already present,
  // truncates at the first conflict and appends the rest. Returns false, changing nothing,
  // when the conflict would remove a committed entry (a broken or malicious leader).
  bool merge(uint64_t prev_index, const pb::Message& message);
  // Entries in [lo, hi], at most max_bytes (but at least one). Empty when out of range.
  std::vector<pb::Entry> slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  // The largest index <= index whose term is <= term (fast backtracking, for both sides).
  uint64_t find_conflict_by_term(uint64_t index, uint64_t term) const;

  uint64_t commit() const { return commit_; }
  void set_commit(uint64_t commit) {
    NODUS_CHECK_GE(commit, commit_) << "the commit index never decreases";
    NODUS_CHECK_LE(commit, last_index()) << "only entries in the log are committed";
    commit_ = commit;
  }
  uint64_t applied() const { return applied_; }
  void set_applied(uint64_t applied) {
    NODUS_CHECK_LE(applied, commit_) << "only committed entries are applied";
    applied_ = applied;
  }

  // ---- persistence positions ----
  uint64_t synced() const { return synced_; }
  // The driver's log_synced(index, term); ignored unless it names an entry of this log that
  // was handed out for persistence.
  void on_synced(uint64_t index, uint64_t term);
  bool has_unpersisted() const { return persist_from_ <= last_index(); }
  std::vector<pb::Entry> take_unpersisted();
  // Index of the next entry that goes to Ready::committed; only entries already handed out
  // for persistence are handed out for applying.
  uint64_t committed_emittable() const;
  uint64_t emitted() const { return emitted_; }
  void set_emitted(uint64_t index) {
    NODUS_CHECK_LE(index, commit_) << "only committed entries are handed out for applying";
    emitted_ = index;
  }

  // Drops entries up to `index` (<= applied) from memory; `index` becomes the snapshot index.
  Status compact(uint64_t index, uint64_t term);
  // A snapshot was installed: the log restarts after it, empty.
  void restore(uint64_t index, uint64_t term);

  Status check() const;

 private:
  void truncate_from(uint64_t index);

  uint64_t snapshot_index_ = 0;
  uint64_t snapshot_term_ = 0;
  std::deque<pb::Entry> entries_;
  uint64_t commit_ = 0;
  uint64_t applied_ = 0;
  uint64_t synced_ = 0;
  uint64_t persist_from_ = 1;
  uint64_t emitted_ = 0;
};

}  // namespace nodus::raft
