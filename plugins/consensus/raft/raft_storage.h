// raft/raft_storage.h: the durable state of one Raft node on the kernel's Storage service.
//
// Three pieces, each in the shape of storage that suits it:
//  - the log: pb::Entry records in the AppendLog "raft", whose record index is the entry
//    index (after a snapshot install the empty log restarts at snapshot index + 1);
//  - the hard state (term, vote, commit): put_state("raft.hardstate"), atomic and durable and
//    independent of the log, so a vote never waits for a log fsync;
//  - the newest snapshot: write_snapshot("raft.snapshot") holding the SnapshotMeta and the
//    state-machine image together, so one atomic write replaces both;
//  - the initial configuration: put_state("raft.initconf"), written once on the first start
//    and read back on every later one, so that the voters never again come from the
//    instance count a process happens to be started with.
//
// Durability of appends follows FsyncMode: kBatch keeps one sync_async in flight and the next
// one covers every entry appended meanwhile (group commit); kAlways issues one sync_async per
// append batch; kNever reports entries synced at once (unsafe: a power loss can forget an
// acknowledged entry).
//
//   NODUS_ASSIGN_OR_RETURN(auto rs, RaftStorage::open(ctx.storage(), FsyncMode::kBatch, clock));
//   NODUS_ASSIGN_OR_RETURN(LoadedState loaded, rs->load(bootstrap));
//   rs->set_on_synced([&](uint64_t index, uint64_t term, Duration took) { ... });
//   NODUS_RETURN_IF_ERROR(rs->append(ready.entries));
//   rs->request_sync();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/raft_core.h"
#include "nodus/services/clock.h"
#include "nodus/services/storage.h"
#include "nodus/status.h"

namespace nodus::raft {

enum class FsyncMode { kAlways, kBatch, kNever };

Result<FsyncMode> parse_fsync_mode(std::string_view text);
std::string_view fsync_mode_name(FsyncMode mode);

inline constexpr std::string_view kLogName = "raft";
inline constexpr std::string_view kHardStateKey = "raft.hardstate";
inline constexpr std::string_view kSnapshotName = "raft.snapshot";
inline constexpr std::string_view kInitialConfKey = "raft.initconf";
inline constexpr std::string_view kReadEpochKey = "raft.readepoch";

// Read requests carry an id that the leader echoes in its answer. Ids are
// (epoch << kReadIdEpochShift) | counter, and the epoch is taken durably at every start (and
// whenever a counter range runs out), so no id is ever issued twice by one node: a leader's
// late answer to a read sent before a restart cannot be taken for a newer read with the same
// id, which would serve that read at an older, stale index.
inline constexpr int kReadIdEpochShift = 40;

// What load() found on disk.
struct LoadedState {
  Persisted persisted;
  // The state-machine image of persisted.snapshot (empty when there is no snapshot).
  std::string snapshot_image;
  // What recovery repaired, for the log ("" when nothing).
  std::string repaired;
  // The initial configuration came from disk (false: this start wrote it).
  bool initial_conf_from_disk = false;
  // No hard state, snapshot or entry was found besides the initial configuration.
  bool fresh = false;
};

class RaftStorage {
 public:
  // (index, term) of the newest entry now durable, and how long the sync took.
  using SyncedCallback = std::function<void(uint64_t index, uint64_t term, Duration took)>;
  using SyncFailedCallback = std::function<void(const Status& why)>;

  static Result<std::unique_ptr<RaftStorage>> open(Storage& storage, FsyncMode mode,
                                                   const Clock& clock);
  ~RaftStorage();
  RaftStorage(const RaftStorage&) = delete;
  RaftStorage& operator=(const RaftStorage&) = delete;

  // Reads everything back and checks it: entries dense from the snapshot on, terms never
  // decreasing and never below the snapshot's, a record that does not parse is DATA_LOSS
  // naming the log. Entries left over from before a snapshot install that conflict with the
  // snapshot are dropped. Persisted::bootstrap is the initial configuration stored on the
  // first start; when none is stored yet, `bootstrap` is stored and used (also for a data
  // directory from before the key existed, whose configuration came from the same place).
  // With `store_bootstrap` false nothing is stored (a joining node learns it first).
  Result<LoadedState> load(const pb::ConfState& bootstrap, bool store_bootstrap = true);
  // Stores the initial configuration (a joining node, once it learned the cluster's).
  Status save_initial_conf(const pb::ConfState& conf);
  // Takes the next read-id epoch (1 on the first call in a data directory) and stores it
  // before returning it, so no later call, in this process or a restarted one, returns it
  // again. See kReadEpochKey.
  Result<uint64_t> take_read_epoch();

  void set_on_synced(SyncedCallback cb) { on_synced_ = std::move(cb); }
  void set_on_sync_failed(SyncFailedCallback cb) { on_sync_failed_ = std::move(cb); }

  Status save_hard_state(const pb::HardState& hs);
  // Appends entries (dense, in order), first dropping any suffix from entries.front().index.
  Status append(const std::vector<pb::Entry>& entries);
  // Asks for everything appended so far to become durable; on_synced runs when it is (at
  // once under kNever, possibly inline when the log's sync_async is blocking).
  void request_sync();
  // A received snapshot: persists meta + image atomically, then empties the log so that it
  // restarts at meta.index + 1.
  Status install_snapshot(const pb::SnapshotMeta& meta, std::string_view image);
  // A local snapshot: persists it, then drops log records up to meta.index.
  Status save_local_snapshot(const pb::SnapshotMeta& meta, std::string_view image);
  // The same without blocking the executor: the write and its fsyncs run on the storage
  // service's writer; `done` runs on the executor once it is durable and the log prefix is
  // dropped (never after this object is gone). Until then install_snapshot() refuses
  // (UNAVAILABLE; the leader sends the snapshot again), so the two never race on disk.
  void save_local_snapshot_async(const pb::SnapshotMeta& meta,
                                 std::shared_ptr<const std::string> image,
                                 std::function<void(Status)> done);
  bool snapshot_write_in_flight() const { return snapshot_writes_ > 0; }
  // The newest snapshot on disk, meta and image; nullopt when there is none.
  Result<std::optional<std::pair<pb::SnapshotMeta, std::string>>> read_snapshot() const;

  FsyncMode mode() const { return mode_; }
  uint64_t last_index() const { return log_->last_index(); }
  uint64_t first_index() const { return log_->first_index(); }
  bool sync_in_flight() const { return in_flight_ > 0; }
  // Where the log lives, for error messages.
  std::string log_path() const;

 private:
  RaftStorage(Storage& storage, std::unique_ptr<AppendLog> log, FsyncMode mode, const Clock& clock);
  void start_sync();
  Status drop_whole_log_and_restart_at(uint64_t next_index);

  Storage& storage_;
  std::unique_ptr<AppendLog> log_;
  const FsyncMode mode_;
  const Clock& clock_;
  SyncedCallback on_synced_;
  SyncFailedCallback on_sync_failed_;
  // The newest appended entry (what a sync requested now would cover).
  uint64_t last_appended_index_ = 0;
  uint64_t last_appended_term_ = 0;
  int in_flight_ = 0;
  int snapshot_writes_ = 0;   // save_local_snapshot_async() calls not finished
  bool sync_wanted_ = false;  // kBatch: appended while a sync was in flight
  // Shared with sync callbacks: a callback arriving after destruction does nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nodus::raft
