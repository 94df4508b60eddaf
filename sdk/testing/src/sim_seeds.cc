#include "nodus/testing/sim_seeds.h"

#include <cstdlib>
#include <filesystem>
#include <string_view>
#include <system_error>

namespace nodus::testing {
namespace {

// Parses a decimal environment variable; nullopt-like `fallback` when unset or malformed.
uint64_t env_u64(const char* name, uint64_t fallback, bool* present = nullptr) {
  const char* v = std::getenv(name);
  if (present) *present = false;
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0') return fallback;
  if (present) *present = true;
  return parsed;
}

}  // namespace

std::vector<uint64_t> sim_seeds(uint64_t default_count) {
  bool single = false;
  const uint64_t seed = env_u64("NODUS_SIM_SEED", 0, &single);
  if (single) return {seed};
  const uint64_t count = env_u64("NODUS_SIM_SEEDS", default_count);
  const uint64_t base = env_u64("NODUS_SIM_SEED_BASE", 1);
  std::vector<uint64_t> out;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i)
    out.push_back(base + i);
  return out;
}

std::string replay_command(uint64_t seed, const std::string& test_name) {
  std::string out = "seed=" + std::to_string(seed);
  if (test_name.empty()) return out + "\n";
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  out += " replay: NODUS_SIM_SEED=" + std::to_string(seed) + " " +
         (ec ? std::string("<test binary>") : exe.string()) + " --gtest_filter=" + test_name;
  return out + "\n";
}

}  // namespace nodus::testing
