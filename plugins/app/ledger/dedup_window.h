// dedup_window.h: the per-client at-most-once record of the ledger state machine.
//
// Each client's window remembers which sequence numbers were applied: every seq at or below
// `floor` counts as seen, plus an ordered set of the seqs above it. Applying floor+1 moves the
// floor up through every contiguous seq in the set, so a client that sends in order keeps the
// set empty; one that pipelines batches whose retries arrive out of order keeps only the gaps.
// The set is bounded: a seq more than kSpan above the floor moves the floor to seq - kSpan, and
// the seqs it skipped count as seen (never applied twice; a late one is reported as duplicate).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace nodus::ledger {

class DedupWindow {
 public:
  // How far above the floor a seq may be before the floor slides up to it.
  static constexpr uint64_t kSpan = 4096;

  // True when `seq` was applied before, or lies at or below the floor.
  bool seen(uint64_t seq) const { return seq <= floor_ || above_.count(seq) != 0; }
  // Records `seq` as applied. Requires !seen(seq).
  void record(uint64_t seq);

  uint64_t floor() const { return floor_; }
  const std::set<uint64_t>& above() const { return above_; }
  // For restore(): `above` must hold seqs in (floor, floor + kSpan].
  void assign(uint64_t floor, std::set<uint64_t> above) {
    floor_ = floor;
    above_ = std::move(above);
  }

 private:
  uint64_t floor_ = 0;
  std::set<uint64_t> above_;
};

// The windows of every client, bounded in number. When a new client arrives and the table is
// full, the client whose last applied transaction has the lowest Raft index is evicted (ties:
// the smallest client id). Both inputs come from the log, so every node evicts the same one.
class DedupTable {
 public:
  explicit DedupTable(size_t max_clients) : max_clients_(max_clients) {}

  bool seen(const std::string& client, uint64_t seq) const;
  // Records (client, seq) as applied in the entry at `index`; may evict another client.
  void record(const std::string& client, uint64_t seq, uint64_t index);

  struct Entry {
    DedupWindow window;
    uint64_t last_index = 0;
  };
  const std::map<std::string, Entry>& clients() const { return clients_; }
  size_t max_clients() const { return max_clients_; }
  uint64_t evictions() const { return evictions_; }
  void clear();
  // For restore(): inserts a client as it was (no eviction).
  void restore_client(std::string client, Entry entry);

 private:
  size_t max_clients_;
  std::map<std::string, Entry> clients_;
  std::set<std::pair<uint64_t, std::string>> by_index_;  // (last_index, client): LRU order
  uint64_t evictions_ = 0;
};

}  // namespace nodus::ledger
