// FakeDatagrams keeps the Datagrams contract: the kernel's checks and messages, handlers on
// the executor, the bounded receive queue and the counters.
#include "nodus/testing/fake_datagrams.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "nodus/testing/manual_executor.h"

namespace nodus::testing {
namespace {

// Enough of Metrics for the fake: one counter per name and labels.
class TinyMetrics final : public Metrics {
 public:
  Counter& counter(std::string_view name, std::string_view, const MetricLabels& labels) override {
    auto& slot = counters_[{std::string(name), labels}];
    if (!slot) slot = std::make_unique<Counter>();
    return *slot;
  }
  Gauge& gauge(std::string_view, std::string_view, const MetricLabels&) override { return gauge_; }
  Histogram& histogram(std::string_view, std::string_view, std::vector<double>,
                       const MetricLabels&) override {
    return histogram_;
  }
  std::vector<MetricFamily> collect() const override { return {}; }
  double value(const std::string& name, const MetricLabels& labels) {
    auto it = counters_.find({name, labels});
    return it == counters_.end() ? -1 : it->second->value();
  }

 private:
  std::map<std::pair<std::string, MetricLabels>, std::unique_ptr<Counter>> counters_;
  Gauge gauge_;
  Histogram histogram_{{1.0}};
};

struct FakeDatagramsTest : ::testing::Test {
  ManualExecutor exec;
  TinyMetrics metrics;
  FakeDatagrams dg{{{"gossip", 7946}, {"swim", 7947}}, exec, metrics};
  std::vector<Datagram> got;
  DatagramHandler handler() {
    return [this](Datagram d) { got.push_back(std::move(d)); };
  }
};

// Goal: unknown port, double bind, bad options, unbound sends and bad addresses are refused
// with the kernel's codes, naming the port.
TEST_F(FakeDatagramsTest, Misuse) {
  Status unknown = dg.bind("nope", handler());
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("'nope'"), std::string::npos);
  ASSERT_TRUE(dg.bind("gossip", handler()).ok());
  EXPECT_EQ(dg.bind("gossip", handler()).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(dg.bind("swim", handler(), {.receive_queue_max = 0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(dg.send_to("swim", "10.0.0.1:1", "x").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(dg.send_to("gossip", "db.internal:1", "x").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dg.send_to("gossip", "[::1]:1", "x").code(), StatusCode::kOk);
  EXPECT_EQ(dg.local_address("gossip").value(), "127.0.0.1:7946");
}

// Goal: oversize sends are refused with both sizes; oversize arrivals dropped and counted.
TEST_F(FakeDatagramsTest, SizeLimit) {
  ASSERT_TRUE(dg.bind("gossip", handler(), {.max_datagram_bytes = 10}).ok());
  Status big = dg.send_to("gossip", "10.0.0.1:1", std::string(11, 'x'));
  EXPECT_EQ(big.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.message().find("11 bytes exceeds the limit of 10 bytes"), std::string::npos);
  EXPECT_TRUE(dg.sent().empty());
  EXPECT_EQ(dg.deliver("gossip", "10.0.0.1:1", std::string(11, 'x')).code(),
            StatusCode::kInvalidArgument);
  exec.run_until_idle();
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(dg.stats("gossip").value().dropped_oversize, 1u);
  EXPECT_EQ(
      metrics.value("nodus_datagram_dropped_total", {{"port", "gossip"}, {"reason", "oversize"}}),
      1);
}

// Goal: deliveries wait in a bounded queue for the executor; the rest are dropped and counted.
TEST_F(FakeDatagramsTest, QueueFull) {
  ASSERT_TRUE(dg.bind("gossip", handler(), {.receive_queue_max = 3}).ok());
  for (int i = 0; i < 5; ++i) {
    Status st = dg.deliver("gossip", "10.0.0.1:1", std::to_string(i));
    EXPECT_EQ(st.code(), i < 3 ? StatusCode::kOk : StatusCode::kResourceExhausted);
  }
  EXPECT_TRUE(got.empty()) << "handlers run on the executor";
  exec.run_until_idle();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].payload, "2");
  const DatagramStats s = dg.stats("gossip").value();
  EXPECT_EQ(s.received, 3u);
  EXPECT_EQ(s.dropped_queue_full, 2u);
}

// Goal: deliver() is safe from other threads (the contract of a fake, as of the kernel).
TEST_F(FakeDatagramsTest, DeliverFromThreads) {
  ASSERT_TRUE(dg.bind("gossip", handler(), {.receive_queue_max = 10000}).ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < 100; ++i)
        EXPECT_TRUE(dg.deliver("gossip", "10.0.0.1:1", "x").ok());
    });
  }
  for (auto& t : threads)
    t.join();
  exec.run_until_idle();
  EXPECT_EQ(got.size(), 400u);
}

// Goal: after close() nothing queued is handled and the port can be bound again.
TEST_F(FakeDatagramsTest, CloseDropsQueuedAndFreesThePort) {
  ASSERT_TRUE(dg.bind("gossip", handler()).ok());
  ASSERT_TRUE(dg.deliver("gossip", "10.0.0.1:1", "x").ok());
  ASSERT_TRUE(dg.close("gossip").ok());
  exec.run_until_idle();
  EXPECT_TRUE(got.empty());
  EXPECT_TRUE(dg.bind("gossip", handler()).ok());
  dg.fail_sends(true);
  EXPECT_EQ(dg.send_to("gossip", "10.0.0.1:1", "x").code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(dg.stats("gossip").value().dropped_send, 1u);
}

}  // namespace
}  // namespace nodus::testing
