#include "kernel/runtime/logger.h"

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;

// 2026-11-22T01:02:03.456Z
constexpr int64_t kFixedNs = 1795309323'456'000'000;

std::shared_ptr<LogSink> make_sink(LogFormat format, std::optional<std::filesystem::path> file,
                                   LogLevel min_level = LogLevel::kDebug) {
  LogSinkOptions options;
  options.min_level = min_level;
  options.format = format;
  options.to_stderr = false;
  options.file = std::move(file);
  options.wall_time_ns = [] { return kFixedNs; };
  auto sink = LogSink::create(std::move(options));
  EXPECT_TRUE(sink.ok()) << sink.status().to_string();
  return sink.ok() ? *sink : nullptr;
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

// Timestamps are UTC with milliseconds.
TEST(LoggerTest, TimestampFormat) {
  EXPECT_EQ(format_utc_timestamp_ms(kFixedNs), "2026-11-22T01:02:03.456Z");
  EXPECT_EQ(format_utc_timestamp_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_utc_timestamp_ms(-1), "1969-12-31T23:59:59.999Z");
}

// A text line has the documented layout; values with spaces, quotes or nothing are quoted.
TEST(LoggerTest, TextFormat) {
  auto sink = make_sink(LogFormat::kText, std::nullopt);
  EXPECT_EQ(sink->format_line(LogLevel::kInfo, "aurigraph-0", "raft", "elected leader",
                              {{"term", "7"}, {"peer", "v w"}, {"empty", ""}, {"q", "a\"b"}}),
            "2026-11-22T01:02:03.456Z INFO  [aurigraph-0] raft: elected leader term=7 "
            "peer=\"v w\" empty=\"\" q=\"a\\\"b\"\n");
  EXPECT_EQ(sink->format_line(LogLevel::kError, "n", "c", "two\nlines", {}),
            "2026-11-22T01:02:03.456Z ERROR [n] c: two\\nlines\n");
}

// A JSON line is one object with the envelope first, fields after, everything escaped, and
// invalid UTF-8 replaced so the line stays valid JSON.
TEST(LoggerTest, JsonFormat) {
  auto sink = make_sink(LogFormat::kJson, std::nullopt);
  EXPECT_EQ(sink->format_line(LogLevel::kWarn, "aurigraph-0", "raft", "say \"hi\"\n",
                              {{"term", "7"}, {"msg", "shadow"}, {"bin", "\x01\xff\xc3\xa9"}}),
            "{\"ts\":\"2026-11-22T01:02:03.456Z\",\"level\":\"warn\",\"node\":\"aurigraph-0\","
            "\"component\":\"raft\",\"msg\":\"say \\\"hi\\\"\\n\",\"term\":\"7\","
            "\"field.msg\":\"shadow\",\"bin\":\"\\u0001\\ufffd\xc3\xa9\"}\n");
}

// Huge values are cut and the line says so.
TEST(LoggerTest, OversizedValuesAreCut) {
  auto sink = make_sink(LogFormat::kJson, std::nullopt);
  const std::string line =
      sink->format_line(LogLevel::kInfo, "n", "c", std::string(100'000, 'x'), {});
  EXPECT_LT(line.size(), 5000u);
  EXPECT_THAT(line, HasSubstr("\"truncated\":true}"));
}

// Lines below the minimum level are not written; set_min_level changes it at run time.
TEST(LoggerTest, LevelFiltering) {
  TempDir tmp;
  const auto path = tmp.path() / "node.log";
  auto sink = make_sink(LogFormat::kText, path, LogLevel::kWarn);
  ComponentLogger log(sink, "node-1", "kernel");
  EXPECT_FALSE(log.enabled(LogLevel::kInfo));
  EXPECT_TRUE(log.enabled(LogLevel::kError));
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  sink->set_min_level(LogLevel::kDebug);
  log.debug("d2");
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr("WARN  [node-1] kernel: w"));
  EXPECT_THAT(lines[1], HasSubstr("ERROR [node-1] kernel: e"));
  EXPECT_THAT(lines[2], HasSubstr("DEBUG [node-1] kernel: d2"));
}

// Many threads logging at once produce only whole, uninterleaved lines, none lost.
TEST(LoggerTest, ConcurrentWritersProduceWholeLines) {
  TempDir tmp;
  const auto path = tmp.path() / "node.log";
  auto sink = make_sink(LogFormat::kText, path);
  constexpr int kThreads = 4;
  constexpr int kLinesPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&sink, t] {
      ComponentLogger log(sink, "n", "t" + std::to_string(t));
      for (int i = 0; i < kLinesPerThread; ++i) {
        log.info(std::string(200, static_cast<char>('a' + t)), {{"i", std::to_string(i)}});
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLinesPerThread));
  for (const auto& line : lines) {
    const size_t colon = line.find(": ");
    ASSERT_NE(colon, std::string::npos) << line;
    const char c = line[colon + 2];
    EXPECT_EQ(line.substr(colon + 2, 200), std::string(200, c)) << line;
    EXPECT_THAT(line.substr(colon + 202), ::testing::StartsWith(" i="));
  }
}

// Level names parse in any case; anything else is an error naming the value.
TEST(LoggerTest, ParseLogLevel) {
  EXPECT_EQ(*parse_log_level("debug"), LogLevel::kDebug);
  EXPECT_EQ(*parse_log_level("INFO"), LogLevel::kInfo);
  EXPECT_EQ(*parse_log_level("warn"), LogLevel::kWarn);
  EXPECT_EQ(*parse_log_level("error"), LogLevel::kError);
  auto bad = parse_log_level("verbose");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'verbose'"));
}

// A log file that cannot be opened is an error naming it.
TEST(LoggerTest, UnopenableFileNamesThePath) {
  TempDir tmp;
  LogSinkOptions options;
  options.file = tmp.path() / "missing-dir" / "node.log";
  auto sink = LogSink::create(options);
  ASSERT_FALSE(sink.ok());
  EXPECT_THAT(sink.status().message(), HasSubstr(options.file->string()));
}

}  // namespace
}  // namespace nodus::kernel
