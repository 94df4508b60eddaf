// nodus/services/storage.h: durable state under the instance's data directory.
//
// Three shapes of durability, all checksummed:
//  - AppendLog: an indexed, append-only record log. append() is cheap and buffered; sync()
//    makes everything appended so far durable with one fsync, so many appends per sync is
//    group commit. On open, a torn or corrupt tail is detected and truncated, and the
//    records before it are kept.
//  - small key-value state (put_state/get_state): each put is atomic and durable
//    (write to a temporary file, fsync, rename, fsync the directory).
//  - snapshots: whole blobs written atomically the same way.
//
//   NODUS_ASSIGN_OR_RETURN(auto log, ctx.storage().open_log("raft"));
//   NODUS_ASSIGN_OR_RETURN(uint64_t index, log->append(entry_bytes));
//   NODUS_RETURN_IF_ERROR(log->sync());          // index is now durable
//   NODUS_RETURN_IF_ERROR(ctx.storage().put_state("term", "7"));
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "nodus/status.h"

namespace nodus {

class AppendLog {
 public:
  virtual ~AppendLog() = default;
  // Appends one record; returns its index. Indexes are dense and start at 1 in a new log.
  virtual Result<uint64_t> append(std::string_view record) = 0;
  // Makes every appended record durable.
  virtual Status sync() = 0;
  // Like sync(), without blocking: `done` runs on the executor once all earlier appends are
  // durable (synced_index() covers them), or with the error; heartbeats flow meanwhile. The
  // default blocks; overrides keep `done`. NOLINTNEXTLINE(performance-unnecessary-value-param)
  virtual void sync_async(std::function<void(Status)> done) { done(sync()); }
  // Reads the record at `index` (first_index() <= index <= last_index()).
  virtual Result<std::string> read(uint64_t index) const = 0;
  // Index of the first retained record; last_index() + 1 when empty.
  virtual uint64_t first_index() const = 0;
  // Index of the newest record; first_index() - 1 when empty.
  virtual uint64_t last_index() const = 0;
  // Newest index known to be durable.
  virtual uint64_t synced_index() const = 0;
  // Drops every record with index >= `from` (a Raft follower overwriting a conflict).
  virtual Status truncate_suffix(uint64_t from) = 0;
  // Drops every record with index < `before` (compaction after a snapshot). May keep a few
  // more records than asked, never fewer.
  virtual Status truncate_prefix(uint64_t before) = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  // Opens (creating if needed) the named log. Names are [a-z0-9_.-]+.
  virtual Result<std::unique_ptr<AppendLog>> open_log(std::string_view name) = 0;
  // Atomic, durable small state. Keys are [a-z0-9_.-]+.
  virtual Status put_state(std::string_view key, std::string_view value) = 0;
  virtual Result<std::optional<std::string>> get_state(std::string_view key) const = 0;
  virtual Status write_snapshot(std::string_view name, std::string_view data) = 0;
  // Like write_snapshot(), without blocking: the write and its fsyncs run off the executor,
  // then `done` runs on it; writes complete in order, and no snapshot delays heartbeats. The
  // default blocks; overrides keep the arguments. NOLINTBEGIN(performance-unnecessary-value-param)
  virtual void write_snapshot_async(std::string name, std::shared_ptr<const std::string> data,
                                    std::function<void(Status)> done) {
    done(write_snapshot(name, *data));
  }  // NOLINTEND(performance-unnecessary-value-param)
  virtual Result<std::optional<std::string>> read_snapshot(std::string_view name) const = 0;
  // The plugin's private directory, for data-path plugins that manage their own files.
  virtual std::filesystem::path directory() const = 0;
};

}  // namespace nodus
