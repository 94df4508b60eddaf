#include "kernel/runtime/metrics_registry.h"

#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;

// Asking twice for the same name and labels (in any label order) returns the same object.
TEST(MetricsRegistryTest, SameSeriesReturnsSameHandle) {
  MetricsRegistry registry;
  Counter& a = registry.counter("nodus_x_total", "X", {{"peer", "1"}, {"dir", "in"}});
  Counter& b = registry.counter("nodus_x_total", "X", {{"dir", "in"}, {"peer", "1"}});
  Counter& other = registry.counter("nodus_x_total", "X", {{"dir", "out"}, {"peer", "1"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  Histogram& h1 = registry.histogram("nodus_h_seconds", "H", {1, 2});
  Histogram& h2 = registry.histogram("nodus_h_seconds", "H", {2, 1});
  EXPECT_EQ(&h1, &h2);
}

// A type conflict or a bad name is reported, naming the metric, and yields a detached series
// that works but is not exported.
TEST(MetricsRegistryTest, ConflictsAndBadNamesAreDetached) {
  std::vector<std::string> errors;
  MetricsRegistry registry([&](std::string e) { errors.push_back(std::move(e)); });
  registry.counter("nodus_dup", "first").inc();
  Gauge& conflicting = registry.gauge("nodus_dup", "second");
  conflicting.set(5);  // must be usable
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("metric 'nodus_dup'"));
  EXPECT_THAT(errors[0], HasSubstr("registered as a counter, requested as a gauge"));

  registry.counter("9starts_with_digit", "bad").inc();
  registry.counter("nodus_ok_total", "ok", {{"__reserved", "x"}}).inc();
  registry.histogram("nodus_le_seconds", "bad label", {1}, {{"le", "1"}}).observe(1);
  registry.histogram("nodus_h_seconds", "h", {1, 2});
  registry.histogram("nodus_h_seconds", "h", {1, 3});
  ASSERT_EQ(errors.size(), 5u);
  EXPECT_THAT(errors[1], HasSubstr("'9starts_with_digit': invalid name"));
  EXPECT_THAT(errors[2], HasSubstr("invalid label name '__reserved'"));
  EXPECT_THAT(errors[3], HasSubstr("'le' is reserved"));
  EXPECT_THAT(errors[4], HasSubstr("buckets differ"));
  EXPECT_EQ(registry.detached_count(), 5u);

  const auto families = registry.collect();
  ASSERT_EQ(families.size(), 2u);  // nodus_dup (counter) and nodus_h_seconds
  EXPECT_EQ(families[0].name, "nodus_dup");
  EXPECT_EQ(families[0].type, MetricType::kCounter);
  EXPECT_EQ(families[0].samples[0].value, 1.0);
}

// The error handler runs outside the registry lock, so it may count errors in the registry
// itself (this deadlocks if it were called under the lock).
TEST(MetricsRegistryTest, ErrorHandlerMayUseTheRegistry) {
  MetricsRegistry* self = nullptr;
  MetricsRegistry registry([&](std::string) {
    self->counter("nodus_metric_errors_total", "Bad metric registrations").inc();
  });
  self = &registry;
  registry.counter("bad name", "x");
  EXPECT_EQ(registry.counter("nodus_metric_errors_total", "").value(), 1.0);
}

// Name rules follow Prometheus.
TEST(MetricsRegistryTest, NameValidation) {
  EXPECT_TRUE(valid_metric_name("nodus_raft:commit_total"));
  EXPECT_TRUE(valid_metric_name(":colon_first"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_FALSE(valid_metric_name("has-dash"));
  EXPECT_FALSE(valid_metric_name("1abc"));
  EXPECT_TRUE(valid_label_name("instance"));
  EXPECT_TRUE(valid_label_name("_x1"));
  EXPECT_FALSE(valid_label_name("a:b"));
  EXPECT_FALSE(valid_label_name("__name__"));
  EXPECT_FALSE(valid_label_name("1a"));
}

// collect() sorts families by name and samples by labels; histogram counts are cumulative.
TEST(MetricsRegistryTest, CollectIsSortedAndCumulative) {
  MetricsRegistry registry;
  registry.gauge("nodus_b", "B", {{"k", "2"}}).set(2);
  registry.gauge("nodus_b", "B", {{"k", "1"}}).set(1);
  Histogram& h = registry.histogram("nodus_a_seconds", "A", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(0.7);
  h.observe(3);
  const auto families = registry.collect();
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "nodus_a_seconds");
  EXPECT_EQ(families[0].samples[0].bucket_counts, (std::vector<uint64_t>{1, 3, 4}));
  EXPECT_EQ(families[0].samples[0].count, 4u);
  EXPECT_DOUBLE_EQ(families[0].samples[0].sum, 4.25);
  ASSERT_EQ(families[1].samples.size(), 2u);
  EXPECT_EQ(families[1].samples[0].labels, (MetricLabels{{"k", "1"}}));
  EXPECT_EQ(families[1].samples[1].value, 2.0);
}

// Counters, gauges and labelled histograms render exactly in text format 0.0.4, with the
// extra labels first on every sample.
TEST(PrometheusTextTest, RendersAllTypesExactly) {
  MetricsRegistry registry;
  registry.counter("nodus_sent_total", "Messages sent", {{"peer", "1"}}).inc(3);
  registry.gauge("nodus_queue_len", "Queue length").set(-2.5);
  Histogram& h = registry.histogram("nodus_rtt_seconds", "RTT", {0.005, 0.25}, {{"peer", "2"}});
  h.observe(0.00390625);  // binary fractions keep the sum exact
  h.observe(0.125);
  h.observe(1);
  const std::string text = render_prometheus_text(registry.collect(), {{"instance", "0"}});
  EXPECT_EQ(text,
            "# HELP nodus_queue_len Queue length\n"
            "# TYPE nodus_queue_len gauge\n"
            "nodus_queue_len{instance=\"0\"} -2.5\n"
            "# HELP nodus_rtt_seconds RTT\n"
            "# TYPE nodus_rtt_seconds histogram\n"
            "nodus_rtt_seconds_bucket{instance=\"0\",peer=\"2\",le=\"0.005\"} 1\n"
            "nodus_rtt_seconds_bucket{instance=\"0\",peer=\"2\",le=\"0.25\"} 2\n"
            "nodus_rtt_seconds_bucket{instance=\"0\",peer=\"2\",le=\"+Inf\"} 3\n"
            "nodus_rtt_seconds_sum{instance=\"0\",peer=\"2\"} 1.12890625\n"
            "nodus_rtt_seconds_count{instance=\"0\",peer=\"2\"} 3\n"
            "# HELP nodus_sent_total Messages sent\n"
            "# TYPE nodus_sent_total counter\n"
            "nodus_sent_total{instance=\"0\",peer=\"1\"} 3\n");
}

// Label values escape backslash, quote and newline; help escapes backslash and newline;
// a sample's own label overrides an extra label of the same name; no labels means no braces.
TEST(PrometheusTextTest, EscapesAndOverrides) {
  MetricsRegistry registry;
  registry.counter("nodus_esc_total", "Line one\nback\\slash \"quoted\"",
                   {{"path", "C:\\dir\n\"x\""}, {"instance", "own"}});
  registry.counter("nodus_plain_total", "");
  const std::string text = render_prometheus_text(registry.collect(), {{"instance", "0"}});
  EXPECT_EQ(text,
            "# HELP nodus_esc_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE nodus_esc_total counter\n"
            "nodus_esc_total{instance=\"own\",path=\"C:\\\\dir\\n\\\"x\\\"\"} 0\n"
            "# TYPE nodus_plain_total counter\n"
            "nodus_plain_total{instance=\"0\"} 0\n");
  EXPECT_THAT(render_prometheus_text(registry.collect()),
              HasSubstr("# TYPE nodus_plain_total counter\nnodus_plain_total 0\n"));
}

// Special values use the spellings Prometheus parses.
TEST(PrometheusTextTest, SpecialValues) {
  MetricFamily f{"nodus_g", "", MetricType::kGauge, {}};
  f.samples.push_back(MetricSample{});
  f.samples.back().value = std::numeric_limits<double>::infinity();
  f.samples.push_back(MetricSample{});
  f.samples.back().labels = {{"k", "v"}};
  f.samples.back().value = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(render_prometheus_text({f}),
            "# TYPE nodus_g gauge\nnodus_g +Inf\nnodus_g{k=\"v\"} NaN\n");
}

// Registration from many threads at once yields one series per key and loses no update.
TEST(MetricsRegistryTest, ConcurrentRegistrationAndUpdates) {
  MetricsRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry] {
      for (int i = 0; i < 1000; ++i) {
        registry.counter("nodus_c_total", "C", {{"k", std::to_string(i % 10)}}).inc();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto families = registry.collect();
  ASSERT_EQ(families.size(), 1u);
  ASSERT_EQ(families[0].samples.size(), 10u);
  for (const auto& s : families[0].samples)
    EXPECT_EQ(s.value, 400.0);
}

}  // namespace
}  // namespace nodus::kernel
