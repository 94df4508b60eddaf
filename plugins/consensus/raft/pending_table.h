// raft/pending_table.h: every callback the Raft driver still owes an answer, in one table.
//
// Proposals waiting to apply (by log index), forwarded proposals in flight to the leader (by
// request id) and waiting for the local apply (by log index), membership changes (by log
// index) and reads (by request id) share one bounded table: add() refuses past
// `max_entries` so that a flood of clients costs a RESOURCE_EXHAUSTED answer instead of
// memory, and take_expired() is the one expiry path for every kind.
//
//   PendingTable table(65536);
//   if (!table.add(PendingKind::kRead, id, std::move(entry))) return done(exhausted());
//   for (auto& [key, e] : table.take_expired(now)) answer(e, deadline_exceeded(...));
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nodus/capabilities/consensus.h"
#include "nodus/services/clock.h"

namespace nodus::raft {

enum class PendingKind {
  kProposal,    // proposed here as leader; key: log index
  kForwarding,  // sent to the leader, no answer yet; key: request id
  kForwarded,   // the leader committed it; waiting for the local apply; key: log index
  kConf,        // membership change; key: log index
  kRead,        // read barrier; key: request id
};

std::string_view pending_kind_name(PendingKind kind);

struct PendingEntry {
  PendingKind kind = PendingKind::kProposal;
  uint64_t term = 0;  // of the entry (proposals, forwarded, conf)
  TimePoint deadline{};
  TimePoint since{};
  std::optional<uint64_t> read_index;  // reads: set once the core answered
  std::string response;                // forwarded: what the leader's state machine returned
  // Proposals and forwards answer with a ProposeResult, conf changes and reads with a Status.
  ProposeCallback propose_done;
  DoneCallback done;

  // Answers the caller with an error (either callback shape); the entry is spent after.
  void fail(const Status& why);
};

class PendingTable {
 public:
  explicit PendingTable(size_t max_entries) : max_entries_(max_entries) {}

  // False (and `entry` untouched) when the table holds max_entries already.
  bool add(PendingKind kind, uint64_t key, PendingEntry&& entry);
  // Removes and returns the entry of this kind and key (the first one when several).
  std::optional<PendingEntry> take(PendingKind kind, uint64_t key);
  // Removes and returns the entry of this kind with the smallest key if that key <= `upto`.
  std::optional<std::pair<uint64_t, PendingEntry>> take_first_upto(PendingKind kind, uint64_t upto);
  PendingEntry* find(PendingKind kind, uint64_t key);
  // Every entry whose deadline is at or before `now`, removed, in (kind, key) order.
  std::vector<std::pair<uint64_t, PendingEntry>> take_expired(TimePoint now);
  // Every entry of the given kinds, removed.
  std::vector<std::pair<uint64_t, PendingEntry>> take_all(std::initializer_list<PendingKind> kinds);
  // Calls fn(key, entry) for each entry of `kind` in key order; fn returns true to remove it
  // (the removed entries are returned, so that their callbacks run after the walk).
  template <typename Fn>
  std::vector<std::pair<uint64_t, PendingEntry>> take_if(PendingKind kind, Fn fn) {
    std::vector<std::pair<uint64_t, PendingEntry>> out;
    auto it = entries_.lower_bound({kind, 0});
    while (it != entries_.end() && it->first.first == kind) {
      if (fn(it->first.second, it->second)) {
        out.emplace_back(it->first.second, std::move(it->second));
        it = erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  size_t size() const { return entries_.size(); }
  size_t size(PendingKind kind) const { return counts_[static_cast<size_t>(kind)]; }
  size_t max_entries() const { return max_entries_; }
  bool full() const { return entries_.size() >= max_entries_; }

 private:
  using Map = std::multimap<std::pair<PendingKind, uint64_t>, PendingEntry>;
  Map::iterator erase(Map::iterator it);

  const size_t max_entries_;
  std::array<size_t, 5> counts_{};  // by PendingKind, for the gauges
  // Ordered by (kind, key): a kind's entries are contiguous and in key order, which is the
  // order forwarded waits complete in and reads are answered in.
  Map entries_;
};

}  // namespace nodus::raft
