#include "runtime/file_storage.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace nodus::kernel
