// Internal to libnodus_sdk: durations as operators write them ("250ms", "10s", "2m", "1h"), for
// admin command arguments and config keys alike, so both accept exactly the same text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nodus::internal {

// Nanoseconds of a whole number followed by ms, s, m or h; nullopt on anything else (a bare
// number, a sign, a fraction, another unit) or on overflow.
std::optional<int64_t> parse_duration_ns(std::string_view text);

// The shortest exact text of `ns` in the same units ("1h", "90s", "250ms"); "<n>ns" when it is
// not a whole number of milliseconds.
std::string format_duration_ns(int64_t ns);

}  // namespace nodus::internal
