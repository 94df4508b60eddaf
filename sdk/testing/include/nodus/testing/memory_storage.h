// nodus/testing/memory_storage.h: Storage kept in memory, with a "crash" that forgets
// everything not yet synced, for testing a plugin's durability logic. A crash may also tear
// the first lost record: half of it stays on the disk and the next open_log() cuts it, as
// FileAppendLog's recovery cuts a torn tail. State and snapshots are atomic and durable per
// call, as in the file storage.
//
//   MemoryStorage disk;
//   auto log = disk.open_log("raft").value();
//   log->append("a"); log->sync(); log->append("b");
//   disk.crash();                      // "b" is gone, "a" survives
//   disk.crash(/*tear_first_lost_record=*/true);  // the same after the reopen
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nodus/services/storage.h"

namespace nodus::testing {

class MemoryStorage final : public Storage {
 public:
  Result<std::unique_ptr<AppendLog>> open_log(std::string_view name) override;
  Status put_state(std::string_view key, std::string_view value) override;
  Result<std::optional<std::string>> get_state(std::string_view key) const override;
  Status write_snapshot(std::string_view name, std::string_view data) override;
  Result<std::optional<std::string>> read_snapshot(std::string_view name) const override;
  std::filesystem::path directory() const override { return {}; }

  // Drops every appended-but-unsynced record of every log. With `tear_first_lost_record`, the
  // first of them stays with only its first half written and marked torn; the next
  // open_log() of that log cuts it (torn_records_cut() counts them).
  // Returns how many records it tore.
  size_t crash(bool tear_first_lost_record = false);
  uint64_t torn_records_cut() const { return torn_records_cut_; }
  // Marks records of log `name` up to `index` (at most its last record) durable; what an
  // asynchronous sync that covered them does (SimCluster's slow disk).
  void mark_synced(std::string_view name, uint64_t index);

  struct LogData {
    uint64_t first_index = 1;
    std::vector<std::string> records;  // records[0] has index first_index
    uint64_t synced = 0;               // newest durable index
    bool torn_tail = false;            // the last record is torn (a crash cut it half-way)
  };

 private:
  std::map<std::string, std::shared_ptr<LogData>, std::less<>> logs_;
  std::map<std::string, std::string, std::less<>> state_;
  std::map<std::string, std::string, std::less<>> snapshots_;
  uint64_t torn_records_cut_ = 0;
};

}  // namespace nodus::testing
