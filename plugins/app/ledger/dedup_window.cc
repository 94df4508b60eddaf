#include "dedup_window.h"

#include "nodus/check.h"

namespace nodus::ledger {

DedupWindow::Check DedupWindow::check(uint64_t seq, TxOutcome* outcome) const {
  if (seq <= floor_) {
    if (auto it = refused_.find(seq); it != refused_.end()) {
      *outcome = it->second;
      return Check::kResolved;
    }
    if (seq <= forgotten_upto_) return Check::kForgotten;
    // Resolved and not among the rejections: it succeeded (its index is not kept).
    *outcome = TxOutcome{TX_OK, 0};
    return Check::kResolved;
  }
  if (seq - floor_ > kSpan) return Check::kAhead;
  if (auto it = above_.find(seq); it != above_.end()) {
    *outcome = it->second;
    return Check::kResolved;
  }
  return Check::kNew;
}

void DedupWindow::keep_if_refused(uint64_t seq, TxOutcome outcome) {
  if (outcome.code == TX_OK) return;
  refused_.emplace(seq, outcome);
  if (refused_.size() > kSpan) {
    // Only the newest kSpan rejections are kept; below the oldest one dropped, a repeat can no
    // longer tell success from rejection and is answered TX_FORGOTTEN.
    forgotten_upto_ = std::max(forgotten_upto_, refused_.begin()->first);
    refused_.erase(refused_.begin());
  }
}

void DedupWindow::record(uint64_t seq, TxOutcome outcome) {
  NODUS_CHECK(seq > floor_ && seq - floor_ <= kSpan && above_.count(seq) == 0)
      << "callers record only a new sequence number inside the window; seq " << seq << " floor "
      << floor_;
  if (seq != floor_ + 1) {
    above_.emplace(seq, outcome);
    return;
  }
  floor_ = seq;
  keep_if_refused(seq, outcome);
  while (!above_.empty() && above_.begin()->first == floor_ + 1) {
    floor_ = above_.begin()->first;
    keep_if_refused(floor_, above_.begin()->second);
    above_.erase(above_.begin());
  }
}

DedupWindow::Check DedupTable::check(const std::string& client, uint64_t seq,
                                     TxOutcome* outcome) const {
  auto it = clients_.find(client);
  if (it != clients_.end()) return it->second.window.check(seq, outcome);
  return DedupWindow().check(seq, outcome);
}

void DedupTable::evict_one(const std::string& keep) {
  for (auto victim = by_index_.begin(); victim != by_index_.end(); ++victim) {
    if (victim->second == keep) continue;
    auto it = clients_.find(victim->second);
    entries_ -= it->second.window.entries();
    clients_.erase(it);
    by_index_.erase(victim);
    ++evictions_;
    return;
  }
}

void DedupTable::record(const std::string& client, uint64_t seq, TxOutcome outcome) {
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    if (max_clients_ > 0 && clients_.size() >= max_clients_) evict_one(client);
    it = clients_.emplace(client, Entry{}).first;
  } else {
    by_index_.erase({it->second.last_index, client});
  }
  entries_ -= it->second.window.entries();
  it->second.window.record(seq, outcome);
  entries_ += it->second.window.entries();
  it->second.last_index = outcome.index;
  by_index_.emplace(outcome.index, client);
  while (max_entries_ > 0 && entries_ > max_entries_ && clients_.size() > 1)
    evict_one(client);
}

void DedupTable::clear() {
  clients_.clear();
  by_index_.clear();
  entries_ = 0;
}

void DedupTable::restore_client(std::string client, Entry entry) {
  entries_ += entry.window.entries();
  by_index_.emplace(entry.last_index, client);
  clients_.emplace(std::move(client), std::move(entry));
}

}  // namespace nodus::ledger
