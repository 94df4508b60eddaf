// runtime/logger.h: structured logging. LogSink writes one line per event, each with a single
// write(2), to stderr and/or an append-mode file, as text or JSON lines. ComponentLogger is
// the nodus::Logger a plugin receives: a sink plus the node and component names.
//
// Text:  2026-11-22T01:02:03.456Z INFO  [aurigraph-0] raft: elected leader term=7 peer="a b"
// JSON:  {"ts":"2026-11-22T01:02:03.456Z","level":"info","node":"aurigraph-0",
//         "component":"raft","msg":"elected leader","term":"7","peer":"a b"}
//
//   NODUS_ASSIGN_OR_RETURN(auto sink, LogSink::create({.min_level = nodus::LogLevel::kInfo}));
//   ComponentLogger log(sink, "aurigraph-0", "raft");
//   log.info("elected leader", {{"term", "7"}});
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "kernel/runtime/file_util.h"
#include "nodus/services/logger.h"
#include "nodus/status.h"

namespace nodus::kernel {

enum class LogFormat { kText, kJson };

struct LogSinkOptions {
  nodus::LogLevel min_level = nodus::LogLevel::kInfo;
  LogFormat format = LogFormat::kText;
  bool to_stderr = true;
  std::optional<std::filesystem::path> file;  // opened O_APPEND, created when missing
  // Wall-clock source in ns since the Unix epoch; tests inject a fixed one. Default: the
  // system clock.
  std::function<int64_t()> wall_time_ns;
};

class LogSink {
 public:
  // Messages and field values over 4 KiB, and fields past the 64th, are cut and the line is
  // marked, so one runaway event cannot flood the log.

  // Fails with an error naming the file when it cannot be opened for appending.
  static nodus::Result<std::shared_ptr<LogSink>> create(LogSinkOptions options);

  // Thread-safe. Formats and writes one line; never throws.
  void write(nodus::LogLevel level, std::string_view node, std::string_view component,
             std::string_view message, const nodus::LogFields& fields) noexcept;
  bool enabled(nodus::LogLevel level) const {
    return static_cast<int>(level) >= min_level_.load(std::memory_order_relaxed);
  }
  void set_min_level(nodus::LogLevel level) {
    min_level_.store(static_cast<int>(level), std::memory_order_relaxed);
  }
  // The line write() would produce, newline included. Exposed for tests and exporters.
  std::string format_line(nodus::LogLevel level, std::string_view node, std::string_view component,
                          std::string_view message, const nodus::LogFields& fields) const;

 private:
  explicit LogSink(LogSinkOptions options, UniqueFd file_fd);
  void write_fd(int fd, std::string_view line) noexcept;

  const LogSinkOptions options_;
  std::atomic<int> min_level_;
  UniqueFd file_fd_;
  std::mutex write_mu_;  // keeps lines whole and in order even if write(2) is short
};

class ComponentLogger final : public nodus::Logger {
 public:
  ComponentLogger(std::shared_ptr<LogSink> sink, std::string node, std::string component);

  void log(nodus::LogLevel level, std::string_view message,
           const nodus::LogFields& fields) override;
  bool enabled(nodus::LogLevel level) const override { return sink_->enabled(level); }

 private:
  std::shared_ptr<LogSink> sink_;
  const std::string node_;
  const std::string component_;
};

// "debug", "info", "warn" or "error" (any case); INVALID_ARGUMENT naming the bad value.
nodus::Result<nodus::LogLevel> parse_log_level(std::string_view text);
std::string_view log_level_name(nodus::LogLevel level);  // "debug" .. "error"

// "2026-11-22T01:02:03.456Z": UTC with milliseconds.
std::string format_utc_timestamp_ms(int64_t wall_time_ns);

}  // namespace nodus::kernel
