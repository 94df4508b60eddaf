#include "kernel/supervisor/aggregate_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;

// Goal: families from several instances merge under one HELP/TYPE, histogram samples stay with
// their family, and first-seen order is kept.
TEST(AggregateMetrics, MergesFamiliesAcrossInstances) {
  const std::string a =
      "# HELP nodus_x_total X.\n# TYPE nodus_x_total counter\nnodus_x_total{instance=\"0\"} 1\n"
      "# HELP nodus_h_seconds H.\n# TYPE nodus_h_seconds histogram\n"
      "nodus_h_seconds_bucket{instance=\"0\",le=\"+Inf\"} 2\n"
      "nodus_h_seconds_sum{instance=\"0\"} 0.5\nnodus_h_seconds_count{instance=\"0\"} 2\n";
  const std::string b =
      "# HELP nodus_x_total X.\n# TYPE nodus_x_total counter\nnodus_x_total{instance=\"1\"} 4\n";
  EXPECT_EQ(merge_exposition({a, b}),
            "# HELP nodus_x_total X.\n# TYPE nodus_x_total counter\n"
            "nodus_x_total{instance=\"0\"} 1\nnodus_x_total{instance=\"1\"} 4\n"
            "# HELP nodus_h_seconds H.\n# TYPE nodus_h_seconds histogram\n"
            "nodus_h_seconds_bucket{instance=\"0\",le=\"+Inf\"} 2\n"
            "nodus_h_seconds_sum{instance=\"0\"} 0.5\nnodus_h_seconds_count{instance=\"0\"} 2\n");
}

// Goal: container totals count states and sum CPU and memory over the instances.
TEST(AggregateMetrics, ContainerTotals) {
  nodus::v1::StatusReply reply;
  auto* a = reply.add_instances();
  a->set_index(0);
  a->set_state("ready");
  a->set_cpu_s(1.5);
  a->set_rss_bytes(1000);
  a->set_restarts(2);
  auto* b = reply.add_instances();
  b->set_index(1);
  b->set_state("backoff");
  b->set_cpu_s(0.5);
  b->set_rss_bytes(24);
  const std::string text = container_totals(reply);
  EXPECT_THAT(text, HasSubstr("nodus_supervisor_instances{state=\"ready\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("nodus_supervisor_instances{state=\"backoff\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("nodus_supervisor_restarts_total{instance=\"0\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("nodus_supervisor_instance_ready{instance=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("nodus_container_cpu_seconds 2\n"));
  EXPECT_THAT(text, HasSubstr("nodus_container_memory_rss_bytes 1024\n"));
}

// Goal: an unreachable endpoint is an error naming it, not a hang.
TEST(AggregateMetrics, UnreachableInstanceIsAnError) {
  auto r = http_get_text("127.0.0.1", 1, "/metrics", std::chrono::milliseconds(200));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("127.0.0.1:1"));
}

}  // namespace
}  // namespace nodus::kernel
