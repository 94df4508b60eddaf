// Unit tests of RaftLog: loading, merging with conflicts, persistence positions, compaction.
#include "raft_log.h"

#include <gtest/gtest.h>

namespace nodus::raft {
namespace {

pb::Entry entry(uint64_t index, uint64_t term) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  return e;
}

pb::Message append_msg(uint64_t prev, std::vector<pb::Entry> ents) {
  pb::Message m;
  m.set_index(prev);
  for (auto& e : ents)
    *m.add_entries() = e;
  return m;
}

// Goal: init refuses holes, decreasing terms and a commit beyond the log.
TEST(RaftCoreLog, InitValidates) {
  RaftLog log;
  EXPECT_FALSE(log.init({}, {entry(1, 1), entry(3, 1)}, 0).ok());
  EXPECT_FALSE(log.init({}, {entry(1, 2), entry(2, 1)}, 0).ok());
  EXPECT_FALSE(log.init({}, {entry(1, 1)}, 2).ok());
  pb::SnapshotMeta snap;
  snap.set_index(5);
  snap.set_term(2);
  ASSERT_TRUE(log.init(snap, {entry(6, 2), entry(7, 3)}, 6).ok());
  EXPECT_EQ(log.first_index(), 6U);
  EXPECT_EQ(log.last_index(), 7U);
  EXPECT_EQ(log.term(5), 2U);
  EXPECT_FALSE(log.term(4).has_value());
  EXPECT_EQ(log.synced(), 7U);  // what was on disk is durable
  EXPECT_TRUE(log.check().ok());
}

// Goal: merge skips matching entries, truncates at a conflict and resets the sync and
// persistence positions so the replacement is written and synced again.
TEST(RaftCoreLog, MergeTruncatesConflicts) {
  RaftLog log;
  ASSERT_TRUE(log.init({}, {entry(1, 1), entry(2, 1), entry(3, 1)}, 1).ok());
  ASSERT_TRUE(log.merge(1, append_msg(1, {entry(2, 1), entry(3, 2), entry(4, 2)})));
  EXPECT_EQ(log.last_index(), 4U);
  EXPECT_EQ(log.term(3), 2U);
  EXPECT_EQ(log.synced(), 2U);
  auto unpersisted = log.take_unpersisted();
  ASSERT_EQ(unpersisted.size(), 2U);
  EXPECT_EQ(unpersisted.front().index(), 3U);
  // A conflict at or below commit is refused and changes nothing.
  EXPECT_FALSE(log.merge(0, append_msg(0, {entry(1, 5)})));
  EXPECT_EQ(log.term(1), 1U);
}

// Goal: on_synced only accepts an entry of the current log that was handed out.
TEST(RaftCoreLog, SyncNeedsMatchingTerm) {
  RaftLog log;
  ASSERT_TRUE(log.init({}, {}, 0).ok());
  log.append(entry(0, 1));
  log.append(entry(0, 1));
  log.on_synced(2, 1);
  EXPECT_EQ(log.synced(), 0U);  // not handed out yet
  (void)log.take_unpersisted();
  log.on_synced(2, 7);
  EXPECT_EQ(log.synced(), 0U);  // wrong term: written before a truncation
  log.on_synced(2, 1);
  EXPECT_EQ(log.synced(), 2U);
}

// Goal: fast backtracking finds the last index whose term is not above the given one.
TEST(RaftCoreLog, FindConflictByTerm) {
  RaftLog log;
  ASSERT_TRUE(
      log.init({}, {entry(1, 1), entry(2, 1), entry(3, 3), entry(4, 3), entry(5, 5)}, 0).ok());
  EXPECT_EQ(log.find_conflict_by_term(5, 4), 4U);
  EXPECT_EQ(log.find_conflict_by_term(5, 2), 2U);
  EXPECT_EQ(log.find_conflict_by_term(100, 9), 5U);
  EXPECT_EQ(log.find_conflict_by_term(5, 0), 0U);
}

// Goal: compact drops entries up to an applied index and refuses more; slice honours bytes.
TEST(RaftCoreLog, CompactAndSlice) {
  RaftLog log;
  ASSERT_TRUE(log.init({}, {entry(1, 1), entry(2, 1), entry(3, 2)}, 3).ok());
  EXPECT_FALSE(log.compact(2, 1).ok());  // not applied yet
  log.set_applied(2);
  EXPECT_FALSE(log.compact(2, 9).ok());
  ASSERT_TRUE(log.compact(2, 1).ok());
  EXPECT_EQ(log.first_index(), 3U);
  EXPECT_TRUE(log.slice(2, 3, 100).empty());
  EXPECT_EQ(log.slice(3, 3, 1).size(), 1U);  // at least one entry
  EXPECT_TRUE(log.check().ok());
}

}  // namespace
}  // namespace nodus::raft
