#include "duration_text.h"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace nodus::internal {
namespace {

// Largest first, so that formatting picks the coarsest unit that divides exactly.
constexpr std::array<std::pair<std::string_view, int64_t>, 4> kUnits = {{
    {"h", 3'600'000'000'000},
    {"m", 60'000'000'000},
    {"s", 1'000'000'000},
    {"ms", 1'000'000},
}};

}  // namespace

std::optional<int64_t> parse_duration_ns(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  if (digits == 0) return std::nullopt;
  int64_t count = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, count);
  if (ec != std::errc() || ptr != text.data() + digits) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    if (count > std::numeric_limits<int64_t>::max() / scale) return std::nullopt;
    return count * scale;
  }
  return std::nullopt;
}

std::string format_duration_ns(int64_t ns) {
  for (const auto& [name, scale] : kUnits) {
    if (ns % scale == 0) return std::to_string(ns / scale) + std::string(name);
  }
  return std::to_string(ns) + "ns";
}

}  // namespace nodus::internal
