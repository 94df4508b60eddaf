// The fakes keep Executor's contract: post() from any thread, in_executor() only on the thread
// that runs the tasks. Nothing here waits on time: threads are joined before results count.
#include "nodus/testing/manual_executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "nodus/testing/sim_world.h"

namespace nodus::testing {
namespace {

constexpr int kThreads = 4;
constexpr int kPostsPerThread = 500;

// What every posted task records: how often it ran, and whether it ran where it should.
struct Tally {
  std::vector<std::atomic<int>> runs = std::vector<std::atomic<int>>(kThreads * kPostsPerThread);
  std::atomic<int> off_driver{0};       // ran on a thread other than the driver
  std::atomic<int> not_in_executor{0};  // in_executor() was false inside the task
};

// Posts kPostsPerThread tasks from each of kThreads threads; each task checks its thread.
void post_from_threads(Executor& exec, Tally& tally, std::thread::id driver) {
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPostsPerThread; ++i) {
        exec.post([&tally, &exec, driver, slot = t * kPostsPerThread + i] {
          tally.runs[slot].fetch_add(1);
          if (std::this_thread::get_id() != driver) tally.off_driver.fetch_add(1);
          if (!exec.in_executor()) tally.not_in_executor.fetch_add(1);
        });
      }
    });
  }
  for (auto& th : threads)
    th.join();
}

void expect_each_ran_once_on_driver(const Tally& tally) {
  for (size_t i = 0; i < tally.runs.size(); ++i)
    ASSERT_EQ(tally.runs[i].load(), 1) << "task " << i;
  EXPECT_EQ(tally.off_driver.load(), 0);
  EXPECT_EQ(tally.not_in_executor.load(), 0);
}

// Goal: posts from several threads all run, exactly once, on the driving thread.
TEST(ManualExecutorContract, PostsFromManyThreadsRunOnceOnTheDriver) {
  ManualExecutor exec;
  Tally tally;
  post_from_threads(exec, tally, std::this_thread::get_id());
  EXPECT_EQ(exec.pending(), size_t{kThreads * kPostsPerThread});
  EXPECT_EQ(exec.run_until_idle(), size_t{kThreads * kPostsPerThread});
  expect_each_ran_once_on_driver(tally);
  EXPECT_EQ(exec.pending(), 0u);
}

// Goal: posts that arrive while the driver is running tasks are neither lost nor run twice.
TEST(ManualExecutorContract, PostsWhileTheDriverRuns) {
  ManualExecutor exec;
  Tally tally;
  std::atomic<bool> posted{false};
  const std::thread::id driver = std::this_thread::get_id();
  std::thread poster([&] {
    post_from_threads(exec, tally, driver);
    posted = true;
  });
  size_t ran = 0;
  while (!posted.load())
    ran += exec.run_until_idle();
  poster.join();
  ran += exec.run_until_idle();
  EXPECT_EQ(ran, size_t{kThreads * kPostsPerThread});
  expect_each_ran_once_on_driver(tally);
}

// Goal: in_executor() is true on the driving thread only, and follows the driver.
TEST(ManualExecutorContract, InExecutorOnlyOnTheDrivingThread) {
  ManualExecutor exec;
  EXPECT_TRUE(exec.in_executor());  // the builder drives it until someone else does
  bool other = true;
  std::thread([&] { other = exec.in_executor(); }).join();
  EXPECT_FALSE(other);

  // Another thread drives it now: tasks run there, and this thread is no longer "in" it.
  bool inside = false;
  std::thread::id ran_on;
  exec.post([&] {
    inside = exec.in_executor();
    ran_on = std::this_thread::get_id();
  });
  std::thread::id driver;
  std::thread([&] {
    driver = std::this_thread::get_id();
    exec.run_until_idle();
  }).join();
  EXPECT_TRUE(inside);
  EXPECT_EQ(ran_on, driver);
  EXPECT_FALSE(exec.in_executor());
}

// Goal: the driver's own posts and timers keep a fixed order, whatever other threads post.
TEST(ManualExecutorContract, DriverPostsKeepTheirOrder) {
  ManualExecutor exec;
  std::vector<int> order;
  exec.schedule_after(std::chrono::milliseconds(1), [&] { order.push_back(3); });
  exec.post([&] {
    order.push_back(1);
    exec.post([&] { order.push_back(2); });
  });
  std::thread([&] { exec.post([] {}); }).join();  // from another thread: waits in the inbox
  exec.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

// Goal: the simulator's executor keeps the same contract: posts from other threads run once,
// on the thread that steps the world, and in_executor() is false elsewhere.
TEST(SimExecutorContract, PostsFromManyThreadsRunOnceOnTheDriver) {
  SimWorld world(7);
  const SimNodeId node = world.add_node();
  SimExecutor exec(world, node);
  EXPECT_TRUE(exec.in_executor());
  bool other = true;
  std::thread([&] { other = exec.in_executor(); }).join();
  EXPECT_FALSE(other);

  Tally tally;
  post_from_threads(exec, tally, std::this_thread::get_id());
  EXPECT_EQ(world.pending(), size_t{kThreads * kPostsPerThread});
  world.run_until(world.now() + std::chrono::milliseconds(1));
  expect_each_ran_once_on_driver(tally);
  EXPECT_EQ(world.events_run(), uint64_t{kThreads * kPostsPerThread});
}

}  // namespace
}  // namespace nodus::testing
