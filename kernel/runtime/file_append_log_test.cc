#include "kernel/runtime/file_append_log.h"

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<FileAppendLog> open_log(const std::filesystem::path& dir,
                                        uint64_t segment_size_bytes = uint64_t{64} << 20) {
  auto log = FileAppendLog::open(dir, FileAppendLogOptions{segment_size_bytes});
  EXPECT_TRUE(log.ok()) << log.status().to_string();
  return log.ok() ? std::move(log).value() : nullptr;
}

std::string record(uint64_t i) {
  return "record-" + std::to_string(i) + std::string(i % 7, '#');
}

void append_records(FileAppendLog& log, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to; ++i) {
    auto index = log.append(record(i));
    ASSERT_TRUE(index.ok()) << index.status().to_string();
    ASSERT_EQ(*index, i);
  }
}

void expect_records(const FileAppendLog& log, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i <= to; ++i) {
    auto r = log.read(i);
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().to_string();
    EXPECT_EQ(*r, record(i));
  }
}

std::vector<std::filesystem::path> segment_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".seg") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Appends get dense indexes from 1, are readable at once, and sync() advances synced_index.
TEST(FileAppendLogTest, AppendSyncRead) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 0u);
  append_records(*log, 1, 100);
  EXPECT_EQ(log->synced_index(), 0u);
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->synced_index(), 100u);
  expect_records(*log, 1, 100);
  EXPECT_EQ(log->read(0).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(log->read(101).status().code(), StatusCode::kOutOfRange);
  ASSERT_TRUE(log->append("").ok());
  EXPECT_EQ(*log->read(101), "");
}

// Closing and reopening keeps every record, across many segments.
TEST(FileAppendLogTest, ReopenKeepsEverything) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path(), 100);
    append_records(*log, 1, 50);
    ASSERT_TRUE(log->sync().ok());
    EXPECT_GT(log->segment_count(), 5u);
  }
  auto log = open_log(tmp.path(), 100);
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 50u);
  EXPECT_EQ(log->synced_index(), 50u);
  EXPECT_TRUE(log->recovery_report().reason.empty());
  EXPECT_EQ(log->recovery_report().records_kept, 50u);
  expect_records(*log, 1, 50);
  append_records(*log, 51, 60);
  expect_records(*log, 1, 60);
}

// A torn tail (random bytes chopped off, or garbage appended) is cut and earlier records kept.
TEST(FileAppendLogTest, TornTailIsTruncated) {
  std::mt19937 rng(42);  // fixed seed: reproducible
  for (int round = 0; round < 20; ++round) {
    TempDir tmp;
    {
      auto log = open_log(tmp.path());
      append_records(*log, 1, 10);
    }
    const auto seg = segment_files(tmp.path()).back();
    const auto size = std::filesystem::file_size(seg);
    const uint64_t last_len = FileAppendLog::kRecordHeaderBytes + record(10).size();
    const uint64_t chop = 1 + rng() % (last_len - 1);  // always inside record 10
    std::filesystem::resize_file(seg, size - chop);
    auto log = open_log(tmp.path());
    ASSERT_EQ(log->last_index(), 9u) << "chop " << chop;
    EXPECT_EQ(log->recovery_report().truncated_bytes, last_len - chop);
    EXPECT_THAT(log->recovery_report().reason, HasSubstr(seg.string()));
    expect_records(*log, 1, 9);
    append_records(*log, 10, 12);  // the log is usable at the cut
  }
  TempDir tmp;
  {
    auto log = open_log(tmp.path());
    append_records(*log, 1, 5);
  }
  std::ofstream(segment_files(tmp.path()).back(), std::ios::app | std::ios::binary)
      << "garbage that is not a record";
  auto log = open_log(tmp.path());
  EXPECT_EQ(log->last_index(), 5u);
  EXPECT_EQ(log->recovery_report().truncated_bytes, 28u);
  append_records(*log, 6, 7);
  expect_records(*log, 1, 7);
}

// A bit flip in the middle of the last segment truncates the log from the damaged record.
TEST(FileAppendLogTest, BitFlipInLastSegmentTruncatesThere) {
  TempDir tmp;
  uint64_t offset_of_6 = 0;
  {
    auto log = open_log(tmp.path());
    for (uint64_t i = 1; i <= 5; ++i)
      offset_of_6 += 8 + record(i).size();
    append_records(*log, 1, 10);
  }
  const auto seg = segment_files(tmp.path()).back();
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset_of_6 + 10));
    const char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(offset_of_6 + 10));
    f.put(static_cast<char>(c ^ 0x10));
  }
  auto log = open_log(tmp.path());
  EXPECT_EQ(log->last_index(), 5u);
  EXPECT_THAT(log->recovery_report().reason,
              HasSubstr("offset " + std::to_string(offset_of_6) + ": record checksum mismatch"));
  EXPECT_EQ(std::filesystem::file_size(seg), offset_of_6);
  expect_records(*log, 1, 5);
}

// Damage in a segment that is not the last one is DATA_LOSS naming file and offset.
TEST(FileAppendLogTest, CorruptionBeforeTheLastSegmentIsDataLoss) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path(), 64);
    append_records(*log, 1, 20);
  }
  const auto first = segment_files(tmp.path()).front();
  {
    std::fstream f(first, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(9);
    f.put('~');
  }
  auto log = FileAppendLog::open(tmp.path(), FileAppendLogOptions{64});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr(first.string() + " at offset 0"));
}

