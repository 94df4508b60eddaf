// Unit tests of the log-linear latency histogram.
#include "histogram.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace nodus::bench {
namespace {

// Goal: every value maps into a bucket whose [low, high] range contains it, buckets tile the
// range without gaps, and a bucket is at most 1/128 of its values wide.
TEST(HistogramTest, BucketsTileTheRangeWithBoundedWidth) {
  EXPECT_EQ(LatencyHistogram::bucket_of(0), 0u);
  EXPECT_EQ(LatencyHistogram::bucket_of(255), 255u);
  for (size_t b = 0; b + 1 < LatencyHistogram::kBucketCount; ++b) {
    const uint64_t low = LatencyHistogram::bucket_low(b);
    const uint64_t high = LatencyHistogram::bucket_high(b);
    ASSERT_LE(low, high) << b;
    ASSERT_EQ(LatencyHistogram::bucket_of(low), b);
    ASSERT_EQ(LatencyHistogram::bucket_of(high), b);
    ASSERT_EQ(LatencyHistogram::bucket_low(b + 1), high + 1) << "gap after bucket " << b;
    if (low >= 256) {
      ASSERT_LE((high - low + 1) * 128, low) << b;
    }
  }
  // Values beyond the range clamp into the last bucket instead of overflowing the array.
  EXPECT_EQ(LatencyHistogram::bucket_of(UINT64_MAX), LatencyHistogram::kBucketCount - 1);
}

// Goal: quantiles of a known distribution come out within the histogram's 1/128 precision.
TEST(HistogramTest, QuantilesOfAUniformDistribution) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v)
    h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  const auto near = [](uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want / 128 + 1000;
  };
  EXPECT_TRUE(near(h.value_at_quantile(0.50), 50e6)) << h.value_at_quantile(0.50);
  EXPECT_TRUE(near(h.value_at_quantile(0.90), 90e6)) << h.value_at_quantile(0.90);
  EXPECT_TRUE(near(h.value_at_quantile(0.99), 99e6)) << h.value_at_quantile(0.99);
  EXPECT_TRUE(near(h.value_at_quantile(0.999), 99.9e6)) << h.value_at_quantile(0.999);
  EXPECT_EQ(h.value_at_quantile(1.0), h.max());
  EXPECT_NEAR(h.mean(), 50000500.0, 1.0);
}

// Goal: a rare slow outlier shows at p999 and max but not at p50 (a tail is not averaged away).
TEST(HistogramTest, TailIsNotHidden) {
  LatencyHistogram h;
  h.record_n(1'000'000, 9990);  // 1 ms
  h.record_n(500'000'000, 10);  // 500 ms
  EXPECT_LE(h.value_at_quantile(0.5), 1'000'000u + 1'000'000u / 128);
  EXPECT_GE(h.value_at_quantile(0.9991), 500'000'000u - 500'000'000u / 128);
  EXPECT_EQ(h.max(), 500'000'000u);
}

// Goal: merging two histograms equals recording everything into one; reset empties.
TEST(HistogramTest, MergeAndReset) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    const uint64_t v = rng() % 10'000'000'000ULL;
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) {
    EXPECT_EQ(a.value_at_quantile(q), all.value_at_quantile(q)) << q;
  }
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.value_at_quantile(0.5), 0u);
  EXPECT_EQ(a.min(), 0u);
}

}  // namespace
}  // namespace nodus::bench
