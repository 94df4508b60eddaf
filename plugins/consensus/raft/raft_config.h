// raft/raft_config.h: the config section of io.nodus.consensus.raft, parsed and checked.
//
// Times are given in milliseconds and turned into ticks of `tick_ms` for the core; every bad
// value is a ConfigNode error naming the key.
//
//   NODUS_ASSIGN_OR_RETURN(RaftConfig cfg, parse_raft_config(section, ctx.instance().instances));
#pragma once

#include <cstdint>
#include <vector>

#include "core/raft_core.h"
#include "nodus/config.h"
#include "raft_storage.h"

namespace nodus::raft {

struct RaftConfig {
  uint32_t election_timeout_min_ms = 150;
  uint32_t election_timeout_max_ms = 300;
  uint32_t heartbeat_ms = 50;
  uint32_t tick_ms = 10;
  bool pre_vote = true;
  bool check_quorum = true;
  ReadMode read_mode = ReadMode::kReadIndex;
  uint32_t lease_clock_drift_ppm = 50'000;
  FsyncMode fsync = FsyncMode::kBatch;
  uint32_t max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = uint64_t{64} << 20;
  uint64_t max_msg_bytes = uint64_t{1} << 20;
  uint64_t max_uncommitted_bytes = uint64_t{256} << 20;
  uint64_t snapshot_entries = 10000;  // 0: never by count
  uint64_t snapshot_bytes = 0;        // 0: never by size
  uint64_t snapshot_chunk_bytes = uint64_t{256} << 10;
  std::vector<PeerId> voters;  // empty in the section: every instance
  std::vector<PeerId> learners;
  uint32_t propose_timeout_ms = 5000;
  // Callbacks waiting for an answer (proposals, forwards, reads, membership changes) at most.
  uint64_t max_pending = 65536;

  uint32_t election_ticks() const;
  uint32_t heartbeat_ticks() const;
};

// The declared keys (types, defaults and descriptions) for the plugin descriptor.
std::vector<ConfigKeySpec> raft_config_keys();

Result<RaftConfig> parse_raft_config(const ConfigNode& section, uint32_t instances);

}  // namespace nodus::raft
