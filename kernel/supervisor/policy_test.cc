#include "kernel/supervisor/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kernel/config/yaml_loader.h"

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;

SupervisorPolicy parse(const std::string& yaml) {
  auto root = load_yaml_string(yaml, "test.yaml");
  EXPECT_TRUE(root.ok()) << root.status().message();
  auto policy = parse_supervisor_policy(root->at("supervisor"));
  EXPECT_TRUE(policy.ok()) << policy.status().message();
  return policy.ok() ? *policy : SupervisorPolicy{};
}

// Goal: every key of the supervisor section reaches the typed policy.
TEST(SupervisorPolicyTest, ParsesEveryKey) {
  SupervisorPolicy p = parse(
      "supervisor: {restart: always, backoff_ms: {initial: 7, max: 70}, stop_timeout_ms: 300,"
      " heartbeat_ms: 50, heartbeat_timeout_ms: 400, hang_timeout_ms: 900,"
      " crash_loop: {deaths: 4, window_s: 9}, essential: yes}\n");
  EXPECT_EQ(p.restart, RestartMode::kAlways);
  EXPECT_EQ(p.backoff_initial_ms, 7u);
  EXPECT_EQ(p.backoff_max_ms, 70u);
  EXPECT_EQ(p.stop_timeout_ms, 300u);
  EXPECT_EQ(p.heartbeat_ms, 50u);
  EXPECT_EQ(p.heartbeat_timeout_ms, 400u);
  EXPECT_EQ(p.heartbeat_deadline_ms(), 400u);
  EXPECT_EQ(p.hang_timeout_ms, 900u);
  EXPECT_EQ(p.crash_loop_deaths, 4u);
  EXPECT_EQ(p.crash_loop_window_s, 9u);
  EXPECT_TRUE(p.essential);
}

// Goal: without heartbeat_timeout_ms, missed heartbeats mean 10 periods and at least 5 s, so
// a starved machine does not restart its own members; a hang is 30 s without progress.
TEST(SupervisorPolicyTest, HealthTimeoutDefaults) {
  EXPECT_EQ(parse("supervisor: {heartbeat_ms: 50}\n").heartbeat_deadline_ms(), 5000u);
  EXPECT_EQ(parse("supervisor: {heartbeat_ms: 2000}\n").heartbeat_deadline_ms(), 20000u);
  EXPECT_EQ(parse("supervisor: {heartbeat_ms: 50}\n").hang_timeout_ms, 30000u);
}

// Goal: a heartbeat timeout shorter than two periods is refused at its key.
TEST(SupervisorPolicyTest, HeartbeatTimeoutBelowTwoPeriodsNamesKey) {
  auto root =
      load_yaml_string("supervisor: {heartbeat_ms: 100, heartbeat_timeout_ms: 150}\n", "p.yaml");
  ASSERT_TRUE(root.ok());
  auto p = parse_supervisor_policy(root->at("supervisor"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("heartbeat_timeout_ms"));
  EXPECT_THAT(p.status().message(), HasSubstr("at least 2 * heartbeat_ms"));
}

// Goal: an absent section means the documented defaults.
TEST(SupervisorPolicyTest, AbsentSectionGivesDefaults) {
  auto p = parse_supervisor_policy(ConfigNode());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->restart, RestartMode::kOnFailure);
  EXPECT_EQ(p->backoff_initial_ms, 100u);
  EXPECT_FALSE(p->essential);
}

// Goal: a bad restart mode is an error that names the key and its position.
TEST(SupervisorPolicyTest, BadRestartModeNamesKey) {
  auto root = load_yaml_string("supervisor: {restart: sometimes}\n", "p.yaml");
  ASSERT_TRUE(root.ok());
  auto p = parse_supervisor_policy(root->at("supervisor"));
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("restart"));
  EXPECT_THAT(p.status().message(), HasSubstr("sometimes"));
}

// Goal: the restart decision follows always / on-failure / never.
TEST(SupervisorPolicyTest, ShouldRestartFollowsMode) {
  SupervisorPolicy p;
  p.restart = RestartMode::kAlways;
  EXPECT_TRUE(p.should_restart(false));
  p.restart = RestartMode::kOnFailure;
  EXPECT_TRUE(p.should_restart(true));
  EXPECT_FALSE(p.should_restart(false));
  p.restart = RestartMode::kNever;
  EXPECT_FALSE(p.should_restart(true));
}

// Goal: the backoff doubles per attempt up to the cap, and jitter stays within [d/2, d].
TEST(BackoffTest, DoublesCapsAndJitters) {
  Backoff b(100, 1000);
  EXPECT_EQ(b.nominal_ms(1), 100u);
  EXPECT_EQ(b.nominal_ms(2), 200u);
  EXPECT_EQ(b.nominal_ms(4), 800u);
  EXPECT_EQ(b.nominal_ms(5), 1000u);
  EXPECT_EQ(b.nominal_ms(60), 1000u);
  std::mt19937_64 rng(42);
  bool varied = false;
  uint32_t first = b.delay_ms(3, rng);
  for (int i = 0; i < 200; ++i) {
    const uint32_t d = b.delay_ms(3, rng);
    EXPECT_GE(d, 200u);
    EXPECT_LE(d, 400u);
    varied = varied || d != first;
  }
  EXPECT_TRUE(varied);
}

// Goal: the breaker trips on N deaths within the window, and old deaths fall out of it.
TEST(CrashLoopBreakerTest, TripsOnlyWithinWindow) {
  using std::chrono::seconds;
  CrashLoopBreaker breaker(3, 10);
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);
  EXPECT_FALSE(breaker.record_death(t0));
  EXPECT_FALSE(breaker.record_death(t0 + seconds(1)));
  EXPECT_FALSE(breaker.record_death(t0 + seconds(20)));  // the first two are outside now
  EXPECT_FALSE(breaker.record_death(t0 + seconds(21)));
  EXPECT_TRUE(breaker.record_death(t0 + seconds(22)));
  breaker.reset();
  EXPECT_FALSE(breaker.record_death(t0 + seconds(23)));
}

}  // namespace
}  // namespace nodus::kernel
