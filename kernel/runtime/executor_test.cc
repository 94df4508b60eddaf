#include "kernel/runtime/executor.h"

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nodus::kernel {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

// Bounded wait for work done on another thread.
constexpr auto kWaitTimeout = std::chrono::seconds(5);

// Posted tasks run on the executor's own thread, one at a time, in posting order.
TEST(AsioExecutorTest, RunsPostedTasksInOrderOnItsThread) {
  AsioExecutor exec("exec-test");
  exec.start();
  std::vector<int> seen;
  std::promise<void> done;
  std::thread::id loop_thread;
  for (int i = 0; i < 100; ++i)
    exec.post([&seen, i] { seen.push_back(i); });
  exec.post([&] {
    loop_thread = std::this_thread::get_id();
    EXPECT_TRUE(exec.in_executor());
    done.set_value();
  });
  ASSERT_EQ(done.get_future().wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_FALSE(exec.in_executor());
  EXPECT_NE(loop_thread, std::this_thread::get_id());
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(seen[static_cast<size_t>(i)], i);
}

// The loop thread carries the executor's name, truncated to the 15-character Linux limit.
TEST(AsioExecutorTest, NamesItsThread) {
  AsioExecutor exec("a-very-long-executor-name");
  exec.start();
  std::string name;
  ASSERT_TRUE(exec.run_sync(
                      [&] {
                        char buf[32] = {};
                        pthread_getname_np(pthread_self(), buf, sizeof(buf));
                        name = buf;
                      },
                      kWaitTimeout)
                  .ok());
  EXPECT_EQ(name, "a-very-long-exe");
}

// Timers fire after their delay, in expiry order, with ids that start at 1 and increase.
TEST(AsioExecutorTest, TimersFireInExpiryOrder) {
  AsioExecutor exec("timers");
  exec.start();
  std::vector<int> order;
  std::promise<void> done;
  const auto started = std::chrono::steady_clock::now();
  const TimerId late = exec.schedule_after(milliseconds(40), [&] {
    order.push_back(2);
    done.set_value();
  });
  const TimerId early = exec.schedule_after(milliseconds(10), [&] { order.push_back(1); });
  EXPECT_EQ(late, 1u);
  EXPECT_EQ(early, 2u);
  ASSERT_EQ(done.get_future().wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(40));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(exec.pending_timers(), 0u);
}

// A cancelled timer never runs; cancelling again, or after it fired, returns false.
TEST(AsioExecutorTest, CancelPreventsTheCallback) {
  AsioExecutor exec("cancel");
  exec.start();
  std::atomic<bool> cancelled_ran{false};
  const TimerId doomed = exec.schedule_after(milliseconds(20), [&] { cancelled_ran = true; });
  EXPECT_TRUE(exec.cancel(doomed));
  EXPECT_FALSE(exec.cancel(doomed));
  EXPECT_FALSE(exec.cancel(12345));
  std::promise<void> fired;
  const TimerId later = exec.schedule_after(milliseconds(60), [&] { fired.set_value(); });
  ASSERT_EQ(fired.get_future().wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_FALSE(cancelled_ran.load());
  ASSERT_TRUE(exec.run_sync([] {}, kWaitTimeout).ok());
  EXPECT_FALSE(exec.cancel(later));
}

// Cancelling from a task on the executor works too, including a timer already expired.
TEST(AsioExecutorTest, CancelFromInsideTheLoop) {
  AsioExecutor exec("cancel-in");
  exec.start();
  std::atomic<bool> ran{false};
  bool cancelled = false;
  ASSERT_TRUE(exec.run_sync(
                      [&] {
                        const TimerId t = exec.schedule_after(milliseconds(0), [&] { ran = true; });
                        std::this_thread::sleep_for(milliseconds(5));  // let it expire
                        cancelled = exec.cancel(t);
                      },
                      kWaitTimeout)
                  .ok());
  ASSERT_TRUE(exec.run_sync([] {}, kWaitTimeout).ok());
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(ran.load());
}

// A throwing task is reported through the error handler and the loop keeps running.
TEST(AsioExecutorTest, ExceptionsAreReportedAndTheLoopSurvives) {
  AsioExecutor exec("throwing");
  std::promise<std::string> error;
  exec.set_error_handler([&](std::string e) { error.set_value(std::move(e)); });
  exec.start();
  exec.post([] { throw std::runtime_error("boom"); });
  auto f = error.get_future();
  ASSERT_EQ(f.wait_for(kWaitTimeout), std::future_status::ready);
  EXPECT_THAT(f.get(), HasSubstr("boom"));
  bool ran = false;
  EXPECT_TRUE(exec.run_sync([&] { ran = true; }, kWaitTimeout).ok());
  EXPECT_TRUE(ran);
}

// run_sync reports a slow task as DEADLINE_EXCEEDED, a throwing one as INTERNAL, and runs
// inline (no deadlock) when called on the executor itself.
TEST(AsioExecutorTest, RunSyncStatuses) {
  AsioExecutor exec("sync");
  EXPECT_EQ(exec.run_sync([] {}, kWaitTimeout).code(), StatusCode::kUnavailable);
  exec.start();
  std::promise<void> release;
  auto released = release.get_future().share();
  Status slow = exec.run_sync([released] { released.wait_for(kWaitTimeout); }, milliseconds(20));
  EXPECT_EQ(slow.code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(slow.message(), HasSubstr("sync"));
  release.set_value();
  Status thrown = exec.run_sync([] { throw std::runtime_error("bad"); }, kWaitTimeout);
  EXPECT_EQ(thrown.code(), StatusCode::kInternal);
  EXPECT_THAT(thrown.message(), HasSubstr("bad"));
  Status nested =
      exec.run_sync([&] { EXPECT_TRUE(exec.run_sync([] {}, milliseconds(1)).ok()); }, kWaitTimeout);
  EXPECT_TRUE(nested.ok());
}

// stop() returns promptly, drops pending timers and queued tasks, and later posts are ignored.
TEST(AsioExecutorTest, StopDropsPendingWork) {
  AsioExecutor exec("stop");
  exec.start();
  std::atomic<int> ran{0};
  exec.schedule_after(std::chrono::seconds(30), [&] { ++ran; });
  std::promise<void> entered;
  std::promise<void> release;
  exec.post([&] {
    entered.set_value();
    release.get_future().wait_for(kWaitTimeout);
  });
  for (int i = 0; i < 10; ++i)
    exec.post([&] { ++ran; });
  ASSERT_EQ(entered.get_future().wait_for(kWaitTimeout), std::future_status::ready);
  std::thread stopper([&] { exec.stop(); });
  std::this_thread::sleep_for(milliseconds(10));  // stop() is now waiting for the task
  release.set_value();
  const auto started = std::chrono::steady_clock::now();
  stopper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_FALSE(exec.running());
  exec.post([&] { ++ran; });
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(exec.pending_timers(), 0u);
}

// The steady clock moves forward and wall time is near the system clock.
TEST(SteadyClockTest, MonotonicAndWallTime) {
  SteadyClock clock;
  const TimePoint a = clock.now();
  const TimePoint b = clock.now();
  EXPECT_LE(a, b);
  const int64_t sys_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  EXPECT_LT(std::abs(clock.wall_time_ns() - sys_ns), int64_t{1'000'000'000});
}

}  // namespace
}  // namespace nodus::kernel
