// Unit tests of the simulation core: event order, crashes, clock skew, slow disk, links.
#include "nodus/testing/sim_world.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nodus/testing/memory_storage.h"
#include "nodus/testing/sim_checkers.h"
#include "nodus/testing/sim_network.h"
#include "nodus/testing/sim_seeds.h"

namespace nodus::testing {
namespace {

using std::chrono::milliseconds;

// Goal: events run in (time, sequence) order and a cancelled timer never runs.
TEST(SimWorld, OrderAndCancel) {
  SimWorld world(1);
  SimExecutor exec(world, world.add_node());
  std::string order;
  exec.schedule_after(milliseconds(2), [&] { order += "c"; });
  exec.post([&] { order += "a"; });
  const TimerId gone = exec.schedule_after(milliseconds(1), [&] { order += "x"; });
  exec.schedule_after(milliseconds(1), [&] { order += "b"; });
  EXPECT_TRUE(exec.cancel(gone));
  world.run_until(TimePoint(milliseconds(10)));
  EXPECT_EQ(order, "abc");
  EXPECT_FALSE(exec.cancel(gone));
}

// Goal: a crash voids the node's queued events; the world's own events still run.
TEST(SimWorld, CrashVoidsQueuedWork) {
  SimWorld world(1);
  const SimNodeId n = world.add_node();
  SimExecutor exec(world, n);
  int ran = 0;
  exec.schedule_after(milliseconds(5), [&] { ++ran; });
  world.schedule(TimePoint(milliseconds(1)), kWorldNode, SimEventKind::kWorld, 0,
                 [&] { world.kill(n); });
  world.run_until(TimePoint(milliseconds(10)));
  EXPECT_EQ(ran, 0);
  world.revive(n);
  exec.post([&] { ++ran; });
  world.run_until(TimePoint(milliseconds(20)));
  EXPECT_EQ(ran, 1);
}

// Goal: drift and jumps change the node's clock and its timers, never backwards.
TEST(SimWorld, ClockSkewAndJumps) {
  SimWorld world(1);
  SimExecutor exec(world, world.add_node());
  exec.set_drift_ppm(100'000);  // 10% fast
  world.run_until(TimePoint(milliseconds(100)));
  EXPECT_EQ(exec.now().time_since_epoch(), milliseconds(110));
  const int64_t wall = exec.wall_time_ns();
  exec.jump(milliseconds(-50));  // monotonic clock stays, wall clock goes back
  EXPECT_EQ(exec.now().time_since_epoch(), milliseconds(110));
  EXPECT_EQ(exec.wall_time_ns(), wall - 50'000'000);
  exec.jump(milliseconds(40));
  EXPECT_EQ(exec.now().time_since_epoch(), milliseconds(150));
}

// Goal: a charged (slow-disk) node runs nothing until it is free, and its clock shows it.
TEST(SimWorld, SlowDiskDelaysTheNode) {
  SimWorld world(1);
  const SimNodeId n = world.add_node();
  SimExecutor exec(world, n);
  TimePoint ran_at{};
  exec.post([&] {
    world.charge(n, milliseconds(30));
    EXPECT_EQ(exec.now().time_since_epoch(), milliseconds(30));
  });
  exec.schedule_after(milliseconds(1), [&] { ran_at = world.now(); });
  world.run_until(TimePoint(milliseconds(100)));
  EXPECT_EQ(ran_at.time_since_epoch(), milliseconds(30));
}

// Goal: links drop, cut one way, and keep FIFO order without reordering.
TEST(SimNetwork, LinkRules) {
  SimWorld world(3);
  world.add_node();
  world.add_node();
  SimExecutor e0(world, 0), e1(world, 1);
  SimNetwork net(world, 2, LinkFaults{}, 1024);
  std::vector<std::string> got0, got1;
  ASSERT_TRUE(
      net.transport(1).on_message("m", [&](PeerId, std::string p) { got1.push_back(p); }).ok());
  ASSERT_TRUE(
      net.transport(0).on_message("m", [&](PeerId, std::string p) { got0.push_back(p); }).ok());
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(net.transport(0).send(1, "m", std::to_string(i)).ok());
  net.block(1, 0);  // one way
  ASSERT_TRUE(net.transport(1).send(0, "m", "lost").ok());
  world.run_until(TimePoint(milliseconds(100)));
  ASSERT_EQ(got1.size(), 50u);
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(got1[static_cast<size_t>(i)], std::to_string(i));
  EXPECT_TRUE(got0.empty());
  EXPECT_EQ(net.transport(0).send(1, "m", std::string(2000, 'x')).code(),
            StatusCode::kInvalidArgument);
  net.heal();
  net.set_all(LinkFaults{1.0, 0, 0});  // drop everything
  ASSERT_TRUE(net.transport(0).send(1, "m", "dropped").ok());
  world.run_until(TimePoint(milliseconds(200)));
  EXPECT_EQ(got1.size(), 50u);
  EXPECT_EQ(net.stats().dropped, 2u);
}

// Goal: the convergence and at-most-one checkers report what differs.
TEST(SimCheckers, ConvergenceAndAtMostOne) {
  EXPECT_TRUE(check_convergence({{0, "a"}, {1, "a"}}).ok());
  const Status st = check_convergence({{0, "a"}, {1, "b"}, {2, "a"}});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("{0,2}=a"), std::string::npos) << st.to_string();
  EXPECT_TRUE(check_at_most_one("signer", 3, [](SimNodeId n) { return n == 1; }).ok());
  EXPECT_FALSE(check_at_most_one("signer", 3, [](SimNodeId n) { return n != 1; }).ok());
  EXPECT_FALSE(check_no_lost_writes({"a", "b"}, {"a"}).ok());
}

// Goal: the replay line names the seed and the command.
TEST(SimSeeds, ReplayCommand) {
  const std::string line = replay_command(42, "Suite.Test");
  EXPECT_NE(line.find("seed=42 replay: NODUS_SIM_SEED=42 "), std::string::npos) << line;
  EXPECT_NE(line.find("--gtest_filter=Suite.Test"), std::string::npos) << line;
}

// Goal: a MemoryStorage log emptied past its end restarts at the requested index (a Raft log
// after a snapshot install), and mark_synced makes exactly the covered records survive a crash.
TEST(MemoryStorage, PrefixPastEndAndPartialSync) {
  MemoryStorage disk;
  auto log = disk.open_log("raft").value();
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(log->append("r").ok());
  ASSERT_TRUE(log->truncate_prefix(11).ok());
  EXPECT_EQ(log->first_index(), 11u);
  EXPECT_EQ(log->last_index(), 10u);
  EXPECT_EQ(log->append("a").value(), 11u);
  EXPECT_EQ(log->append("b").value(), 12u);
  EXPECT_EQ(log->append("c").value(), 13u);
  disk.mark_synced("raft", 12);
  EXPECT_EQ(log->synced_index(), 12u);
  disk.crash();
  EXPECT_EQ(log->last_index(), 12u);
  EXPECT_EQ(log->read(12).value(), "b");
}

}  // namespace
}  // namespace nodus::testing
