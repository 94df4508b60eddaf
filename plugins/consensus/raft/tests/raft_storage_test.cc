// Unit tests of RaftStorage on MemoryStorage: round trips, fsync modes, crash loss, snapshot
// install and compaction, and recovery checks.
#include "raft_storage.h"

#include <deque>
#include <memory>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nodus/testing/manual_executor.h"
#include "nodus/testing/memory_storage.h"

namespace nodus::raft {
namespace {

using nodus::testing::ManualExecutor;
using nodus::testing::MemoryStorage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

pb::Entry entry(uint64_t index, uint64_t term, std::string data = "x") {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data(std::move(data));
  return e;
}

std::vector<pb::Entry> entries(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<pb::Entry> out;
  for (uint64_t i = from; i <= to; ++i)
    out.push_back(entry(i, term, "cmd" + std::to_string(i)));
  return out;
}

pb::ConfState three() {
  pb::ConfState c;
  c.add_voters(0);
  c.add_voters(1);
  c.add_voters(2);
  return c;
}

// A log whose sync_async completes only when the test says, covering what existed at the call.
class DeferredLog final : public AppendLog {
 public:
  DeferredLog(std::unique_ptr<AppendLog> inner, MemoryStorage& disk)
      : inner_(std::move(inner)), disk_(disk) {}
  Result<uint64_t> append(std::string_view r) override { return inner_->append(r); }
  Status sync() override { return inner_->sync(); }
  void sync_async(std::function<void(Status)> done) override {
    pending_.push_back({inner_->last_index(), std::move(done)});
  }
  Result<std::string> read(uint64_t i) const override { return inner_->read(i); }
  uint64_t first_index() const override { return inner_->first_index(); }
  uint64_t last_index() const override { return inner_->last_index(); }
  uint64_t synced_index() const override { return inner_->synced_index(); }
  Status truncate_suffix(uint64_t from) override { return inner_->truncate_suffix(from); }
  Status truncate_prefix(uint64_t before) override { return inner_->truncate_prefix(before); }

  size_t pending() const { return pending_.size(); }
  void complete_one() {
    auto p = std::move(pending_.front());
    pending_.pop_front();
    disk_.mark_synced("raft", p.first);
    p.second(Status());
  }

 private:
  std::unique_ptr<AppendLog> inner_;
  MemoryStorage& disk_;
  std::deque<std::pair<uint64_t, std::function<void(Status)>>> pending_;
};

class DeferredStorage final : public Storage {
 public:
  explicit DeferredStorage(MemoryStorage& disk) : disk_(disk) {}
  Result<std::unique_ptr<AppendLog>> open_log(std::string_view name) override {
    NODUS_ASSIGN_OR_RETURN(auto inner, disk_.open_log(name));
    auto log = std::make_unique<DeferredLog>(std::move(inner), disk_);
    last_ = log.get();
    return std::unique_ptr<AppendLog>(std::move(log));
  }
  Status put_state(std::string_view k, std::string_view v) override {
    return disk_.put_state(k, v);
  }
  Result<std::optional<std::string>> get_state(std::string_view k) const override {
    return disk_.get_state(k);
  }
  Status write_snapshot(std::string_view n, std::string_view d) override {
    return disk_.write_snapshot(n, d);
  }
  Result<std::optional<std::string>> read_snapshot(std::string_view n) const override {
    return disk_.read_snapshot(n);
  }
  std::filesystem::path directory() const override { return "/data/raft"; }
  DeferredLog* last_ = nullptr;

 private:
  MemoryStorage& disk_;
};

std::unique_ptr<RaftStorage> open(Storage& s, FsyncMode mode, ManualExecutor& clock) {
  auto r = RaftStorage::open(s, mode, clock);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r).value();
}

// Hard state and entries come back from load() as they were saved.
TEST(RaftStorageTest, RoundTrip) {
  MemoryStorage disk;
  ManualExecutor clock;
  {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    pb::HardState hs;
    hs.set_term(3);
    hs.set_vote(1);
    hs.set_commit(4);
    ASSERT_TRUE(rs->save_hard_state(hs).ok());
    ASSERT_TRUE(rs->append(entries(1, 5, 3)).ok());
    rs->request_sync();
  }
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto loaded = rs->load(three());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->persisted.hard_state.term(), 3u);
  EXPECT_EQ(loaded->persisted.hard_state.vote(), 1u);
  EXPECT_EQ(loaded->persisted.hard_state.commit(), 4u);
  ASSERT_EQ(loaded->persisted.entries.size(), 5u);
  EXPECT_EQ(loaded->persisted.entries[4].data(), "cmd5");
  EXPECT_EQ(loaded->persisted.bootstrap.voters_size(), 3);
}

