// nodus/testing/capture_logger.h: a Logger that keeps every line for assertions.
//
//   auto lines = std::make_shared<nodus::testing::LogLines>();
//   nodus::testing::CaptureLogger log("peerping", lines);
//   log.info("hello", {{"k", "v"}});
//   EXPECT_TRUE(lines->contains("peerping: hello k=v"));
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nodus/services/logger.h"

namespace nodus::testing {

class LogLines {
 public:
  void add(std::string line);
  std::vector<std::string> lines() const;
  // True when any line contains `needle`.
  bool contains(std::string_view needle) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

class CaptureLogger final : public Logger {
 public:
  CaptureLogger(std::string component, std::shared_ptr<LogLines> sink)
      : component_(std::move(component)), sink_(std::move(sink)) {}
  // Lines look like "INFO peerping: message k=v".
  void log(LogLevel level, std::string_view message, const LogFields& fields) override;
  bool enabled(LogLevel) const override { return true; }

 private:
  std::string component_;
  std::shared_ptr<LogLines> sink_;
};

}  // namespace nodus::testing
