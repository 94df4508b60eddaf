// runtime/file_storage.h: FileStorage, the on-disk nodus::Storage of one plugin.
//
// Layout under the plugin's directory:
//   logs/<name>/           one FileAppendLog per log (see file_append_log.h)
//   state/<key>            small values, one file each
//   snapshots/<name>       snapshot blobs
// Values and snapshots are written atomically: to `<file>.tmp`, fsync, rename over the old
// file, fsync the directory. Each file starts with a 12-byte header, magic "NDV1", u32 payload
// length and u32 CRC-32C of the payload (little endian), so damage reads as DATA_LOSS naming
// the file instead of as a wrong value. Each file has its own write lock, so a term or vote
// save never waits for a snapshot write.
//
//   NODUS_ASSIGN_OR_RETURN(auto storage, FileStorage::open(data_dir / "io.nodus.consensus.raft"));
//   NODUS_RETURN_IF_ERROR(storage->put_state("term", "7"));
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kernel/runtime/file_append_log.h"
#include "nodus/services/executor.h"
#include "nodus/services/storage.h"
#include "nodus/status.h"

namespace nodus::kernel {

struct FileStorageOptions {
  FileAppendLogOptions log;
  // When set, logs from open_log() run sync_async() on a background thread and post the
  // completions here (the plugin's instance executor). When null, sync_async() blocks.
  nodus::Executor* executor = nullptr;
  // Every call that changes the files (values, snapshots and logs) goes through this; null
  // means posix_file_io(). Tests put a crash-state model here (crash_file_io.h).
  FileIo* io = nullptr;
};

// A FileAppendLog whose sync_async() fdatasyncs on its own thread, so a plugin's executor
// keeps running (heartbeats, votes) while the disk is slow. Requests that arrive while a sync
// is running are served together by the next one (group commit). Completions are posted to
// the executor; after the log is destroyed, completions still queued there do nothing.
//
//   BackgroundSyncLog log(std::move(file_log), executor);
//   log.append("x");
//   log.sync_async([](nodus::Status s) { /* "x" is durable when s.ok() */ });
class BackgroundSyncLog final : public nodus::AppendLog {
 public:
  BackgroundSyncLog(std::unique_ptr<FileAppendLog> log, nodus::Executor& executor);
  // Joins the sync thread; requests it has not started are dropped without a call.
  ~BackgroundSyncLog() override;
  BackgroundSyncLog(const BackgroundSyncLog&) = delete;
  BackgroundSyncLog& operator=(const BackgroundSyncLog&) = delete;

  nodus::Result<uint64_t> append(std::string_view record) override { return log_->append(record); }
  nodus::Status sync() override { return log_->sync(); }
  void sync_async(std::function<void(nodus::Status)> done) override;
  nodus::Result<std::string> read(uint64_t index) const override { return log_->read(index); }
  uint64_t first_index() const override { return log_->first_index(); }
  uint64_t last_index() const override { return log_->last_index(); }
  uint64_t synced_index() const override { return log_->synced_index(); }
  nodus::Status truncate_suffix(uint64_t from) override { return log_->truncate_suffix(from); }
  nodus::Status truncate_prefix(uint64_t before) override { return log_->truncate_prefix(before); }

  // Number of fdatasync rounds run so far (tests check the coalescing).
  uint64_t sync_rounds() const;
  FileAppendLog& file_log() { return *log_; }
  // Test hook: runs on the sync thread just before each fdatasync round.
  void set_before_sync_for_test(std::function<void()> hook);

 private:
  // Shared with posted completions, which outlive the log when the executor is slow.
  struct Liveness {
    std::atomic<bool> alive{true};
  };
  void run();