pb::ConfState voters_up_to(uint32_t n) {
  pb::ConfState c;
  for (uint32_t i = 0; i < n; ++i)
    c.add_voters(i);
  return c;
}

// The initial configuration is written on the first start and wins over whatever a later
// start passes in (a process restarted with a larger --instances must not count more voters).
TEST(RaftStorageTest, InitialConfigurationIsDurableAndIgnoresLaterBootstraps) {
  MemoryStorage disk;
  ManualExecutor clock;
  {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    auto first = rs->load(voters_up_to(4));
    ASSERT_TRUE(first.ok()) << first.status().to_string();
    EXPECT_TRUE(first->fresh);
    EXPECT_FALSE(first->initial_conf_from_disk);
    EXPECT_EQ(first->persisted.bootstrap.voters_size(), 4);
  }
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto again = rs->load(voters_up_to(8));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->initial_conf_from_disk);
  EXPECT_EQ(again->persisted.bootstrap.voters_size(), 4);
}

// A data directory from before the key existed (entries, no stored configuration) keeps the
// configuration it was started with and records it, so the next start cannot change it.
TEST(RaftStorageTest, InitialConfigurationOfOldDataIsRecordedOnce) {
  MemoryStorage disk;
  ManualExecutor clock;
  {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    ASSERT_TRUE(rs->append(entries(1, 3, 1)).ok());
    rs->request_sync();
  }
  {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    auto loaded = rs->load(three());
    ASSERT_TRUE(loaded.ok());
    EXPECT_FALSE(loaded->fresh);
    EXPECT_FALSE(loaded->initial_conf_from_disk);
  }
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto loaded = rs->load(voters_up_to(5));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->persisted.bootstrap.voters_size(), 3);
}

// A stored configuration that does not parse is DATA_LOSS naming the key.
TEST(RaftStorageTest, CorruptInitialConfigurationIsDataLoss) {
  MemoryStorage disk;
  ManualExecutor clock;
  ASSERT_TRUE(disk.put_state(kInitialConfKey, "\xff\xff\xff").ok());
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto loaded = rs->load(three());
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(loaded.status().message(), HasSubstr("raft.initconf"));
}

// Goal: every start takes a read-id epoch that no earlier start had, and it is durable before it
// is used (a crash right after cannot hand it out again), so read ids never repeat across
// restarts and a late answer to a read from before a restart cannot satisfy a newer read.
TEST(RaftStorageTest, ReadEpochsNeverRepeatAcrossRestarts) {
  MemoryStorage disk;
  ManualExecutor clock;
  std::vector<uint64_t> epochs;
  for (int start = 0; start < 3; ++start) {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    auto epoch = rs->take_read_epoch();
    ASSERT_TRUE(epoch.ok()) << epoch.status().to_string();
    epochs.push_back(*epoch);
    disk.crash();  // what was not durable is gone
  }
  EXPECT_THAT(epochs, ElementsAre(1, 2, 3));

  ASSERT_TRUE(disk.put_state(kReadEpochKey, "x7").ok());
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto bad = rs->take_read_epoch();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(bad.status().message(), HasSubstr("raft.readepoch"));

  ASSERT_TRUE(disk.put_state(kReadEpochKey, std::to_string((uint64_t{1} << 24) - 1)).ok());
  auto spent = rs->take_read_epoch();
  ASSERT_FALSE(spent.ok());
  EXPECT_EQ(spent.status().code(), StatusCode::kFailedPrecondition);
}

