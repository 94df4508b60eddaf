#include "kernel/runtime/file_storage.h"

#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/runtime/crash_file_io.h"
#include "kernel/runtime/executor.h"
#include "kernel/runtime/temp_dir_for_test.h"
#include "nodus/testing/manual_executor.h"

namespace nodus::kernel {
namespace {

using nodus::testing::ManualExecutor;
using ::testing::HasSubstr;

// Only stops a broken test from hanging; a working one never comes near it.
constexpr auto kWaitBound = std::chrono::seconds(30);

std::unique_ptr<FileStorage> open_storage(const std::filesystem::path& dir) {
  auto storage = FileStorage::open(dir);
  EXPECT_TRUE(storage.ok()) << storage.status().to_string();
  return storage.ok() ? std::move(storage).value() : nullptr;
}

// State survives a reopen; a missing key reads as empty, not as an error.
TEST(FileStorageTest, StateRoundTripAcrossReopen) {
  TempDir tmp;
  {
    auto storage = open_storage(tmp.path() / "plugin");
    ASSERT_TRUE(storage->put_state("term", "7").ok());
    ASSERT_TRUE(storage->put_state("term", "8").ok());
    ASSERT_TRUE(storage->put_state("voted_for", std::string("a\0b", 3)).ok());
  }
  auto storage = open_storage(tmp.path() / "plugin");
  auto term = storage->get_state("term");
  ASSERT_TRUE(term.ok());
  EXPECT_EQ(term->value_or(""), "8");
  EXPECT_EQ(storage->get_state("voted_for")->value_or(""), std::string("a\0b", 3));
  auto missing = storage->get_state("nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "plugin" / "state" / "term.tmp"));
}

// Snapshots are written and read back whole, empty ones included.
TEST(FileStorageTest, SnapshotRoundTrip) {
  TempDir tmp;
  auto storage = open_storage(tmp.path());
  const std::string big(1 << 20, 'x');
  ASSERT_TRUE(storage->write_snapshot("snap-1", big).ok());
  ASSERT_TRUE(storage->write_snapshot("empty", "").ok());
  EXPECT_EQ(storage->read_snapshot("snap-1")->value_or(""), big);
  auto empty = storage->read_snapshot("empty");
  ASSERT_TRUE(empty.ok() && empty->has_value());
  EXPECT_EQ(**empty, "");
  EXPECT_FALSE(storage->read_snapshot("snap-2")->has_value());
}

// A flipped byte or a truncated state file reads as DATA_LOSS naming the file.
TEST(FileStorageTest, CorruptStateIsDataLoss) {
  TempDir tmp;
  auto storage = open_storage(tmp.path());
  ASSERT_TRUE(storage->put_state("term", "12345").ok());
  const auto file = tmp.path() / "state" / "term";
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(14);
    f.put('X');
  }
  auto flipped = storage->get_state("term");
  ASSERT_FALSE(flipped.ok());
  EXPECT_EQ(flipped.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(flipped.status().message(), HasSubstr(file.string()));

  ASSERT_TRUE(storage->put_state("term", "12345").ok());
  std::filesystem::resize_file(file, 15);
  auto torn = storage->get_state("term");
  ASSERT_FALSE(torn.ok());
  EXPECT_EQ(torn.status().code(), StatusCode::kDataLoss);
}

// Names outside [a-z0-9_.-]+ are rejected with the offending name in the message.
TEST(FileStorageTest, BadNamesAreRejected) {
  TempDir tmp;
  auto storage = open_storage(tmp.path());
  for (const std::string bad : {"", "Upper", "a/b", "..", ".", "sp ace", "x\n"}) {
    Status st = storage->put_state(bad, "v");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(st.message(), HasSubstr("'" + bad + "'"));
  }
  EXPECT_EQ(storage->write_snapshot("../escape", "v").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(storage->open_log("Raft").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(storage->get_state("a*").status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(storage->put_state("ok_name-1.v2", "v").ok());
}

// A directory that cannot be created is a clear error naming the path.
TEST(FileStorageTest, UncreatableDirectoryNamesThePath) {
  TempDir tmp;
  const auto blocker = tmp.path() / "file";
  std::ofstream(blocker) << "not a directory";
  auto storage = FileStorage::open(blocker / "sub");
  ASSERT_FALSE(storage.ok());
  EXPECT_THAT(storage.status().message(), HasSubstr((blocker / "sub").string()));
  if (::geteuid() != 0) {  // root ignores permission bits
    const auto ro = tmp.path() / "ro";
    std::filesystem::create_directory(ro);
    std::filesystem::permissions(
        ro, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    auto denied = FileStorage::open(ro / "x");
    ASSERT_FALSE(denied.ok());
    EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(denied.status().message(), HasSubstr((ro / "x").string()));
  }
}

// Logs opened through storage live under logs/<name>, and a second open of the same log
// is refused instead of corrupting it.
TEST(FileStorageTest, OpenLogOncePerName) {
  TempDir tmp;
  auto storage = open_storage(tmp.path());
  auto log = storage->open_log("raft");
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  ASSERT_TRUE((*log)->append("x").ok());
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "logs" / "raft" / "00000000000000000001.seg"));
  auto again = storage->open_log("raft");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  log->reset();
  EXPECT_TRUE(storage->open_log("raft").ok());
}

// With an executor, logs from FileStorage sync in the background and complete on the
// executor's thread with every earlier append durable.
TEST(BackgroundSyncLogTest, CompletesOnExecutorWithRecordsDurable) {
  TempDir tmp;
  AsioExecutor exec("sync-test");
  exec.start();
  FileStorageOptions options;
  options.executor = &exec;
  auto storage = FileStorage::open(tmp.path(), options);
  ASSERT_TRUE(storage.ok());
  auto log = (*storage)->open_log("raft");
  ASSERT_TRUE(log.ok());
  ASSERT_NE(dynamic_cast<BackgroundSyncLog*>(log->get()), nullptr);
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE((*log)->append("r" + std::to_string(i)).ok());
  std::promise<std::pair<Status, uint64_t>> result;
  bool on_executor = false;
  (*log)->sync_async([&](Status st) {
    on_executor = exec.in_executor();
    result.set_value({st, (*log)->synced_index()});
  });
  auto [st, synced] = result.get_future().get();
  EXPECT_TRUE(st.ok()) << st.to_string();
  EXPECT_GE(synced, 10u);
  EXPECT_TRUE(on_executor);
  exec.stop();
}

// Requests made while a sync runs are served together by the next round (group commit).
TEST(BackgroundSyncLogTest, CoalescesRequestsWhileASyncRuns) {
  TempDir tmp;
  auto file_log = FileAppendLog::open(tmp.path() / "log");
  ASSERT_TRUE(file_log.ok());
  ManualExecutor exec;
  BackgroundSyncLog log(std::move(file_log).value(), exec);
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  bool first = true;
  log.set_before_sync_for_test([&, released] {
    if (!first) return;
    first = false;
    entered.set_value();
    released.wait();
  });
  int completed = 0;
  ASSERT_TRUE(log.append("a").ok());
  log.sync_async([&](Status st) { completed += st.ok() ? 1 : 0; });
  entered.get_future().wait();  // round 1 is in progress now
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log.append("b").ok());
    log.sync_async([&](Status st) { completed += st.ok() ? 1 : 0; });
  }
  release.set_value();
  ASSERT_TRUE(exec.wait_for_pending(2, kWaitBound));
  exec.run_until_idle();
  EXPECT_EQ(completed, 6);
  EXPECT_EQ(log.sync_rounds(), 2u);
  EXPECT_EQ(log.synced_index(), 6u);
}

// A completion still queued on the executor when the log is destroyed does nothing.
TEST(BackgroundSyncLogTest, NoCallbackAfterDestruction) {
  TempDir tmp;
  ManualExecutor exec;
  bool called = false;
  {
    auto file_log = FileAppendLog::open(tmp.path() / "log");
    ASSERT_TRUE(file_log.ok());
    BackgroundSyncLog log(std::move(file_log).value(), exec);
    ASSERT_TRUE(log.append("a").ok());
    log.sync_async([&](Status) { called = true; });
    ASSERT_TRUE(exec.wait_for_pending(1, kWaitBound));
  }
  exec.run_until_idle();
  EXPECT_FALSE(called);
}

// Destroying the log with requests not yet started joins the thread without calling them.
TEST(BackgroundSyncLogTest, DestructionWithPendingRequestsIsSafe) {
  TempDir tmp;
  ManualExecutor exec;
  int called = 0;
  {
    auto file_log = FileAppendLog::open(tmp.path() / "log");
    ASSERT_TRUE(file_log.ok());
    BackgroundSyncLog log(std::move(file_log).value(), exec);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(log.append("a").ok());
      log.sync_async([&](Status) { ++called; });
    }
  }
  exec.run_until_idle();
  EXPECT_EQ(called, 0);
}

// Asynchronous snapshot writes run off the caller, complete on the executor in the order
// they were asked, and leave the last one on disk.
TEST(FileStorageTest, AsyncSnapshotCompletesOnExecutorInOrder) {
  TempDir tmp;
  ManualExecutor exec;
  FileStorageOptions options;
  options.executor = &exec;
  auto storage = FileStorage::open(tmp.path() / "s", options);
  ASSERT_TRUE(storage.ok());
  std::vector<int> order;
  (*storage)->write_snapshot_async("snap", std::make_shared<const std::string>("one"),
                                   [&](Status st) { order.push_back(st.ok() ? 1 : -1); });
  (*storage)->write_snapshot_async("snap", std::make_shared<const std::string>("two"),
                                   [&](Status st) { order.push_back(st.ok() ? 2 : -2); });
  EXPECT_TRUE(order.empty());  // nothing runs inside the call
  ASSERT_TRUE(exec.wait_for_pending(2, kWaitBound));
  exec.run_until_idle();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  auto read = (*storage)->read_snapshot("snap");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->value_or(""), "two");
}

// Without an executor the asynchronous write is the blocking one, and errors reach `done`.
TEST(FileStorageTest, AsyncSnapshotWithoutExecutorBlocks) {
  TempDir tmp;
  auto storage = FileStorage::open(tmp.path() / "s");
  ASSERT_TRUE(storage.ok());
  Status seen = internal_error("not called");
  (*storage)->write_snapshot_async("snap", std::make_shared<const std::string>("x"),
                                   [&](Status st) { seen = st; });
  EXPECT_TRUE(seen.ok()) << seen.to_string();
  (*storage)->write_snapshot_async("BAD NAME", std::make_shared<const std::string>("x"),
                                   [&](Status st) { seen = st; });
  EXPECT_EQ(seen.code(), StatusCode::kInvalidArgument);
}

// Goal: an election's term and vote saves complete while a snapshot write is stuck half-way
// (each value file has its own lock), and the lock table is empty once nothing is written.
TEST(FileStorageTest, VoteSaveIsNotBlockedBySnapshotWrite) {
  TempDir tmp;
  CrashFileIo io(tmp.path());  // never crashes here: it only holds the snapshot's write
  ManualExecutor exec;
  FileStorageOptions options;
  options.executor = &exec;
  options.io = &io;
  auto storage = FileStorage::open(tmp.path() / "s", options);
  ASSERT_TRUE(storage.ok()) << storage.status().to_string();

  std::mutex mu;
  std::condition_variable cv;
  bool snapshot_entered = false;
  bool vote_saved = false;
  std::vector<std::string> order;  // guarded by mu
  io.set_before_write([&](const std::filesystem::path& path) {
    if (path.string().find("/snapshots/") == std::string::npos) return;
    std::unique_lock lock(mu);
    snapshot_entered = true;
    cv.notify_all();
    // Held until the vote is saved; the bound only keeps a regression from hanging forever
    // (it then shows as the wrong order below).
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return vote_saved; });
    order.push_back("snapshot write resumed");
  });
  (*storage)->write_snapshot_async("raft", std::make_shared<const std::string>(1 << 20, 's'),
                                   [](Status st) { EXPECT_TRUE(st.ok()) << st.to_string(); });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return snapshot_entered; }));
  }
  EXPECT_GE((*storage)->value_locks_in_use(), 1u);  // the snapshot's

  // The election: a candidate saves its new term and its own vote.
  std::thread election([&] {
    Status term = (*storage)->put_state("term", "8");
    Status vote = (*storage)->put_state("vote", "n1");
    EXPECT_TRUE(term.ok() && vote.ok()) << term.to_string() << " " << vote.to_string();
    std::lock_guard lock(mu);
    order.push_back("vote saved");
    vote_saved = true;
    cv.notify_all();
  });
  election.join();
  ASSERT_TRUE(exec.wait_for_pending(1, kWaitBound));
  exec.run_until_idle();
  {
    std::lock_guard lock(mu);
    // Two hook calls per snapshot write: its header, then its payload.
    ASSERT_GE(order.size(), 2u);
    EXPECT_EQ(order[0], "vote saved");
    EXPECT_EQ(order[1], "snapshot write resumed");
  }
  EXPECT_EQ((*storage)->get_state("vote")->value_or(""), "n1");
  EXPECT_EQ((*storage)->read_snapshot("raft")->value_or("").size(), size_t{1} << 20);
  EXPECT_EQ((*storage)->value_locks_in_use(), 0u);
}

// Goal: writers racing on the same and on different files each leave a whole value, and the
// lock table (bounded by the writing threads) is empty afterwards.
TEST(FileStorageTest, ConcurrentValueWritesStayWholeAndFreeTheirLocks) {
  TempDir tmp;
  CrashFileIo io(tmp.path());  // real files without real fsyncs: fast
  FileStorageOptions options;
  options.io = &io;
  auto storage = FileStorage::open(tmp.path() / "s", options);
  ASSERT_TRUE(storage.ok());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string key = i % 2 == 0 ? "shared" : "own-" + std::to_string(t);
        EXPECT_TRUE((*storage)->put_state(key, std::string(100 + t, 'a' + t)).ok());
      }
    });
  }
  for (auto& w : writers)
    w.join();
  auto shared = (*storage)->get_state("shared");
  ASSERT_TRUE(shared.ok()) << shared.status().to_string();
  ASSERT_TRUE(shared->has_value());
  const size_t t = (*shared)->size() - 100;
  EXPECT_EQ(**shared, std::string(100 + t, static_cast<char>('a' + t)));
  EXPECT_EQ((*storage)->value_locks_in_use(), 0u);
}

}  // namespace
}  // namespace nodus::kernel