  std::unique_ptr<FileAppendLog> log_;
  nodus::Executor& executor_;
  std::shared_ptr<Liveness> liveness_ = std::make_shared<Liveness>();
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<std::function<void(nodus::Status)>> waiting_;  // guarded by mu_
  bool stopping_ = false;                                    // guarded by mu_
  uint64_t rounds_ = 0;                                      // guarded by mu_
  std::function<void()> before_sync_;                        // guarded by mu_
  std::thread thread_;  // last: started once every member above exists
};

class FileStorage final : public nodus::Storage {
 public:
  // Creates `dir` (and parents) when needed. PERMISSION_DENIED or UNAVAILABLE naming the path
  // when it cannot be created or written.
  static nodus::Result<std::unique_ptr<FileStorage>> open(std::filesystem::path dir,
                                                          FileStorageOptions options = {});

  // A log can be open once at a time; a second open is FAILED_PRECONDITION.
  nodus::Result<std::unique_ptr<nodus::AppendLog>> open_log(std::string_view name) override;
  nodus::Status put_state(std::string_view key, std::string_view value) override;
  nodus::Result<std::optional<std::string>> get_state(std::string_view key) const override;
  nodus::Status write_snapshot(std::string_view name, std::string_view data) override;
  // With an executor in the options: written on this storage's writer thread (started on
  // first use), `done` posted to the executor; without one, it blocks like write_snapshot().
  void write_snapshot_async(std::string name, std::shared_ptr<const std::string> data,
                            std::function<void(nodus::Status)> done) override;
  nodus::Result<std::optional<std::string>> read_snapshot(std::string_view name) const override;
  std::filesystem::path directory() const override { return dir_; }
  // Joins the writer thread; writes it has not started are dropped without a call.
  ~FileStorage() override;
  FileStorage(const FileStorage&) = delete;
  FileStorage& operator=(const FileStorage&) = delete;

  // Value and snapshot files being written right now, each with its own lock (tests check the
  // table empties).
  size_t value_locks_in_use() const;

  // The typed variant of open_log(), for callers that want recovery_report().
  nodus::Result<std::unique_ptr<FileAppendLog>> open_file_log(std::string_view name);

 private:
  FileStorage(std::filesystem::path dir, FileStorageOptions options);
  nodus::Status write_value(const std::filesystem::path& dir, std::string_view name,
                            std::string_view data);
  nodus::Result<std::optional<std::string>> read_value(const std::filesystem::path& dir,
                                                       std::string_view name) const;

  struct SnapshotWrite {
    std::string name;
    std::shared_ptr<const std::string> data;
    std::function<void(nodus::Status)> done;
  };
  void run_writer();

  const std::filesystem::path dir_;
  const FileStorageOptions options_;
  FileIo& io_;
  // Holds the lock of one value file while it is written; the table entry goes with the last
  // holder, so the table only ever holds files being written (at most one per writing thread).
  class ValueLock {
   public:
    ValueLock(FileStorage& storage, const std::filesystem::path& path);
    ~ValueLock();
    ValueLock(const ValueLock&) = delete;
    ValueLock& operator=(const ValueLock&) = delete;

   private:
    FileStorage& storage_;
    const std::string key_;
    std::shared_ptr<std::mutex> mu_;
  };

  // One lock per value or snapshot file (and so per temporary file): a term or vote save never
  // waits for a snapshot write and its fsync.
  mutable std::mutex value_locks_mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> value_locks_;  // guarded by value_locks_mu_
  // Held while a missing directory is created and its parent fsynced, so no writer uses the
  // directory before its entry is durable.
  std::mutex dirs_mu_;
  // The asynchronous snapshot writer; completions check `writer_alive_` before running.
  std::mutex writer_mu_;
  std::condition_variable writer_wake_;
  std::deque<SnapshotWrite> writes_;  // guarded by writer_mu_
  bool writer_stopping_ = false;      // guarded by writer_mu_
  std::shared_ptr<std::atomic<bool>> writer_alive_ = std::make_shared<std::atomic<bool>>(true);
  std::thread writer_;
};

// OK when `name` matches [a-z0-9_.-]+ and is not "." or ".."; else INVALID_ARGUMENT naming it.
nodus::Status validate_storage_name(std::string_view what, std::string_view name);

}  // namespace nodus::kernel
