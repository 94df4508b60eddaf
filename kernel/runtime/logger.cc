#include "kernel/runtime/logger.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

#include "nodus/json.h"

namespace nodus::kernel {
namespace {

constexpr size_t kValueBytesMax = 4096;  // per message or field value
constexpr size_t kFieldsMax = 64;
constexpr std::string_view kTruncatedMark = "...(truncated)";

// Cuts `s` to at most kValueBytesMax bytes on a UTF-8 character boundary.
std::string_view capped(std::string_view s, bool* cut) {
  if (s.size() <= kValueBytesMax) return s;
  size_t n = kValueBytesMax;
  while (n > 0 && (static_cast<uint8_t>(s[n]) & 0xC0u) == 0x80u)
    --n;
  *cut = true;
  return s.substr(0, n);
}

void append_hex_escape(std::string& out, std::string_view prefix, uint8_t c) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "%02x", c);
  out += prefix;
  out += buf.data();
}

// Text format: control characters are escaped so that one event stays one line.
void append_text_escaped(std::string& out, std::string_view s, bool quoted) {
  for (const char ch : s) {
    const auto c = static_cast<uint8_t>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      append_hex_escape(out, "\\x", c);
    } else if (quoted && (c == '"' || c == '\\')) {
      out += '\\';
      out += ch;
    } else {
      out += ch;
    }
  }
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (const char ch : v) {
    const auto c = static_cast<uint8_t>(ch);
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c == 0x7F) return true;
  }
  return false;
}

// Field keys come from code, but a space or '=' in one would make the line ambiguous.
std::string sanitized_key(std::string_view key) {
  std::string k(key.empty() ? std::string_view("_") : key);
  for (char& c : k) {
    if (static_cast<uint8_t>(c) <= 0x20 || c == '=' || c == '"' || c == 0x7F) c = '_';
  }
  return k;
}

std::string_view level_label(nodus::LogLevel level) {
  switch (level) {
    case nodus::LogLevel::kDebug:
      return "DEBUG";
    case nodus::LogLevel::kInfo:
      return "INFO ";
    case nodus::LogLevel::kWarn:
      return "WARN ";
    case nodus::LogLevel::kError:
      return "ERROR";
  }
  return "?????";
}

bool is_reserved_json_key(std::string_view k) {
  return k == "ts" || k == "level" || k == "node" || k == "component" || k == "msg";
}

int64_t system_wall_time_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string format_utc_timestamp_ms(int64_t wall_time_ns) {
  constexpr int64_t kNsPerMs = 1'000'000;
  int64_t ms = wall_time_ns / kNsPerMs;
  if (wall_time_ns % kNsPerMs < 0) --ms;  // floor for times before the epoch
  time_t secs = static_cast<time_t>(ms / 1000);
  int64_t ms_part = ms % 1000;
  if (ms_part < 0) {
    ms_part += 1000;
    --secs;
  }
  struct tm tm {};
  gmtime_r(&secs, &tm);
  std::array<char, 96> buf{};  // room for any int year, which -Wformat-truncation cannot rule out
  std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms_part));
  return buf.data();
}

std::string_view log_level_name(nodus::LogLevel level) {
  switch (level) {
    case nodus::LogLevel::kDebug:
      return "debug";
    case nodus::LogLevel::kInfo:
      return "info";
    case nodus::LogLevel::kWarn:
      return "warn";
    case nodus::LogLevel::kError:
      return "error";
  }
  return "unknown";
}

nodus::Result<nodus::LogLevel> parse_log_level(std::string_view text) {
  std::string lower(text);
  for (char& c : lower)
    c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  for (const auto level : {nodus::LogLevel::kDebug, nodus::LogLevel::kInfo, nodus::LogLevel::kWarn,
                           nodus::LogLevel::kError}) {
    if (lower == log_level_name(level)) return level;
  }
  return nodus::invalid_argument("log level '" + std::string(text) +
                                 "': expected debug, info, warn or error");
}

