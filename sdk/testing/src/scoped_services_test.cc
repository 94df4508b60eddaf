// ScopedExecutor, ScopedTransport and ScopedEventBus (nodus/services/*.h) over the fakes: what
// a plugin registered through a view never runs after close(), which is what the kernel does
// at the plugin's stop(); also when close() races a task running on another thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "nodus/services/event_bus.h"
#include "nodus/services/executor.h"
#include "nodus/services/transport.h"
#include "nodus/testing/fake_transport.h"
#include "nodus/testing/manual_executor.h"

namespace nodus::testing {
namespace {

using std::chrono::milliseconds;

// A periodic timer as plugins write it: it schedules itself again each time it runs.
void every(Executor& exec, Duration period, std::atomic<int>* runs) {
  exec.schedule_after(period, [&exec, period, runs] {
    runs->fetch_add(1);
    every(exec, period, runs);
  });
}

// Tasks and timers run through an open view; after close() neither a pending timer, a
// periodic one, nor a task posted before close runs, and later posts are dropped.
TEST(ScopedExecutorTest, NothingRunsAfterClose) {
  ManualExecutor exec;
  ScopedExecutor scoped(exec);
  std::atomic<int> ticks{0};
  int posted = 0;
  every(scoped, milliseconds(100), &ticks);
  scoped.post([&] { ++posted; });
  exec.advance(milliseconds(250));
  EXPECT_EQ(ticks.load(), 2);
  EXPECT_EQ(posted, 1);

  scoped.post([&] { ++posted; });  // queued, not yet run
  bool late_timer = false;
  scoped.schedule_after(milliseconds(10), [&] { late_timer = true; });
  scoped.close();
  EXPECT_TRUE(scoped.closed());
  scoped.post([&] { ++posted; });
  const TimerId after = scoped.schedule_after(milliseconds(1), [&] { late_timer = true; });
  EXPECT_NE(after, kNoTimer);
  EXPECT_FALSE(scoped.cancel(after));
  exec.advance(std::chrono::seconds(10));
  EXPECT_EQ(ticks.load(), 2);
  EXPECT_EQ(posted, 1);
  EXPECT_FALSE(late_timer);
  EXPECT_EQ(exec.pending(), 0u);  // the periodic timer was cancelled, not left to fire
}

// cancel() works on the view's own ids and says whether it stopped the timer.
TEST(ScopedExecutorTest, CancelOwnTimers) {
  ManualExecutor exec;
  ScopedExecutor scoped(exec);
  bool fired = false;
  const TimerId t = scoped.schedule_after(milliseconds(5), [&] { fired = true; });
  EXPECT_TRUE(scoped.cancel(t));
  EXPECT_FALSE(scoped.cancel(t));
  exec.advance(milliseconds(10));
  EXPECT_FALSE(fired);
  const TimerId u = scoped.schedule_after(milliseconds(5), [&] { fired = true; });
  exec.advance(milliseconds(10));
  EXPECT_TRUE(fired);
  EXPECT_FALSE(scoped.cancel(u));  // already ran
  EXPECT_TRUE(scoped.in_executor());
}

// close() releases what the pending timers captured at once.
TEST(ScopedExecutorTest, CloseReleasesTimerClosures) {
  ManualExecutor exec;
  ScopedExecutor scoped(exec);
  auto owned = std::make_shared<int>(7);
  std::weak_ptr<int> watch = owned;
  scoped.schedule_after(std::chrono::hours(1), [owned] { (void)*owned; });
  owned.reset();
  EXPECT_FALSE(watch.expired());
  scoped.close();
  EXPECT_TRUE(watch.expired());
}

// close() from inside one of the view's own tasks lets that task finish (no deadlock) and
// stops everything after it.
TEST(ScopedExecutorTest, CloseFromOwnTask) {
  ManualExecutor exec;
  ScopedExecutor scoped(exec);
  int after_close = 0;
  int next = 0;
  scoped.post([&] {
    scoped.close();
    ++after_close;  // the rest of this task still runs
  });
  scoped.post([&] { ++next; });
  exec.run_until_idle();
  EXPECT_EQ(after_close, 1);
  EXPECT_EQ(next, 0);
}

// A task of the view running on the executor's thread while another thread closes the view:
// close() returns only after that task has returned.
TEST(ScopedExecutorTest, CloseWaitsForRunningTask) {
  ManualExecutor exec;
  ScopedExecutor scoped(exec);
  std::atomic<bool> started{false};
  std::atomic<bool> close_returned{false};
  std::atomic<bool> close_returned_while_running{true};
  scoped.post([&] {
    started = true;
    std::this_thread::sleep_for(milliseconds(100));  // close() is called meanwhile
    close_returned_while_running = close_returned.load();
  });
  std::thread driver([&] { exec.run_until_idle(); });
  while (!started)
    std::this_thread::yield();
  scoped.close();
  close_returned = true;
  driver.join();
  EXPECT_FALSE(close_returned_while_running.load());
}

// A periodic timer firing on the executor's thread while another thread closes the view:
// once close() has returned, the count never moves again.
TEST(ScopedExecutorTest, TimerRacingClose) {
  ManualExecutor exec;
  auto scoped = std::make_unique<ScopedExecutor>(exec);
  std::atomic<int> ticks{0};
  std::atomic<bool> stop_driving{false};
  std::atomic<bool> started{false};
  every(*scoped, milliseconds(1), &ticks);
  std::thread driver([&] {
    while (!stop_driving) {
      exec.advance(milliseconds(1));
      started = true;
    }
  });
  while (!started || ticks.load() < 5)
    std::this_thread::yield();
  scoped->close();
  const int at_close = ticks.load();
  std::this_thread::sleep_for(milliseconds(50));
  stop_driving = true;
  driver.join();
  EXPECT_EQ(ticks.load(), at_close);
  EXPECT_GE(at_close, 5);
}

// Handlers and call callbacks run through an open view; after close() a message is dropped,
// a call is answered UNAVAILABLE, an answer to the plugin's own call is discarded, new
// registrations fail, and the handlers' closures are released.
TEST(ScopedTransportTest, NothingRunsAfterClose) {
  ManualExecutor exec;
  FakeTransport net(0, {{1, "peer-1"}}, exec);
  ScopedTransport scoped(net);
  int messages = 0;
  int calls = 0;
  int answers = 0;
  auto owned = std::make_shared<int>(1);
  std::weak_ptr<int> watch = owned;
  ASSERT_TRUE(scoped.on_message("votes", [&, owned](PeerId, std::string) { ++messages; }).ok());
  ASSERT_TRUE(scoped
                  .on_call("echo",
                           [&](PeerId, std::string req, CallReply reply) {
                             ++calls;
                             reply(std::move(req));
                           })
                  .ok());
  owned.reset();
  EXPECT_EQ(scoped.self(), 0u);
  ASSERT_EQ(scoped.peers().size(), 1u);
  ASSERT_TRUE(net.deliver(1, "votes", "x").ok());
  exec.run_until_idle();
  EXPECT_EQ(messages, 1);
  auto reply = net.invoke(1, "echo", "hi");
  ASSERT_TRUE(reply.has_value() && reply->ok());
  EXPECT_EQ(**reply, "hi");
  scoped.call(1, "ping", "p", milliseconds(100), [&](Result<std::string>) { ++answers; });
  scoped.call(1, "ping", "q", milliseconds(100), [&](Result<std::string>) { ++answers; });
  ASSERT_TRUE(scoped.send(1, "votes", "y").ok());
  ASSERT_EQ(net.sent().size(), 1u);
  net.complete_call(0, std::string("pong"));
  exec.run_until_idle();
  EXPECT_EQ(answers, 1);

  ASSERT_TRUE(net.deliver(1, "votes", "queued before close").ok());  // not yet run
  scoped.close();
  EXPECT_TRUE(watch.expired());
  ASSERT_TRUE(net.deliver(1, "votes", "after close").ok());
  net.complete_call(1, std::string("late"));
  exec.run_until_idle();
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(answers, 1);
  reply = net.invoke(1, "echo", "hi");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(scoped.on_message("other", [](PeerId, std::string) {}).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(scoped.on_call("other", [](PeerId, std::string, CallReply) {}).code(),
            StatusCode::kFailedPrecondition);
}

// A minimal event bus that delivers synchronously, to drive ScopedEventBus.
class DirectBus final : public EventBus {
 public:
  void publish(std::string_view topic, std::string payload) override {
    auto copy = handlers_;
    for (auto& [id, entry] : copy) {
      if (entry.first == topic) entry.second(topic, payload);
    }
  }
  SubscriptionId subscribe(std::string topic, EventHandler handler) override {
    handlers_.emplace(next_, std::make_pair(std::move(topic), std::move(handler)));
    return next_++;
  }
  bool unsubscribe(SubscriptionId id) override { return handlers_.erase(id) > 0; }
  size_t size() const { return handlers_.size(); }

 private:
  SubscriptionId next_ = 1;
  std::map<SubscriptionId, std::pair<std::string, EventHandler>> handlers_;
};

// Subscriptions of a view deliver until close(), which removes them from the bus.
TEST(ScopedEventBusTest, SubscriptionsEndAtClose) {
  DirectBus bus;
  ScopedEventBus scoped(bus);
  int seen = 0;
  const SubscriptionId a =
      scoped.subscribe("t", [&](std::string_view, const std::string&) { ++seen; });
  scoped.subscribe("t", [&](std::string_view, const std::string&) { ++seen; });
  scoped.publish("t", "x");
  EXPECT_EQ(seen, 2);
  EXPECT_TRUE(scoped.unsubscribe(a));
  EXPECT_FALSE(scoped.unsubscribe(a));
  EXPECT_EQ(bus.size(), 1u);
  scoped.close();
  EXPECT_EQ(bus.size(), 0u);
  bus.publish("t", "y");
  scoped.subscribe("t", [&](std::string_view, const std::string&) { ++seen; });
  bus.publish("t", "z");
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(bus.size(), 0u);
}

}  // namespace
}  // namespace nodus::testing
