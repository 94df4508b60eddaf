// bench/tx_load/histogram.h: a log-linear latency histogram in the style of HdrHistogram.
//
// Values (nanoseconds here, but the class is unit-free) fall into buckets whose width doubles
// with every power of two, each power split into kSubBuckets/2 linear sub-buckets, so every
// recorded value is kept within 1/128 (under 0.8 %) of its true value across the whole range,
// in a fixed array (35 KiB) with no allocation on the hot path.
//
//   LatencyHistogram h;
//   h.record(1'250'000);                   // 1.25 ms
//   uint64_t p99 = h.value_at_quantile(0.99);
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace nodus::bench {

class LatencyHistogram {
 public:
  // Values below 2^8 are exact; above, 128 linear sub-buckets per power of two.
  static constexpr int kSubBucketBits = 8;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;
  // Values up to 2^kMaxBits - 1 are kept exactly to the bucket; larger ones are clamped into
  // the last bucket (2^40 ns is about 18 minutes, far beyond any latency worth measuring).
  static constexpr int kMaxBits = 40;
  static constexpr size_t kBucketCount =
      kSubBuckets + static_cast<size_t>(kMaxBits - kSubBucketBits) * (kSubBuckets / 2);

  void record(uint64_t value) { record_n(value, 1); }
  void record_n(uint64_t value, uint64_t n);
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The smallest bucket value v such that at least q (0..1) of the records are <= v; the
  // answer is the bucket's upper edge, capped at max(). 0 when empty.
  uint64_t value_at_quantile(double q) const;

  // Bucket mapping, public so that tests can check it directly.
  static size_t bucket_of(uint64_t value);
  static uint64_t bucket_low(size_t bucket);   // smallest value mapping to `bucket`
  static uint64_t bucket_high(size_t bucket);  // largest value mapping to `bucket`

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace nodus::bench
