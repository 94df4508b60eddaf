// Unit tests of io.nodus.metrics.prometheus: the conversion of SDK metrics, process metrics,
// and the plugin serving them over real HTTP from a TestNode.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/text_serializer.h>

#include <string>

#include "family_convert.h"
#include "nodus/harness/test_node.h"

namespace nodus::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A port that was free a moment ago (bound to 0, then released).
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// One HTTP/1.0 GET on 127.0.0.1; returns "" when nothing listens.
std::string http_get(uint16_t port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;)
        out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

// Goal: counters, gauges and histograms keep their type, values and labels; the instance
// label comes first and a series' own label of that name wins.
TEST(Convert, FamiliesToPrometheusText) {
  nodus::MetricFamily c{"nodus_a_total", "A things", nodus::MetricType::kCounter, {}};
  c.samples.push_back({{{"peer", "1"}}, 3, {}, {}, 0, 0});
  nodus::MetricFamily g{"nodus_b_bytes", "B", nodus::MetricType::kGauge, {}};
  g.samples.push_back({{{"instance", "own"}}, 7.5, {}, {}, 0, 0});
  nodus::MetricFamily h{"nodus_c_seconds", "C", nodus::MetricType::kHistogram, {}};
  h.samples.push_back({{}, 0, {0.1, 1.0}, {1, 3, 4}, 2.5, 4});
  const auto families = to_prometheus({c, g, h}, {{"instance", "2"}});
  ASSERT_EQ(families.size(), 3u);
  const std::string text = prometheus::TextSerializer().Serialize(families);
  EXPECT_THAT(text, HasSubstr("# TYPE nodus_a_total counter\n"));
  EXPECT_THAT(text, HasSubstr("nodus_a_total{instance=\"2\",peer=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("nodus_b_bytes{instance=\"own\"} 7.5\n"));
  EXPECT_THAT(text, HasSubstr("nodus_c_seconds_bucket{instance=\"2\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("nodus_c_seconds_bucket{instance=\"2\",le=\"+Inf\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("nodus_c_seconds_count{instance=\"2\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("nodus_c_seconds_sum{instance=\"2\"} 2.5\n"));
}

// Goal: the standard process metrics are read from /proc/self with sane values.
TEST(Convert, ProcessMetrics) {
  std::vector<prometheus::MetricFamily> out;
  append_process_metrics(out, {{"instance", "0"}});
  std::map<std::string, double> v;
  for (const auto& f : out)
    v[f.name] = f.type == prometheus::MetricType::Counter ? f.metric[0].counter.value
                                                          : f.metric[0].gauge.value;
  EXPECT_GT(v["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(v["process_virtual_memory_bytes"], v["process_resident_memory_bytes"]);
  EXPECT_GE(v["process_threads"], 1);
  EXPECT_GE(v["process_open_fds"], 3);
  EXPECT_GT(v["process_max_fds"], 0);
  EXPECT_GT(v["process_start_time_seconds"], 1.6e9);  // after 2020
  EXPECT_EQ(v.count("process_cpu_seconds_total"), 1u);
}

// Goal: the plugin serves every SDK metric with the instance label plus process metrics over
// HTTP, counts its scrapes, and stops listening on stop().
TEST(ExposerPlugin, ServesMetricsOverHttp) {
  nodus::testing::TestNode node({.index = 3, .instances = 4});
  const uint16_t port = free_port();
  ASSERT_TRUE(node.add_plugin(PROMETHEUS_PLUGIN, "port: " + std::to_string(port)).ok());
  ASSERT_TRUE(node.start().ok());
  node.metrics().counter("nodus_test_things_total", "Things").inc(3);
  const std::string first = http_get(port, "/metrics");
  EXPECT_THAT(first, HasSubstr("200 OK"));
  EXPECT_THAT(first, HasSubstr("nodus_test_things_total{instance=\"3\"} 3\n"));
  EXPECT_THAT(first, HasSubstr("process_cpu_seconds_total{instance=\"3\"}"));
  EXPECT_THAT(http_get(port, "/metrics"),
              HasSubstr("nodus_metrics_scrapes_total{instance=\"3\"} 2\n"));
  EXPECT_EQ(node.metric_value("nodus_metrics_scrapes_total"), 2);
  ASSERT_TRUE(node.stop().ok());
  EXPECT_THAT(http_get(port, "/metrics"), Not(HasSubstr("200 OK")));
}

// Goal: a missing metrics port and a port already in use fail start with a clear status.
TEST(ExposerPlugin, StartFailsWithoutUsablePort) {
  nodus::testing::TestNode no_port;  // TestNode instances have no named ports
  ASSERT_TRUE(no_port.add_plugin(PROMETHEUS_PLUGIN).ok());
  Status st = no_port.start();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), HasSubstr("no 'metrics' port"));

  nodus::testing::TestNode first;
  const uint16_t port = free_port();
  ASSERT_TRUE(first.add_plugin(PROMETHEUS_PLUGIN, "port: " + std::to_string(port)).ok());
  ASSERT_TRUE(first.start().ok());
  nodus::testing::TestNode second;
  ASSERT_TRUE(second.add_plugin(PROMETHEUS_PLUGIN, "port: " + std::to_string(port)).ok());
  st = second.start();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("127.0.0.1:" + std::to_string(port)));
}

}  // namespace
}  // namespace nodus::metrics
