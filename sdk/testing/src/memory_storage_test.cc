// Tests of MemoryStorage's crash model (the simulator's disk).
#include "nodus/testing/memory_storage.h"

#include <gtest/gtest.h>

namespace nodus::testing {
namespace {

// Goal: a plain crash keeps exactly the synced records.
TEST(MemoryStorageCrash, LosesEverythingUnsynced) {
  MemoryStorage disk;
  auto log = disk.open_log("raft").value();
  ASSERT_TRUE(log->append("a").ok());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(log->append("bb").ok());
  ASSERT_TRUE(log->append("cc").ok());
  disk.crash();
  auto reopened = disk.open_log("raft").value();
  EXPECT_EQ(reopened->last_index(), 1u);
  EXPECT_EQ(disk.torn_records_cut(), 0u);
}

// Goal: a tearing crash leaves half of the first lost record on the disk; the reopen cuts it
// like FileAppendLog's recovery, keeps every synced record, and appends continue after them.
TEST(MemoryStorageCrash, TornRecordIsCutOnReopen) {
  MemoryStorage disk;
  auto log = disk.open_log("raft").value();
  ASSERT_TRUE(log->append("a").ok());
  ASSERT_TRUE(log->append("b").ok());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(log->append("cccc").ok());
  ASSERT_TRUE(log->append("dddd").ok());
  disk.crash(/*tear_first_lost_record=*/true);
  EXPECT_EQ(log->last_index(), 3u);  // what lies on the disk before recovery
  EXPECT_EQ(log->read(3).value(), "cc");
  auto reopened = disk.open_log("raft").value();
  EXPECT_EQ(reopened->last_index(), 2u);
  EXPECT_EQ(reopened->read(2).value(), "b");
  EXPECT_EQ(disk.torn_records_cut(), 1u);
  EXPECT_EQ(reopened->append("e").value(), 3u);
  // Nothing unsynced, nothing to tear.
  ASSERT_TRUE(reopened->sync().ok());
  disk.crash(true);
  EXPECT_EQ(disk.open_log("raft").value()->last_index(), 3u);
  EXPECT_EQ(disk.torn_records_cut(), 1u);
}

}  // namespace
}  // namespace nodus::testing
