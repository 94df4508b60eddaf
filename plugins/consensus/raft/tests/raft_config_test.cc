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

Status validate(const std::string& yaml) {
  auto node = nodus::testing::parse_config_yaml(yaml);
  EXPECT_TRUE(node.ok()) << node.status().to_string();
  return validate_config(*node, raft_config_keys());
}

// The declared constraints (which the kernel checks before configure(), and `nodus plugins
// inspect` prints) refuse what the parser refuses for those keys, naming the key, and accept
// the edges of each range; the parser never accepts what they refuse.
TEST(RaftConfigTest, DeclaredConstraintsMatchTheParser) {
  ASSERT_TRUE(check_config_keys(raft_config_keys()).ok());
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"tick_ms: 0", "tick_ms: must be between 1 and 10000, got 0"},
      {"tick_ms: 10001", "tick_ms: must be between 1 and 10000, got 10001"},
      {"heartbeat_ms: 0", "heartbeat_ms: must be between 1 and 60000, got 0"},
      {"read_mode: eventually", "read_mode: must be one of read_index, lease, got 'eventually'"},
      {"fsync: sometimes", "fsync: must be one of always, batch, never, got 'sometimes'"},
      {"lease_clock_drift_ppm: -1", "lease_clock_drift_ppm: must be between 0 and 500000"},
      {"lease_clock_drift_ppm: 500001", "lease_clock_drift_ppm: must be between 0 and 500000"},
      {"max_inflight_msgs: 0", "max_inflight_msgs: must be between 1 and 1048576, got 0"},
      {"snapshot_entries: -1", "snapshot_entries: must be between 0 and 1099511627776"},
      {"propose_timeout_ms: 3600001", "propose_timeout_ms: must be between 1 and 3600000"},
      {"max_pending: 0", "max_pending: must be between 1 and 16777216, got 0"},
      {"voters: [0, x]", "voters[1]: expected an integer, got 'x'"},
      {"learners: [-2]", "learners[0]: must be at least 0, got -2"},
  };
  for (const auto& [yaml, message] : refused) {
    EXPECT_THAT(validate(yaml).message(), HasSubstr(message)) << yaml;
    EXPECT_FALSE(parse(yaml).ok()) << yaml;
  }
  for (const std::string yaml :
       {"tick_ms: 10000", "heartbeat_ms: 1", "heartbeat_ms: 60000", "read_mode: lease",
        "fsync: never", "lease_clock_drift_ppm: 0", "lease_clock_drift_ppm: 500000",
        "max_inflight_msgs: 1048576", "snapshot_entries: 0", "propose_timeout_ms: 3600000",
        "max_pending: 16777216", "voters: [0, 1]", "learners: []"}) {
    EXPECT_TRUE(validate(yaml).ok()) << yaml << ": " << validate(yaml).message();
  }
}

}  // namespace
}  // namespace nodus::raft