// batch: one sync in flight; everything appended meanwhile is covered by the next one.
TEST(RaftStorageTest, BatchModeGroupsCommits) {
  MemoryStorage disk;
  DeferredStorage storage(disk);
  ManualExecutor clock;
  auto rs = open(storage, FsyncMode::kBatch, clock);
  ASSERT_TRUE(rs->load(three()).ok());
  std::vector<uint64_t> synced;
  rs->set_on_synced([&](uint64_t index, uint64_t, Duration) { synced.push_back(index); });
  ASSERT_TRUE(rs->append(entries(1, 1, 1)).ok());
  rs->request_sync();
  ASSERT_TRUE(rs->append(entries(2, 2, 1)).ok());
  rs->request_sync();
  ASSERT_TRUE(rs->append(entries(3, 3, 1)).ok());
  rs->request_sync();
  EXPECT_EQ(storage.last_->pending(), 1u);
  storage.last_->complete_one();
  EXPECT_EQ(synced, std::vector<uint64_t>({1}));
  ASSERT_EQ(storage.last_->pending(), 1u);  // the follow-up covering 2 and 3
  storage.last_->complete_one();
  EXPECT_EQ(synced, std::vector<uint64_t>({1, 3}));
  EXPECT_EQ(storage.last_->pending(), 0u);
}

// always: every request gets its own sync; never: acknowledged at once without one.
TEST(RaftStorageTest, AlwaysAndNeverModes) {
  MemoryStorage disk;
  DeferredStorage storage(disk);
  ManualExecutor clock;
  {
    auto rs = open(storage, FsyncMode::kAlways, clock);
    ASSERT_TRUE(rs->load(three()).ok());
    for (uint64_t i = 1; i <= 3; ++i) {
      ASSERT_TRUE(rs->append(entries(i, i, 1)).ok());
      rs->request_sync();
    }
    EXPECT_EQ(storage.last_->pending(), 3u);
  }
  MemoryStorage disk2;
  DeferredStorage storage2(disk2);
  auto rs = open(storage2, FsyncMode::kNever, clock);
  ASSERT_TRUE(rs->load(three()).ok());
  uint64_t synced = 0;
  rs->set_on_synced([&](uint64_t index, uint64_t, Duration) { synced = index; });
  ASSERT_TRUE(rs->append(entries(1, 2, 1)).ok());
  rs->request_sync();
  EXPECT_EQ(synced, 2u);
  EXPECT_EQ(storage2.last_->pending(), 0u);
}

// A crash loses the entries whose sync had not completed, and only those; the hard state
// (written atomically) survives; commit is clamped to what survived.
TEST(RaftStorageTest, CrashLosesOnlyUnsyncedEntries) {
  MemoryStorage disk;
  DeferredStorage storage(disk);
  ManualExecutor clock;
  {
    auto rs = open(storage, FsyncMode::kBatch, clock);
    ASSERT_TRUE(rs->load(three()).ok());
    ASSERT_TRUE(rs->append(entries(1, 5, 1)).ok());
    rs->request_sync();
    storage.last_->complete_one();
    ASSERT_TRUE(rs->append(entries(6, 8, 1)).ok());
    rs->request_sync();  // never completes
    pb::HardState hs;
    hs.set_term(1);
    hs.set_commit(8);
    ASSERT_TRUE(rs->save_hard_state(hs).ok());
  }
  disk.crash();
  auto rs = open(disk, FsyncMode::kBatch, clock);
  auto loaded = rs->load(three());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->persisted.entries.size(), 5u);
  EXPECT_EQ(loaded->persisted.hard_state.term(), 1u);
  EXPECT_EQ(loaded->persisted.hard_state.commit(), 5u);
}

// Appending from an index inside the log replaces the conflicting suffix.
TEST(RaftStorageTest, AppendOverwritesConflictingSuffix) {
  MemoryStorage disk;
  ManualExecutor clock;
  auto rs = open(disk, FsyncMode::kAlways, clock);
  ASSERT_TRUE(rs->load(three()).ok());
  ASSERT_TRUE(rs->append(entries(1, 5, 1)).ok());
  ASSERT_TRUE(rs->append(entries(4, 6, 2)).ok());
  EXPECT_FALSE(rs->append(entries(9, 9, 2)).ok());  // a gap is refused
  auto rs2 = open(disk, FsyncMode::kAlways, clock);
  rs.reset();
  auto loaded = rs2->load(three());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->persisted.entries.size(), 6u);
  EXPECT_EQ(loaded->persisted.entries[2].term(), 1u);
  EXPECT_EQ(loaded->persisted.entries[3].term(), 2u);
  EXPECT_EQ(loaded->persisted.entries[5].index(), 6u);
}

