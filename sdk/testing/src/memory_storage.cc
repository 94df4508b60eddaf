#include "nodus/testing/memory_storage.h"

namespace nodus::testing {
namespace {

class MemoryLog final : public AppendLog {
 public:
  explicit MemoryLog(std::shared_ptr<MemoryStorage::LogData> data) : d_(std::move(data)) {}

  Result<uint64_t> append(std::string_view record) override {
    d_->records.emplace_back(record);
    return last_index();
  }
  Status sync() override {
    d_->synced = last_index();
    return {};
  }
  Result<std::string> read(uint64_t index) const override {
    if (index < first_index() || index > last_index()) {
      return out_of_range("index " + std::to_string(index) + " not in log");
    }
    return d_->records[index - d_->first_index];
  }
  uint64_t first_index() const override { return d_->first_index; }
  uint64_t last_index() const override { return d_->first_index + d_->records.size() - 1; }
  uint64_t synced_index() const override { return d_->synced; }
  Status truncate_suffix(uint64_t from) override {
    if (from < first_index()) from = first_index();
    if (from <= last_index()) d_->records.resize(from - d_->first_index);
    if (d_->synced > last_index()) d_->synced = last_index();
    return {};
  }
  // Asked to drop past the last record, it empties the log and the next append gets index
  // `before`, like FileAppendLog (a Raft log restarting after a snapshot install).
  Status truncate_prefix(uint64_t before) override {
    if (before <= first_index()) return {};
    if (before > last_index() + 1) {
      d_->records.clear();
    } else {
      d_->records.erase(d_->records.begin(),
                        d_->records.begin() + static_cast<std::ptrdiff_t>(before - first_index()));
    }
    d_->first_index = before;
    if (d_->synced < before - 1) d_->synced = before - 1;
    return {};
  }

 private:
  std::shared_ptr<MemoryStorage::LogData> d_;
};

}  // namespace

Result<std::unique_ptr<AppendLog>> MemoryStorage::open_log(std::string_view name) {
  auto it = logs_.find(name);
  if (it == logs_.end()) {
    it = logs_.emplace(std::string(name), std::make_shared<LogData>()).first;
  }
  // Recovery: a torn last record fails its checksum and is cut, as in FileAppendLog.
  LogData& log = *it->second;
  if (log.torn_tail) {
    log.records.pop_back();
    log.torn_tail = false;
    ++torn_records_cut_;
  }
  return std::unique_ptr<AppendLog>(std::make_unique<MemoryLog>(it->second));
}

Status MemoryStorage::put_state(std::string_view key, std::string_view value) {
  state_[std::string(key)] = std::string(value);
  return {};
}

Result<std::optional<std::string>> MemoryStorage::get_state(std::string_view key) const {
  auto it = state_.find(key);
  if (it == state_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

Status MemoryStorage::write_snapshot(std::string_view name, std::string_view data) {
  snapshots_[std::string(name)] = std::string(data);
  return {};
}

Result<std::optional<std::string>> MemoryStorage::read_snapshot(std::string_view name) const {
  auto it = snapshots_.find(name);
  if (it == snapshots_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

void MemoryStorage::mark_synced(std::string_view name, uint64_t index) {
  auto it = logs_.find(name);
  if (it == logs_.end()) return;
  LogData& log = *it->second;
  const uint64_t last = log.first_index + log.records.size() - 1;
  const uint64_t target = index < last ? index : last;
  if (target > log.synced) log.synced = target;
}

size_t MemoryStorage::crash(bool tear_first_lost_record) {
  size_t torn = 0;
  for (auto& [name, log] : logs_) {
    const uint64_t keep = log->synced >= log->first_index ? log->synced - log->first_index + 1 : 0;
    if (keep >= log->records.size()) continue;
    const bool tear = tear_first_lost_record && log->records[keep].size() >= 2;
    log->records.resize(tear ? keep + 1 : keep);
    if (tear) {
      std::string& half = log->records.back();
      half.resize(half.size() / 2);
      log->torn_tail = true;
      ++torn;
    }
  }
  return torn;
}

}  // namespace nodus::testing
