#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nodus::bench {

// Layout: values below kSubBuckets map one-to-one onto the first kSubBuckets buckets. Above
// that, each power of two [2^k, 2^(k+1)) with k >= kSubBucketBits gets kSubBuckets/2 buckets
// of width 2^(k - kSubBucketBits + 1): the top kSubBucketBits bits of the value select the
// bucket, so a bucket is at most 1/(kSubBuckets/2) as wide as the values it holds.
size_t LatencyHistogram::bucket_of(uint64_t value) {
  constexpr uint64_t kMaxValue = (uint64_t{1} << kMaxBits) - 1;
  value = std::min(value, kMaxValue);
  if (value < kSubBuckets) return static_cast<size_t>(value);
  const int msb = std::bit_width(value) - 1;  // >= kSubBucketBits
  const int shift = msb - kSubBucketBits + 1;
  const uint64_t sub = (value >> shift) - kSubBuckets / 2;  // 0 .. kSubBuckets/2 - 1
  return kSubBuckets + static_cast<size_t>(msb - kSubBucketBits) * (kSubBuckets / 2) + sub;
}

uint64_t LatencyHistogram::bucket_low(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const size_t rest = bucket - kSubBuckets;
  const int msb = static_cast<int>(rest / (kSubBuckets / 2)) + kSubBucketBits;
  const uint64_t sub = rest % (kSubBuckets / 2) + kSubBuckets / 2;
  return sub << (msb - kSubBucketBits + 1);
}

uint64_t LatencyHistogram::bucket_high(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const size_t rest = bucket - kSubBuckets;
  const int shift = static_cast<int>(rest / (kSubBuckets / 2)) + 1;
  return bucket_low(bucket) + (uint64_t{1} << shift) - 1;
}

void LatencyHistogram::record_n(uint64_t value, uint64_t n) {
  if (n == 0) return;
  counts_[bucket_of(value)] += n;
  count_ += n;
  sum_ += value * n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() {
  *this = LatencyHistogram();
}

uint64_t LatencyHistogram::value_at_quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the record that answers q, 1-based: at least one record always counts.
  const auto rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_high(i), max_);
  }
  return max_;
}

}  // namespace nodus::bench