// Installing a snapshot empties the log, which restarts right after the snapshot index.
TEST(RaftStorageTest, InstallSnapshotRestartsTheLog) {
  MemoryStorage disk;
  ManualExecutor clock;
  {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    ASSERT_TRUE(rs->load(three()).ok());
    ASSERT_TRUE(rs->append(entries(1, 5, 1)).ok());
    pb::SnapshotMeta meta;
    meta.set_index(10);
    meta.set_term(3);
    *meta.mutable_conf() = three();
    ASSERT_TRUE(rs->install_snapshot(meta, "image-10").ok());
    EXPECT_EQ(rs->first_index(), 11u);
    ASSERT_TRUE(rs->append(entries(11, 12, 3)).ok());
    rs->request_sync();
  }
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto loaded = rs->load(three());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->persisted.snapshot.index(), 10u);
  EXPECT_EQ(loaded->snapshot_image, "image-10");
  ASSERT_EQ(loaded->persisted.entries.size(), 2u);
  EXPECT_EQ(loaded->persisted.entries[0].index(), 11u);
}

// A local snapshot drops the covered prefix; the rest stays.
TEST(RaftStorageTest, LocalSnapshotCompactsThePrefix) {
  MemoryStorage disk;
  ManualExecutor clock;
  auto rs = open(disk, FsyncMode::kAlways, clock);
  ASSERT_TRUE(rs->load(three()).ok());
  ASSERT_TRUE(rs->append(entries(1, 8, 2)).ok());
  rs->request_sync();
  pb::SnapshotMeta meta;
  meta.set_index(5);
  meta.set_term(2);
  ASSERT_TRUE(rs->save_local_snapshot(meta, "img").ok());
  EXPECT_EQ(rs->first_index(), 6u);
  rs.reset();
  auto rs2 = open(disk, FsyncMode::kAlways, clock);
  auto loaded = rs2->load(three());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  ASSERT_EQ(loaded->persisted.entries.size(), 3u);
  EXPECT_EQ(loaded->persisted.entries[0].index(), 6u);
}

// A storage whose asynchronous snapshot writes wait until the test lets them finish.
class DeferredSnapshotStorage final : public Storage {
 public:
  Result<std::unique_ptr<AppendLog>> open_log(std::string_view name) override {
    return inner_.open_log(name);
  }
  Status put_state(std::string_view key, std::string_view value) override {
    return inner_.put_state(key, value);
  }
  Result<std::optional<std::string>> get_state(std::string_view key) const override {
    return inner_.get_state(key);
  }
  Status write_snapshot(std::string_view name, std::string_view data) override {
    return inner_.write_snapshot(name, data);
  }
  Result<std::optional<std::string>> read_snapshot(std::string_view name) const override {
    return inner_.read_snapshot(name);
  }
  std::filesystem::path directory() const override { return inner_.directory(); }
  void write_snapshot_async(std::string name, std::shared_ptr<const std::string> data,
                            std::function<void(Status)> done) override {
    pending_.push_back([this, name = std::move(name), data, done = std::move(done)] {
      done(inner_.write_snapshot(name, *data));
    });
  }
  void finish_all() {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& f : pending)
      f();
  }

 private:
  MemoryStorage inner_;
  std::vector<std::function<void()>> pending_;
};

// An asynchronous local snapshot keeps the log whole until it is durable, and a received
// snapshot is refused (UNAVAILABLE, the leader resends) while it is being written.
TEST(RaftStorageTest, AsyncLocalSnapshotKeepsLogUntilDurable) {
  DeferredSnapshotStorage disk;
  ManualExecutor clock;
  auto rs = open(disk, FsyncMode::kAlways, clock);
  ASSERT_TRUE(rs->load(three()).ok());
  ASSERT_TRUE(rs->append(entries(1, 8, 2)).ok());
  rs->request_sync();
  pb::SnapshotMeta meta;
  meta.set_index(5);
  meta.set_term(2);
  Status written = internal_error("not yet");
  rs->save_local_snapshot_async(meta, std::make_shared<const std::string>("img"),
                                [&](Status st) { written = st; });
  EXPECT_TRUE(rs->snapshot_write_in_flight());
  EXPECT_EQ(rs->first_index(), 1u);  // nothing dropped before the snapshot is durable
  pb::SnapshotMeta received;
  received.set_index(7);
  received.set_term(2);
  EXPECT_EQ(rs->install_snapshot(received, "other").code(), StatusCode::kUnavailable);
  disk.finish_all();
  EXPECT_TRUE(written.ok()) << written.to_string();
  EXPECT_FALSE(rs->snapshot_write_in_flight());
  EXPECT_EQ(rs->first_index(), 6u);
  EXPECT_TRUE(rs->install_snapshot(received, "other").ok());
}

