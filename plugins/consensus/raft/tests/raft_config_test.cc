// Unit tests of the plugin's config section: defaults, derived ticks, errors naming the key.
#include "raft_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nodus/harness/test_node.h"

namespace nodus::raft {
namespace {

using ::testing::HasSubstr;

Result<RaftConfig> parse(const std::string& yaml, uint32_t instances = 3) {
  auto node = nodus::testing::parse_config_yaml(yaml);
  EXPECT_TRUE(node.ok()) << node.status().to_string();
  return parse_raft_config(*node, instances);
}

// Defaults: every instance votes, batch fsync, 150-300 ms elections in 10 ms ticks.
TEST(RaftConfigTest, Defaults) {
  auto cfg = parse("{}");
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->voters, std::vector<PeerId>({0, 1, 2}));
  EXPECT_TRUE(cfg->learners.empty());
  EXPECT_EQ(cfg->fsync, FsyncMode::kBatch);
  EXPECT_EQ(cfg->election_ticks(), 15u);
  EXPECT_EQ(cfg->heartbeat_ticks(), 5u);
  EXPECT_EQ(raft_config_keys().size(), 19u);
  EXPECT_EQ(cfg->lease_clock_drift_ppm, 50'000u);
  EXPECT_EQ(cfg->max_pending, 65536u);
}

// max_pending is bounded on both sides and names the key when wrong.
TEST(RaftConfigTest, MaxPendingRange) {
  auto cfg = parse("max_pending: 2\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->max_pending, 2u);
  auto zero = parse("max_pending: 0\n");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.status().message().find("max_pending"), std::string::npos)
      << zero.status().to_string();
}

// Values are parsed; a number election timeout means [n, 2n].
TEST(RaftConfigTest, Values) {
  auto cfg = parse(
      "election_timeout_ms: 400\nheartbeat_ms: 100\ntick_ms: 20\nfsync: never\n"
      "read_mode: lease\nvoters: [0, 1]\nlearners: [2]\nsnapshot_chunk_bytes: 64KiB\n"
      "lease_clock_drift_ppm: 200000\n");
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(cfg->election_timeout_max_ms, 800u);
  EXPECT_EQ(cfg->election_ticks(), 20u);
  EXPECT_EQ(cfg->heartbeat_ticks(), 5u);
  EXPECT_EQ(cfg->fsync, FsyncMode::kNever);
  EXPECT_EQ(cfg->read_mode, ReadMode::kLease);
  EXPECT_EQ(cfg->lease_clock_drift_ppm, 200'000u);
  EXPECT_EQ(cfg->learners, std::vector<PeerId>({2}));
  EXPECT_EQ(cfg->snapshot_chunk_bytes, 64u * 1024);
}

// Every bad value is an error that names its key.
TEST(RaftConfigTest, ErrorsNameTheKey) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"election_timeout_ms: [300, 100]", "election_timeout_ms"},
      {"election_timeout_ms: [1, 2, 3]", "election_timeout_ms"},
      {"heartbeat_ms: 200", "heartbeat_ms"},
      {"fsync: sometimes", "fsync"},
      {"read_mode: lease\ncheck_quorum: false", "read_mode"},
      {"read_mode: eventually", "read_mode"},
      {"lease_clock_drift_ppm: 1000000", "lease_clock_drift_ppm"},
      {"voters: [0, 7]", "voters"},
      {"voters: [0, 0]", "voters"},
      {"voters: [0, 1]\nlearners: [1]", "learners"},
      {"max_inflight_msgs: 0", "max_inflight_msgs"},
      {"propose_timeout_ms: -5", "propose_timeout_ms"},
  };
  for (const auto& [yaml, key] : cases) {
    auto cfg = parse(yaml);
    ASSERT_FALSE(cfg.ok()) << yaml;
    EXPECT_THAT(cfg.status().to_string(), HasSubstr(key)) << yaml;
  }
}

}  // namespace
}  // namespace nodus::raft
