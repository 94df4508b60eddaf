#include "nodus/testing/capture_logger.h"

#include <array>

namespace nodus::testing {

void LogLines::add(std::string line) {
  std::lock_guard lock(mu_);
  lines_.push_back(std::move(line));
}

std::vector<std::string> LogLines::lines() const {
  std::lock_guard lock(mu_);
  return lines_;
}

bool LogLines::contains(std::string_view needle) const {
  std::lock_guard lock(mu_);
  for (const auto& l : lines_) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

void CaptureLogger::log(LogLevel level, std::string_view message, const LogFields& fields) {
  static constexpr std::array<const char*, 4> kNames = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line = kNames.at(static_cast<size_t>(level));
  line += ' ';
  line += component_;
  line += ": ";
  line += message;
  for (const auto& [k, v] : fields)
    line += " " + k + "=" + v;
  sink_->add(std::move(line));
}

}  // namespace nodus::testing
