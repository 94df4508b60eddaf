#include <cctype>

#include "nodus/services/processes.h"

namespace nodus {
namespace {
constexpr size_t kNameBytesMax = 64;
constexpr std::chrono::milliseconds kGraceMax{60000};

}  // namespace

Status validate_process_spec(const ProcessSpec& spec) {
  const std::string what = "process '" + spec.name + "'";
  if (spec.name.empty() || spec.name.size() > kNameBytesMax) {
    return invalid_argument("process name must be 1 to " + std::to_string(kNameBytesMax) +
                            " characters, got '" + spec.name + "'");
  }
  for (char c : spec.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return invalid_argument(what + ": name may hold letters, digits, '-', '_' and '.'");
    }
  }
  if (spec.argv.empty() || spec.argv[0].empty()) return invalid_argument(what + ": argv is empty");
  if (spec.stop_grace <= std::chrono::milliseconds(0) || spec.stop_grace > kGraceMax) {
    return invalid_argument(what + ": stop_grace must be within (0, 60000] ms");
  }
  if (spec.log_size_bytes_max < 1024) {
    return invalid_argument(what + ": log_size_bytes_max must be at least 1024");
  }
  if (spec.log_files_kept > 100) return invalid_argument(what + ": log_files_kept is at most 100");
  if (spec.backoff_initial < std::chrono::milliseconds(1) ||
      spec.backoff_max < spec.backoff_initial ||
      spec.backoff_max > std::chrono::milliseconds(3600000)) {
    return invalid_argument(what +
                            ": backoff must satisfy 1 ms <= backoff_initial <= backoff_max <= 1 h");
  }
  if (spec.crash_loop_ends < 1 || spec.crash_loop_ends > 1000 ||
      spec.crash_loop_window < std::chrono::seconds(1)) {
    return invalid_argument(what + ": crash_loop_ends must be 1 to 1000, crash_loop_window >= 1 s");
  }
  return {};
}

std::string ProcessExit::describe() const {
  std::string out = name + " (pid " + std::to_string(pid) + "): ";
  if (exit_code) {
    out += "exit " + std::to_string(*exit_code);
  } else if (signal) {
    out += "signal " + std::to_string(*signal);
  } else {
    out += "not started";
  }
  if (stopped) out += ", stopped";
  if (crash_loop) out += ", crash loop after " + std::to_string(restarts) + " restarts";
  if (!error.empty()) out += ": " + error;
  return out;
}

}  // namespace nodus