LogSink::LogSink(LogSinkOptions options, UniqueFd file_fd)
    : options_(std::move(options)),
      min_level_(static_cast<int>(options_.min_level)),
      file_fd_(std::move(file_fd)) {}

nodus::Result<std::shared_ptr<LogSink>> LogSink::create(LogSinkOptions options) {
  UniqueFd fd;
  if (options.file) {
    NODUS_ASSIGN_OR_RETURN(fd, open_file(*options.file, O_WRONLY | O_CREAT | O_APPEND));
  }
  if (!options.wall_time_ns) options.wall_time_ns = system_wall_time_ns;
  return std::shared_ptr<LogSink>(new LogSink(std::move(options), std::move(fd)));
}

std::string LogSink::format_line(nodus::LogLevel level, std::string_view node,
                                 std::string_view component, std::string_view message,
                                 const nodus::LogFields& fields) const {
  bool cut = false;
  const std::string ts = format_utc_timestamp_ms(options_.wall_time_ns());
  const size_t field_count = std::min(fields.size(), kFieldsMax);
  std::string out;
  out.reserve(128 + message.size());
  if (options_.format == LogFormat::kJson) {
    out += "{\"ts\":\"" + ts + "\",\"level\":\"";
    out += log_level_name(level);
    out += "\",\"node\":";
    append_json_quoted(out, node);
    out += ",\"component\":";
    append_json_quoted(out, component);
    out += ",\"msg\":";
    append_json_quoted(out, capped(message, &cut));
    for (size_t i = 0; i < field_count; ++i) {
      const auto& [key, value] = fields[i];
      out += ',';
      // A field may not shadow the envelope; it keeps its value under "field.<key>".
      append_json_quoted(out, is_reserved_json_key(key) ? "field." + key : key);
      out += ':';
      append_json_quoted(out, capped(value, &cut));
    }
    if (cut || field_count < fields.size()) out += ",\"truncated\":true";
    out += "}\n";
    return out;
  }
  out += ts;
  out += ' ';
  out += level_label(level);
  out += " [";
  append_text_escaped(out, node, false);
  out += "] ";
  append_text_escaped(out, component, false);
  out += ": ";
  append_text_escaped(out, capped(message, &cut), false);
  for (size_t i = 0; i < field_count; ++i) {
    const auto& [key, value] = fields[i];
    const std::string_view v = capped(value, &cut);
    out += ' ';
    out += sanitized_key(key);
    out += '=';
    if (needs_quotes(v)) {
      out += '"';
      append_text_escaped(out, v, true);
      out += '"';
    } else {
      append_text_escaped(out, v, false);
    }
  }
  if (cut || field_count < fields.size()) out += kTruncatedMark;
  out += '\n';
  return out;
}

void LogSink::write(nodus::LogLevel level, std::string_view node, std::string_view component,
                    std::string_view message, const nodus::LogFields& fields) noexcept {
  if (!enabled(level)) return;
  try {
    const std::string line = format_line(level, node, component, message, fields);
    std::lock_guard lock(write_mu_);
    if (options_.to_stderr) write_fd(STDERR_FILENO, line);
    if (file_fd_.valid()) write_fd(file_fd_.get(), line);
  } catch (...) {
    // Out of memory while formatting: dropping one log line is the only sane option.
  }
}

void LogSink::write_fd(int fd, std::string_view line) noexcept {
  // One write(2) per line is the normal case; the loop only finishes a short write.
  while (!line.empty()) {
    const ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report a failing log; never block or crash on it
    line.remove_prefix(static_cast<size_t>(n));
  }
}

ComponentLogger::ComponentLogger(std::shared_ptr<LogSink> sink, std::string node,
                                 std::string component)
    : sink_(std::move(sink)), node_(std::move(node)), component_(std::move(component)) {}

void ComponentLogger::log(nodus::LogLevel level, std::string_view message,
                          const nodus::LogFields& fields) {
  sink_->write(level, node_, component_, message, fields);
}

}  // namespace nodus::kernel
