#include "dedup_window.h"

#include <cassert>

namespace nodus::ledger {

void DedupWindow::record(uint64_t seq) {
  assert(!seen(seq));
  if (seq > floor_ + kSpan) {
    // Slide: keep the set within kSpan of the floor so its memory stays bounded.
    floor_ = seq - kSpan;
    above_.erase(above_.begin(), above_.upper_bound(floor_));
  }
  if (seq == floor_ + 1) {
    floor_ = seq;
  } else {
    above_.insert(seq);
  }
  while (!above_.empty() && *above_.begin() == floor_ + 1) {
    floor_ = *above_.begin();
    above_.erase(above_.begin());
  }
}

bool DedupTable::seen(const std::string& client, uint64_t seq) const {
  auto it = clients_.find(client);
  return it != clients_.end() && it->second.window.seen(seq);
}

void DedupTable::record(const std::string& client, uint64_t seq, uint64_t index) {
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    if (max_clients_ > 0 && clients_.size() >= max_clients_) {
      auto victim = by_index_.begin();
      clients_.erase(victim->second);
      by_index_.erase(victim);
      ++evictions_;
    }
    it = clients_.emplace(client, Entry{}).first;
  } else {
    by_index_.erase({it->second.last_index, client});
  }
  it->second.window.record(seq);
  it->second.last_index = index;
  by_index_.emplace(index, client);
}

void DedupTable::clear() {
  clients_.clear();
  by_index_.clear();
}

void DedupTable::restore_client(std::string client, Entry entry) {
  by_index_.emplace(entry.last_index, client);
  clients_.emplace(std::move(client), std::move(entry));
}

}  // namespace nodus::ledger
