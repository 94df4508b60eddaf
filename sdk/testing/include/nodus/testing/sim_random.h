// nodus/testing/sim_random.h: the simulation's only source of randomness.
//
// xoshiro256** seeded through splitmix64: fast, small, and identical on every platform, so a
// seed names exactly one run. Never use std::random_device or std::uniform_*_distribution in a
// simulation (the standard distributions differ between standard libraries).
//
//   nodus::testing::SimRandom rng(seed);
//   if (rng.chance(0.1)) drop();
//   auto delay_us = rng.uniform(100, 5000);  // inclusive bounds
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace nodus::testing {

class SimRandom {
 public:
  explicit SimRandom(uint64_t seed = 0) { reseed(seed); }

  void reseed(uint64_t seed) {
    uint64_t x = seed;
    for (auto& word : s_)
      word = splitmix64(x);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [lo, hi] (inclusive); lo when hi <= lo.
  uint64_t uniform(uint64_t lo, uint64_t hi) {
    if (hi <= lo) return lo;
    const uint64_t span = hi - lo + 1;
    if (span == 0) return next();  // the full 64-bit range
    // Modulo bias is below 2^-40 for the spans a simulation uses: irrelevant for faults.
    return lo + next() % span;
  }

  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // True with probability p (p <= 0 never, p >= 1 always).
  bool chance(double p) { return p > 0 && (p >= 1 || unit() < p); }

  // An independent generator derived from this one (for a sub-system that must not perturb
  // the draws of another when it draws more or less).
  SimRandom fork() { return SimRandom(next()); }

  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_{};
};

// FNV-1a, 64-bit: the event trace hash. Order-sensitive by construction.
class TraceHash {
 public:
  void add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      h_ ^= c;
      h_ *= 0x100000001b3ULL;
    }
  }
  void add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (v >> (i * 8)) & 0xff;
      h_ *= 0x100000001b3ULL;
    }
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace nodus::testing