// truncate_suffix drops the tail across segments, durably, and appends continue from there.
TEST(FileAppendLogTest, TruncateSuffixAcrossSegments) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path(), 64);
    append_records(*log, 1, 30);
    ASSERT_TRUE(log->sync().ok());
    const size_t segments_before = log->segment_count();
    ASSERT_TRUE(log->truncate_suffix(12).ok());
    EXPECT_EQ(log->last_index(), 11u);
    EXPECT_EQ(log->synced_index(), 11u);
    EXPECT_LT(log->segment_count(), segments_before);
    EXPECT_EQ(log->read(12).status().code(), StatusCode::kOutOfRange);
    ASSERT_TRUE(log->truncate_suffix(100).ok());  // past the end: nothing to do
    EXPECT_EQ(log->last_index(), 11u);
    ASSERT_TRUE(log->append("new-12").ok());
    EXPECT_EQ(log->last_index(), 12u);
  }
  auto log = open_log(tmp.path(), 64);
  EXPECT_EQ(log->last_index(), 12u);
  expect_records(*log, 1, 11);
  EXPECT_EQ(*log->read(12), "new-12");
  ASSERT_TRUE(log->truncate_suffix(1).ok());
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 0u);
  EXPECT_EQ(segment_files(tmp.path()).size(), 1u);
}

// truncate_prefix deletes whole segments below the cut, keeps at least every record at or
// after it, and the new first index survives a reopen.
TEST(FileAppendLogTest, TruncatePrefixKeepsWholeSegments) {
  TempDir tmp;
  uint64_t first_after = 0;
  {
    auto log = open_log(tmp.path(), 64);
    append_records(*log, 1, 30);
    ASSERT_TRUE(log->truncate_prefix(15).ok());
    first_after = log->first_index();
    EXPECT_GT(first_after, 1u);
    EXPECT_LE(first_after, 15u);
    EXPECT_EQ(log->read(first_after - 1).status().code(), StatusCode::kOutOfRange);
    expect_records(*log, first_after, 30);
    ASSERT_TRUE(log->truncate_prefix(1).ok());  // below the start: nothing to do
    EXPECT_EQ(log->first_index(), first_after);
  }
  auto log = open_log(tmp.path(), 64);
  EXPECT_EQ(log->first_index(), first_after);
  EXPECT_EQ(log->last_index(), 30u);
  expect_records(*log, first_after, 30);
}

// Dropping past the end empties the log and the next index is the cut, also after reopen.
TEST(FileAppendLogTest, TruncatePrefixPastTheEndRestartsTheIndex) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path(), 64);
    append_records(*log, 1, 10);
    ASSERT_TRUE(log->truncate_prefix(100).ok());
    EXPECT_EQ(log->first_index(), 100u);
    EXPECT_EQ(log->last_index(), 99u);
    EXPECT_EQ(segment_files(tmp.path()).size(), 1u);
  }
  auto log = open_log(tmp.path(), 64);
  EXPECT_EQ(log->first_index(), 100u);
  EXPECT_EQ(log->last_index(), 99u);
  auto index = log->append("hundred");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(*index, 100u);
}

// A crash part-way through a truncation that empties the log (its .cut marker on disk, with
// or without the new empty segment) is finished on open: the old segments go, the log
// restarts at the cut and the marker is removed.
TEST(FileAppendLogTest, RecoversInterruptedFullPrefixTruncation) {
  for (const bool fresh_segment_made : {false, true}) {
    TempDir tmp;
    {
      auto log = open_log(tmp.path(), 64);
      append_records(*log, 1, 10);
      ASSERT_TRUE(log->sync().ok());
    }
    std::ofstream(tmp.path() / "00000000000000000050.cut");
    if (fresh_segment_made) std::ofstream(tmp.path() / "00000000000000000050.seg");
    auto log = open_log(tmp.path(), 64);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->first_index(), 50u);
    EXPECT_EQ(log->last_index(), 49u);
    EXPECT_EQ(segment_files(tmp.path()).size(), 1u);
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "00000000000000000050.cut"));
    EXPECT_THAT(log->recovery_report().reason, HasSubstr("interrupted truncation"));
  }
}

// Without a marker, an empty segment after a gap is damage, not a truncation to finish: open
// refuses with DATA_LOSS naming the file and deletes nothing (the old reading of this state
// deleted synced records).
TEST(FileAppendLogTest, GapWithoutMarkerIsDataLossAndDeletesNothing) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path(), 64);
    append_records(*log, 1, 10);
    ASSERT_TRUE(log->sync().ok());
  }
  const size_t segments = segment_files(tmp.path()).size();
  std::ofstream(tmp.path() / "00000000000000000050.seg");
  auto log = FileAppendLog::open(tmp.path(), FileAppendLogOptions{64});
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kDataLoss);
  EXPECT_THAT(log.status().message(), HasSubstr("00000000000000000050.seg"));
  EXPECT_EQ(segment_files(tmp.path()).size(), segments + 1);
}

// A second opener of the same directory is refused while the first holds it.
TEST(FileAppendLogTest, SecondOpenIsRefused) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  auto second = FileAppendLog::open(tmp.path());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

// Oversized records are refused up front instead of producing an unreadable log.
TEST(FileAppendLogTest, RecordSizeIsBounded) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  const std::string huge(FileAppendLog::kRecordBytesMax + 1, 'x');
  EXPECT_EQ(log->append(huge).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->last_index(), 0u);
}

}  // namespace
}  // namespace nodus::kernel
