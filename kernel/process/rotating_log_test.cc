#include "kernel/process/rotating_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Goal: past bytes_max the file rotates to .1, .2, and the oldest beyond `keep` is dropped.
TEST(RotatingLogTest, RotatesBySizeAndKeepsN) {
  TempDir dir;
  const auto file = dir.path() / "a.log";
  auto log = RotatingLog::open(file, /*bytes_max=*/10, /*keep=*/2);
  ASSERT_TRUE(log.ok()) << log.status().message();
  for (const char* line : {"one-----\n", "two-----\n", "three---\n", "four----\n"}) {
    ASSERT_TRUE((*log)->append(line).ok());
  }
  EXPECT_EQ(slurp(file), "four----\n");
  EXPECT_EQ(slurp(file.string() + ".1"), "three---\n");
  EXPECT_EQ(slurp(file.string() + ".2"), "two-----\n");
  EXPECT_FALSE(std::filesystem::exists(file.string() + ".3"));
}

// Goal: a block of many lines is split between files at line ends, each within bytes_max.
TEST(RotatingLogTest, AppendLinesRotatesBetweenLines) {
  TempDir dir;
  const auto file = dir.path() / "b.log";
  auto log = RotatingLog::open(file, /*bytes_max=*/20, /*keep=*/3);
  ASSERT_TRUE(log.ok()) << log.status().message();
  ASSERT_TRUE(
      (*log)->append_lines("aaaa\nbbbb\ncccc\ndddd\neeee\nffffffffffffffffffffffff\n").ok());
  EXPECT_EQ(slurp(file.string() + ".2"), "aaaa\nbbbb\ncccc\ndddd\n");
  EXPECT_EQ(slurp(file.string() + ".1"), "eeee\n");
  EXPECT_EQ(slurp(file), "ffffffffffffffffffffffff\n");  // longer than the limit: alone
}

// Goal: a log that cannot be created is an error naming the file.
TEST(RotatingLogTest, UnopenableFileNamesIt) {
  TempDir dir;
  const auto file = dir.path() / "missing-dir" / "a.log";
  auto log = RotatingLog::open(file);
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.status().message().find(file.string()), std::string::npos);
}

}  // namespace
}  // namespace nodus::kernel
