#include "pending_table.h"

#include "nodus/check.h"

namespace nodus::raft {

std::string_view pending_kind_name(PendingKind kind) {
  switch (kind) {
    case PendingKind::kProposal:
      return "proposal";
    case PendingKind::kForwarding:
      return "forwarding";
    case PendingKind::kForwarded:
      return "forwarded";
    case PendingKind::kConf:
      return "conf";
    case PendingKind::kRead:
      return "read";
  }
  return "proposal";
}

void PendingEntry::fail(const Status& why) {
  if (propose_done) {
    ProposeCallback cb = std::move(propose_done);
    propose_done = nullptr;
    cb(why);
  } else if (done) {
    DoneCallback cb = std::move(done);
    done = nullptr;
    cb(why);
  }
}

bool PendingTable::add(PendingKind kind, uint64_t key, PendingEntry&& entry) {
  if (full()) return false;
  entry.kind = kind;
  entries_.emplace(std::make_pair(kind, key), std::move(entry));
  ++counts_[static_cast<size_t>(kind)];
  return true;
}

PendingTable::Map::iterator PendingTable::erase(Map::iterator it) {
  size_t& count = counts_[static_cast<size_t>(it->first.first)];
  NODUS_CHECK_GT(count, 0U) << "the per-kind counts follow the entries ("
                            << pending_kind_name(it->first.first) << ")";
  --count;
  return entries_.erase(it);
}

std::optional<PendingEntry> PendingTable::take(PendingKind kind, uint64_t key) {
  auto it = entries_.find({kind, key});
  if (it == entries_.end()) return std::nullopt;
  PendingEntry e = std::move(it->second);
  erase(it);
  return e;
}

std::optional<std::pair<uint64_t, PendingEntry>> PendingTable::take_first_upto(PendingKind kind,
                                                                               uint64_t upto) {
  auto it = entries_.lower_bound({kind, 0});
  if (it == entries_.end() || it->first.first != kind || it->first.second > upto) {
    return std::nullopt;
  }
  std::pair<uint64_t, PendingEntry> out(it->first.second, std::move(it->second));
  erase(it);
  return out;
}

PendingEntry* PendingTable::find(PendingKind kind, uint64_t key) {
  auto it = entries_.find({kind, key});
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::pair<uint64_t, PendingEntry>> PendingTable::take_expired(TimePoint now) {
  std::vector<std::pair<uint64_t, PendingEntry>> out;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    out.emplace_back(it->first.second, std::move(it->second));
    it = erase(it);
  }
  return out;
}

std::vector<std::pair<uint64_t, PendingEntry>> PendingTable::take_all(
    std::initializer_list<PendingKind> kinds) {
  std::vector<std::pair<uint64_t, PendingEntry>> out;
  for (PendingKind kind : kinds) {
    auto it = entries_.lower_bound({kind, 0});
    while (it != entries_.end() && it->first.first == kind) {
      out.emplace_back(it->first.second, std::move(it->second));
      it = erase(it);
    }
  }
  return out;
}

}  // namespace nodus::raft
