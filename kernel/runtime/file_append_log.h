// runtime/file_append_log.h: FileAppendLog, the on-disk nodus::AppendLog.
//
// A log is a directory of segment files named by the index of their first record,
// `<first index, 20 digits>.seg`, plus a LOCK file that keeps a second opener (in this or
// another process) out. Each record is `[u32 len][u32 crc32c][payload]`, little endian; the
// CRC-32C covers the four length bytes and the payload, so a corrupt length is caught too.
// append() writes through to the OS without fsync; sync() fdatasyncs every segment written
// since the last sync, so one sync commits a whole group of appends. A full segment is
// fdatasynced before the next one is created, and a prefix truncation that empties the log
// first leaves a `<next index>.cut` marker, so every crash state is a contiguous log (see
// docs/storage.md for the order of every operation).
//
// Recovery on open: a .cut marker finishes its truncation; then every record is verified. A
// torn or corrupt record in the last segment truncates the log there (recovery_report() says
// what was cut and why); damage in any earlier segment, or a gap between segments, is
// DATA_LOSS naming the file, because records after it were acknowledged.
//
//   NODUS_ASSIGN_OR_RETURN(auto log, FileAppendLog::open(dir / "raft"));
//   NODUS_ASSIGN_OR_RETURN(uint64_t index, log->append("entry"));
//   NODUS_RETURN_IF_ERROR(log->sync());
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kernel/runtime/file_io.h"
#include "kernel/runtime/file_util.h"
#include "nodus/services/storage.h"
#include "nodus/status.h"

namespace nodus::kernel {

struct FileAppendLogOptions {
  // A segment is closed and a new one started once the next record would push it past this.
  uint64_t segment_size_bytes = uint64_t{64} << 20;
  // Every call that changes the files goes through this; null means posix_file_io(). Tests
  // put a crash-state model here (crash_file_io.h).
  FileIo* io = nullptr;
};

// What open() found and repaired.
struct LogRecoveryReport {
  uint64_t segments = 0;
  uint64_t records_kept = 0;
  uint64_t truncated_bytes = 0;
  std::string reason;  // empty when the log was intact, else "<file> at offset N: <why>"
};

class FileAppendLog final : public nodus::AppendLog {
 public:
  static constexpr uint32_t kRecordHeaderBytes = 8;
  static constexpr uint32_t kRecordBytesMax = uint32_t{64} << 20;
  static constexpr uint64_t kSegmentSizeBytesMax = uint64_t{1} << 30;

  // Opens or creates the log in `dir`, recovering as described above.
  static nodus::Result<std::unique_ptr<FileAppendLog>> open(std::filesystem::path dir,
                                                            FileAppendLogOptions options = {});
  ~FileAppendLog() override = default;
  FileAppendLog(const FileAppendLog&) = delete;
  FileAppendLog& operator=(const FileAppendLog&) = delete;

  nodus::Result<uint64_t> append(std::string_view record) override;
  nodus::Status sync() override;
  nodus::Result<std::string> read(uint64_t index) const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  uint64_t synced_index() const override;
  nodus::Status truncate_suffix(uint64_t from) override;
  // Deletes whole segments only. Asked to drop past the last record, it empties the log and
  // the next append gets index `before`, which suits a Raft log after installing a snapshot.
  nodus::Status truncate_prefix(uint64_t before) override;

  const LogRecoveryReport& recovery_report() const { return recovery_; }
  const std::filesystem::path& directory() const { return dir_; }
  size_t segment_count() const;

 private:
  struct Segment {
    uint64_t first_index = 0;
    std::filesystem::path path;
    std::shared_ptr<UniqueFd> fd;   // shared so sync() and read() can use it unlocked
    std::vector<uint64_t> offsets;  // byte offset of each record
    uint64_t size_bytes = 0;
    bool dirty = false;  // written since its last fdatasync
  };

  FileAppendLog(std::filesystem::path dir, FileAppendLogOptions options, UniqueFd lock_fd);
  nodus::Status recover();
  nodus::Result<Segment> open_segment(uint64_t first_index, bool create);
  nodus::Status roll_segment();
  // Finishes a truncation that emptied the log and crashed (its .cut marker is on disk).
  nodus::Status finish_cut(const std::vector<uint64_t>& cuts, std::vector<uint64_t>& firsts);
  // truncate_prefix() past the last record.
  nodus::Status cut_everything(uint64_t before);
  uint64_t last_index_locked() const;

  const std::filesystem::path dir_;
  const FileAppendLogOptions options_;
  FileIo& io_;
  UniqueFd lock_fd_;
  LogRecoveryReport recovery_;

  // Lock order: sync_mu_ before mu_. sync_mu_ serializes sync() and the truncations, so one
  // sync cannot report another's unfinished fdatasync as done; appends only take mu_.
  mutable std::mutex sync_mu_;
  mutable std::mutex mu_;
  std::deque<Segment> segments_;  // never empty once open; the last one is active
  uint64_t synced_index_ = 0;
  bool dir_dirty_ = false;  // a segment was created since the directory was last fsynced
  nodus::Status broken_;    // sticky: set when a failed write or fsync leaves the state unknown
  std::string scratch_;     // encode buffer for append()
};

}  // namespace nodus::kernel
