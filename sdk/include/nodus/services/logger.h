// nodus/services/logger.h: structured, one-line-per-event logging.
//
// The kernel writes each event as one line (or one JSON object with `log.format: json`)
// tagged with the instance and the plugin that logged it.
//
//   ctx.logger().info("elected leader", {{"term", std::to_string(term)}});
//   ctx.logger().warn("peer unreachable", {{"peer", peer.address}});
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nodus {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view message, const LogFields& fields) = 0;
  virtual bool enabled(LogLevel level) const = 0;

  void debug(std::string_view m, const LogFields& f = {}) { log(LogLevel::kDebug, m, f); }
  void info(std::string_view m, const LogFields& f = {}) { log(LogLevel::kInfo, m, f); }
  void warn(std::string_view m, const LogFields& f = {}) { log(LogLevel::kWarn, m, f); }
  void error(std::string_view m, const LogFields& f = {}) { log(LogLevel::kError, m, f); }
};

}  // namespace nodus
