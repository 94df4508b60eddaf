// Unit tests of the isolation state file format (nodus/isolation_state.h).
#include "nodus/isolation_state.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nodus {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

IsolationState sample() {
  IsolationState s;
  s.pid = 4242;
  s.node = "aurigraph-0";
  s.mode = "hybrid";
  s.driver = "v1";
  s.cpus_granted = "0-1";
  s.cgroups = {{"cpu", "/sys/fs/cgroup/cpu/nodus/aurigraph-0"},
               {"memory", "/sys/fs/cgroup/memory/nodus/aurigraph-0"}};
  s.oom_events_file = "/sys/fs/cgroup/memory/nodus/aurigraph-0/memory.oom_control";
  s.oom_kills_at_start = 3;
  return s;
}

// Goal: what the plugin writes, the supervisor reads back field for field, quotes and all.
TEST(IsolationState, RoundTrip) {
  IsolationState s = sample();
  s.node = "odd \"name\" \\ with\ttab";
  const std::string text = serialize_isolation_state(s);
  EXPECT_THAT(text, StartsWith("{\"version\":1,\"pid\":4242,"));
  EXPECT_EQ(text.back(), '\n');
  auto parsed = parse_isolation_state(text, "isolation.json");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(*parsed, s);
}

// Goal: a file in the layout written before `version` existed still reads, as version 1.
TEST(IsolationState, FileWithoutVersionIsVersionOne) {
  auto parsed = parse_isolation_state(
      "{\"pid\":7,\"node\":\"n-0\",\"mode\":\"v2\",\"driver\":\"v2\",\"cpus_granted\":\"0\","
      "\"cgroups\":{\"unified\":\"/sys/fs/cgroup/nodus/n-0\"},"
      "\"oom_events_file\":\"/sys/fs/cgroup/nodus/n-0/memory.events\",\"oom_kills_at_start\":0}",
      "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->version, 1u);
  EXPECT_EQ(parsed->cgroups.at("unified"), "/sys/fs/cgroup/nodus/n-0");
}

// Goal: keys a later writer adds are ignored, so adding one needs no version bump.
TEST(IsolationState, UnknownKeysAreIgnored) {
  auto parsed = parse_isolation_state(
      "{\"version\":1,\"pid\":7,\"io_max\":[1,2.5,{\"x\":null}],\"strict\":true}", "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->pid, 7);
}

// Goal: a bad value is refused with the file and the key named.
TEST(IsolationState, WrongTypeNamesFileAndKey) {
  auto parsed = parse_isolation_state("{\"pid\":\"4242\"}", "/data/n-0/isolation.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), "/data/n-0/isolation.json: key 'pid': expected an integer");

  auto cgroup = parse_isolation_state("{\"pid\":1,\"cgroups\":{\"cpu\":5}}", "f");
  ASSERT_FALSE(cgroup.ok());
  EXPECT_EQ(cgroup.status().message(), "f: key 'cgroups.cpu': expected a string");

  auto negative = parse_isolation_state("{\"pid\":1,\"oom_kills_at_start\":-1}", "f");
  ASSERT_FALSE(negative.ok());
  EXPECT_THAT(negative.status().message(), HasSubstr("key 'oom_kills_at_start'"));

  auto missing = parse_isolation_state("{\"node\":\"n\"}", "f");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "f: key 'pid': missing");
}

// Goal: a file from a newer format version is refused rather than half understood.
TEST(IsolationState, NewerVersionIsRefused) {
  auto parsed = parse_isolation_state("{\"version\":2,\"pid\":1}", "f");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(),
              AllOf(StartsWith("f: key 'version': "), HasSubstr("version 2")));
}

// Goal: text that is not a JSON object is refused with the file and the byte offset.
TEST(IsolationState, NotJsonNamesFileAndByte) {
  for (const char* text : {"", "{\"pid\":1", "{\"pid\":1} x", "[1]", "{\"pid\":1,}",
                           "{\"node\":\"\\q\"}", "{\"node\":\"\\ud800\"}"}) {
    auto parsed = parse_isolation_state(text, "state.json");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_THAT(parsed.status().message(), StartsWith("state.json: not valid JSON at byte "))
        << text;
  }
  std::string deep(100, '[');
  auto parsed = parse_isolation_state("{\"x\":" + deep, "f");
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(), HasSubstr("nested too deeply"));
}

// Goal: \u escapes, including a surrogate pair, decode to UTF-8.
TEST(IsolationState, UnicodeEscapes) {
  auto parsed = parse_isolation_state("{\"pid\":1,\"node\":\"\\u00e9\\ud83d\\ude00\\/\"}", "f");
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->node, "\xc3\xa9\xf0\x9f\x98\x80/");
}

// Goal: reading a file that is not there says NOT_FOUND with its path; one that is there reads.
TEST(IsolationState, ReadFile) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("nodus-isolation-state-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / kIsolationStateFile;
  auto absent = read_isolation_state(file);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(absent.status().message(), HasSubstr(file.string()));
  std::ofstream(file) << serialize_isolation_state(sample());
  auto read = read_isolation_state(file);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  EXPECT_EQ(*read, sample());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nodus
