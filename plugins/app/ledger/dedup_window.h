// dedup_window.h: the per-client outcome record of the ledger state machine.
//
// Every (client_id, seq) the state machine decides gets one final outcome, a success or a
// rejection, and a repeat of it is answered with that outcome instead of being applied
// again. Each client's window: a floor (every seq at or below it is resolved), the resolved
// seqs above it (the gaps of out-of-order retries) and the rejections at or below it (rare,
// so kept by count: the newest kSpan). A seq more than kSpan above the floor is not decided at
// all: the client must resolve its earlier seqs first (the ledger answers TX_RETRY). Nothing
// ever moves the floor past a seq that was not decided, so "resolved" is never a guess.
//
//   DedupWindow w;
//   if (w.check(seq, &outcome) == DedupWindow::Check::kNew) w.record(seq, {TX_OK, index});
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "ledger_types.h"

namespace nodus::ledger {

// What deciding one (client_id, seq) gave: the code and the Raft index of the deciding batch
// (0 when no longer known).
struct TxOutcome {
  TxCode code = TX_OK;
  uint64_t index = 0;
  bool operator==(const TxOutcome& o) const { return code == o.code && index == o.index; }
};

class DedupWindow {
 public:
  // How far above the floor a seq may be decided; also the rejections kept below the floor.
  static constexpr uint64_t kSpan = 4096;

  enum class Check {
    kNew,        // not decided yet, within the window: apply it
    kResolved,   // decided before: *outcome holds the result
    kAhead,      // more than kSpan above the floor: refuse without deciding (resend later)
    kForgotten,  // decided so long ago (and rejections since) that its outcome is gone
  };
  Check check(uint64_t seq, TxOutcome* outcome) const;
  // Records the outcome of `seq`. Requires check(seq) == kNew.
  void record(uint64_t seq, TxOutcome outcome);

  uint64_t floor() const { return floor_; }
  const std::map<uint64_t, TxOutcome>& above() const { return above_; }
  const std::map<uint64_t, TxOutcome>& refused() const { return refused_; }
  // Every seq at or below this that is not in refused() has a forgotten outcome.
  uint64_t forgotten_upto() const { return forgotten_upto_; }
  // Outcomes held (what the table's max_entries counts).
  size_t entries() const { return above_.size() + refused_.size(); }
  // For restore(); the caller checked the shape.
  void assign(uint64_t floor, uint64_t forgotten_upto, std::map<uint64_t, TxOutcome> above,
              std::map<uint64_t, TxOutcome> refused) {
    floor_ = floor;
    forgotten_upto_ = forgotten_upto;
    above_ = std::move(above);
    refused_ = std::move(refused);
  }

 private:
  void keep_if_refused(uint64_t seq, TxOutcome outcome);

  uint64_t floor_ = 0;
  uint64_t forgotten_upto_ = 0;
  std::map<uint64_t, TxOutcome> above_;    // (floor_, floor_ + kSpan]
  std::map<uint64_t, TxOutcome> refused_;  // <= floor_, at most kSpan, newest kept
};

// The windows of every client, bounded in clients and in outcomes held. When a new client
// arrives at a full table, or the outcomes held exceed max_entries, the client whose last
// decided transaction has the lowest Raft index is evicted (ties: the smallest client id;
// never the client being recorded). Both inputs come from the log, so every node evicts the
// same one. An evicted client loses its record: it must continue under a new client id.
class DedupTable {
 public:
  explicit DedupTable(size_t max_clients, size_t max_entries = 0)
      : max_clients_(max_clients), max_entries_(max_entries) {}

  // kNew for an unknown client's seq 1..kSpan, kAhead above.
  DedupWindow::Check check(const std::string& client, uint64_t seq, TxOutcome* outcome) const;
  // Records the outcome of (client, seq) decided in the entry at `index`; may evict others.
  void record(const std::string& client, uint64_t seq, TxOutcome outcome);

  struct Entry {
    DedupWindow window;
    uint64_t last_index = 0;
  };
  const std::map<std::string, Entry>& clients() const { return clients_; }
  uint64_t floor_of(const std::string& client) const {
    auto it = clients_.find(client);
    return it == clients_.end() ? 0 : it->second.window.floor();
  }
  size_t max_clients() const { return max_clients_; }
  size_t max_entries() const { return max_entries_; }
  size_t entries() const { return entries_; }
  uint64_t evictions() const { return evictions_; }
  void clear();
  // For restore(): inserts a client as it was (no eviction).
  void restore_client(std::string client, Entry entry);

 private:
  void evict_one(const std::string& keep);

  size_t max_clients_;
  size_t max_entries_;  // 0: unbounded (tests)
  std::map<std::string, Entry> clients_;
  std::set<std::pair<uint64_t, std::string>> by_index_;  // (last_index, client): LRU order
  size_t entries_ = 0;                                   // sum of the windows' entries()
  uint64_t evictions_ = 0;
};

}  // namespace nodus::ledger
