#include "kernel/runtime/event_bus.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "kernel/runtime/executor.h"

namespace nodus::kernel {
namespace {

constexpr auto kWaitTimeout = std::chrono::seconds(5);

class LocalEventBusTest : public ::testing::Test {
 protected:
  void SetUp() override { exec_.start(); }
  // Waits until every task posted so far has run.
  void drain() {
    ASSERT_TRUE(exec_.run_sync([] {}, kWaitTimeout).ok());
  }

  AsioExecutor exec_{"bus-test"};
  LocalEventBus bus_{exec_};
  std::vector<std::string> seen_;  // touched only on the executor
};

// Exact and prefix subscriptions receive matching topics only, on the executor, in order.
TEST_F(LocalEventBusTest, DeliversToExactAndPrefixSubscribers) {
  bus_.subscribe("node.ready", [&](std::string_view t, const std::string& p) {
    EXPECT_TRUE(exec_.in_executor());
    seen_.push_back("exact " + std::string(t) + " " + p);
  });
  bus_.subscribe("node.*", [&](std::string_view t, const std::string& p) {
    seen_.push_back("prefix " + std::string(t) + " " + p);
  });
  bus_.subscribe("io.x.*", [&](std::string_view t, const std::string&) {
    seen_.push_back("io " + std::string(t));
  });
  bus_.publish("node.ready", "1");
  bus_.publish("node.role", "leader");
  bus_.publish("io.x", "no match: a prefix needs something after the dot");
  bus_.publish("io.x.a.b", "");
  bus_.publish("other", "");
  drain();
  EXPECT_EQ(seen_, (std::vector<std::string>{"exact node.ready 1", "prefix node.ready 1",
                                             "prefix node.role leader", "io io.x.a.b"}));
}

// publish() never runs a handler inline, even when called on the executor thread.
TEST_F(LocalEventBusTest, NeverDeliversInline) {
  bool delivered = false;
  bus_.subscribe("t", [&](std::string_view, const std::string&) { delivered = true; });
  bool delivered_during_publish = true;
  ASSERT_TRUE(exec_
                  .run_sync(
                      [&] {
                        bus_.publish("t", "");
                        delivered_during_publish = delivered;
                      },
                      kWaitTimeout)
                  .ok());
  drain();
  EXPECT_FALSE(delivered_during_publish);
  EXPECT_TRUE(delivered);
}

// Unsubscribing (also from inside another handler) stops delivery of already-queued events.
TEST_F(LocalEventBusTest, UnsubscribeDuringDeliveryIsSafe) {
  SubscriptionId second = 0;
  int first_calls = 0;
  int second_calls = 0;
  bus_.subscribe("t", [&](std::string_view, const std::string&) {
    ++first_calls;
    bus_.unsubscribe(second);
  });
  second = bus_.subscribe("t", [&](std::string_view, const std::string&) { ++second_calls; });
  bus_.publish("t", "a");
  bus_.publish("t", "b");
  drain();
  EXPECT_EQ(first_calls, 2);
  EXPECT_EQ(second_calls, 0);
  EXPECT_FALSE(bus_.unsubscribe(second));
  EXPECT_EQ(bus_.subscription_count(), 1u);
}

// Publishing from many threads loses nothing and each publisher's events arrive in order.
TEST_F(LocalEventBusTest, ConcurrentPublishers) {
  std::vector<std::vector<int>> per_thread(4);
  bus_.subscribe("*", [&](std::string_view t, const std::string& p) {
    per_thread[static_cast<size_t>(t.back() - '0')].push_back(std::stoi(p));
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 500; ++i)
        bus_.publish("pub." + std::to_string(t), std::to_string(i));
    });
  }
  for (auto& t : threads)
    t.join();
  drain();
  for (const auto& events : per_thread) {
    ASSERT_EQ(events.size(), 500u);
    for (int i = 0; i < 500; ++i)
      EXPECT_EQ(events[static_cast<size_t>(i)], i);
  }
}

}  // namespace
}  // namespace nodus::kernel