// A crash between writing a received snapshot and truncating the log leaves stale records
// that disagree with the snapshot: load() drops them instead of mixing them in.
TEST(RaftStorageTest, StaleRecordsBehindASnapshotAreDropped) {
  MemoryStorage disk;
  ManualExecutor clock;
  {
    auto rs = open(disk, FsyncMode::kAlways, clock);
    ASSERT_TRUE(rs->load(three()).ok());
    ASSERT_TRUE(rs->append(entries(1, 6, 1)).ok());
    rs->request_sync();
  }
  // What install_snapshot writes first, without the truncation that follows it.
  {
    MemoryStorage scratch;
    auto rs = open(scratch, FsyncMode::kAlways, clock);
    pb::SnapshotMeta meta;
    meta.set_index(4);
    meta.set_term(2);
    ASSERT_TRUE(rs->install_snapshot(meta, "img").ok());
    auto blob = scratch.read_snapshot(kSnapshotName);
    ASSERT_TRUE(blob.ok() && blob->has_value());
    ASSERT_TRUE(disk.write_snapshot(kSnapshotName, **blob).ok());
  }
  auto rs = open(disk, FsyncMode::kAlways, clock);
  auto loaded = rs->load(three());
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_TRUE(loaded->persisted.entries.empty());
  EXPECT_THAT(loaded->repaired, HasSubstr("supersedes"));
  EXPECT_EQ(rs->first_index(), 5u);
}

// A record that does not parse, or entries that are not dense, are DATA_LOSS naming the log.
TEST(RaftStorageTest, CorruptRecordsNameTheLog) {
  ManualExecutor clock;
  {
    MemoryStorage disk;
    auto raw = disk.open_log("raft").value();
    ASSERT_TRUE(raw->append(entry(1, 1).SerializeAsString()).ok());
    ASSERT_TRUE(raw->append(std::string("\xff\xff\xff", 3)).ok());
    DeferredStorage storage(disk);
    auto rs = open(storage, FsyncMode::kAlways, clock);
    auto loaded = rs->load(three());
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.status().code(), StatusCode::kDataLoss);
    EXPECT_THAT(loaded.status().message(), HasSubstr("/data/raft/logs/raft"));
    EXPECT_THAT(loaded.status().message(), HasSubstr("record 2"));
  }
  {
    MemoryStorage disk;
    auto raw = disk.open_log("raft").value();
    ASSERT_TRUE(raw->append(entry(1, 2).SerializeAsString()).ok());
    ASSERT_TRUE(raw->append(entry(3, 2).SerializeAsString()).ok());
    auto rs = open(disk, FsyncMode::kAlways, clock);
    auto loaded = rs->load(three());
    ASSERT_FALSE(loaded.ok());
    EXPECT_THAT(loaded.status().message(), HasSubstr("not dense"));
  }
  {
    MemoryStorage disk;
    auto raw = disk.open_log("raft").value();
    ASSERT_TRUE(raw->append(entry(1, 2).SerializeAsString()).ok());
    ASSERT_TRUE(raw->append(entry(2, 1).SerializeAsString()).ok());
    auto rs = open(disk, FsyncMode::kAlways, clock);
    auto loaded = rs->load(three());
    ASSERT_FALSE(loaded.ok());
    EXPECT_THAT(loaded.status().message(), HasSubstr("below the previous term"));
  }
}

TEST(RaftStorageTest, FsyncModeNames) {
  EXPECT_EQ(parse_fsync_mode("batch").value(), FsyncMode::kBatch);
  EXPECT_EQ(fsync_mode_name(FsyncMode::kNever), "never");
  EXPECT_FALSE(parse_fsync_mode("sometimes").ok());
}

}  // namespace
}  // namespace nodus::raft
