#include "raft_config.h"

#include <algorithm>
#include <set>
#include <string>

namespace nodus::raft {
namespace {

// Upper bounds of the integer keys, shared by the declared ranges (checked by the kernel, and
// shown by `nodus plugins inspect`) and the parser below, so the two cannot drift apart.
constexpr int64_t kMaxTickMs = 10'000;
constexpr int64_t kMaxHeartbeatMs = 60'000;
constexpr int64_t kMaxDriftPpm = 500'000;
constexpr int64_t kMaxInflightMsgs = int64_t{1} << 20;
constexpr int64_t kMaxSnapshotEntries = int64_t{1} << 40;
constexpr int64_t kMaxProposeTimeoutMs = 3'600'000;
constexpr int64_t kMaxPending = int64_t{1} << 24;

// An integer key within [lo, hi], or the fallback when absent.
Result<uint64_t> get_ranged(const ConfigNode& c, std::string_view key, uint64_t fallback,
                            uint64_t lo, uint64_t hi) {
  if (!c.has(key)) return fallback;
  NODUS_ASSIGN_OR_RETURN(int64_t v, c.get_int(key, static_cast<int64_t>(fallback)));
  if (v < 0 || static_cast<uint64_t>(v) < lo || static_cast<uint64_t>(v) > hi) {
    return c.at(key).error("must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  }
  return static_cast<uint64_t>(v);
}

// A byte size key (a number or "64MiB") within [lo, hi].
Result<uint64_t> get_bytes_ranged(const ConfigNode& c, std::string_view key, uint64_t fallback,
                                  uint64_t lo, uint64_t hi) {
  if (!c.has(key)) return fallback;
  NODUS_ASSIGN_OR_RETURN(uint64_t v, c.get_bytes(key, fallback));
  if (v < lo || v > hi) {
    return c.at(key).error("must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                           " bytes");
  }
  return v;
}

Result<std::vector<PeerId>> get_peers(const ConfigNode& c, std::string_view key,
                                      uint32_t instances) {
  std::vector<PeerId> out;
  if (!c.has(key)) return out;
  const ConfigNode node = c.at(key);
  if (!node.is_sequence()) return node.error("must be a list of instance indexes");
  std::set<PeerId> seen;
  for (const ConfigNode& item : node.items()) {
    auto v = item.as_int();
    if (!v.ok() || *v < 0 || *v >= static_cast<int64_t>(instances)) {
      return item.error("must be an instance index in 0.." + std::to_string(instances - 1));
    }
    if (!seen.insert(static_cast<PeerId>(*v)).second) {
      return item.error("instance " + std::to_string(*v) + " is listed twice");
    }
    out.push_back(static_cast<PeerId>(*v));
  }
  return out;
}

}  // namespace

uint32_t RaftConfig::election_ticks() const {
  return std::max<uint32_t>(1, election_timeout_min_ms / tick_ms);
}

uint32_t RaftConfig::heartbeat_ticks() const {
  return std::max<uint32_t>(1, heartbeat_ms / tick_ms);
}

std::vector<ConfigKeySpec> raft_config_keys() {
  using T = ConfigType;
  return {
      {"election_timeout_ms", T::kAny, false, "[150, 300]",
       "Randomized election timeout: a [min, max] pair or one number (min; max = 2 * min). "
       "The core draws from [min, 2 * min), so max must be at least min + tick_ms"},
      ConfigKeySpec{"heartbeat_ms", T::kInteger, false, "50", "Leader heartbeat period"}.between(
          1, kMaxHeartbeatMs),
      ConfigKeySpec{"tick_ms", T::kInteger, false, "10",
                    "Raft clock granularity; election and heartbeat periods are whole ticks"}
          .between(1, kMaxTickMs),
      {"pre_vote", T::kBoolean, false, "true",
       "Ask for a pre-vote before campaigning, so a partitioned node cannot bump the term"},
      {"check_quorum", T::kBoolean, false, "true",
       "A leader that has not heard from a quorum for an election timeout steps down"},
      ConfigKeySpec{"read_mode", T::kString, false, "read_index",
                    "Linearizable reads: read_index (a heartbeat round) or lease (needs "
                    "check_quorum)"}
          .one_of({"read_index", "lease"}),
      ConfigKeySpec{"lease_clock_drift_ppm", T::kInteger, false, "50000",
                    "Lease reads: how far (ppm) any node's tick rate may stray from nominal; the "
                    "lease is shortened to (election ticks - 1) * (1 - d) / (1 + d)"}
          .between(0, kMaxDriftPpm),
      ConfigKeySpec{"fsync", T::kString, false, "batch",
                    "always: fsync each batch before acknowledging; batch: group commit, one "
                    "fsync in flight; never: acknowledge without fsync (UNSAFE: power loss "
                    "forgets entries)"}
          .one_of({"always", "batch", "never"}),
      ConfigKeySpec{"max_inflight_msgs", T::kInteger, false, "256",
                    "Append messages in flight per follower"}
          .between(1, kMaxInflightMsgs),
      {"max_inflight_bytes", T::kBytes, false, "64MiB", "Entry bytes in flight per follower"},
      {"max_msg_bytes", T::kBytes, false, "1MiB", "Entry bytes batched into one append"},
      {"max_uncommitted_bytes", T::kBytes, false, "256MiB",
       "Proposals beyond this many uncommitted bytes fail with RESOURCE_EXHAUSTED"},
      ConfigKeySpec{"snapshot_entries", T::kInteger, false, "10000",
                    "Take a snapshot every N applied entries (0: never by count)"}
          .between(0, kMaxSnapshotEntries),
      {"snapshot_bytes", T::kBytes, false, "0",
       "Take a snapshot once this many command bytes were applied since the last (0: off)"},
      {"snapshot_chunk_bytes", T::kBytes, false, "256KiB", "Chunk size of snapshot transfers"},
      ConfigKeySpec{"voters", T::kList, false, "all instances",
                    "Initial voters (instance indexes), used on the first start only: the "
                    "configuration is then stored and later changes go through `nodus scale`"}
          .list_of(T::kInteger)
          .at_least(0),
      ConfigKeySpec{"learners", T::kList, false, "[]",
                    "Initial non-voting learners (first start only)"}
          .list_of(T::kInteger)
          .at_least(0),
      ConfigKeySpec{"propose_timeout_ms", T::kInteger, false, "5000",
                    "A proposal or read not answered within this time fails with "
                    "DEADLINE_EXCEEDED"}
          .between(1, kMaxProposeTimeoutMs),
      ConfigKeySpec{"max_pending", T::kInteger, false, "65536",
                    "Proposals, forwarded proposals, reads and membership changes waiting for "
                    "an answer; beyond it new ones fail with RESOURCE_EXHAUSTED"}
          .between(1, kMaxPending),
  };
}

Result<RaftConfig> parse_raft_config(const ConfigNode& c, uint32_t instances) {
  RaftConfig cfg;
  NODUS_ASSIGN_OR_RETURN(uint64_t tick, get_ranged(c, "tick_ms", 10, 1, kMaxTickMs));
  cfg.tick_ms = static_cast<uint32_t>(tick);
  NODUS_ASSIGN_OR_RETURN(uint64_t hb, get_ranged(c, "heartbeat_ms", 50, 1, kMaxHeartbeatMs));
  cfg.heartbeat_ms = static_cast<uint32_t>(hb);
  if (cfg.heartbeat_ms < cfg.tick_ms) {
    return c.at("heartbeat_ms")
        .error("must be at least tick_ms (" + std::to_string(cfg.tick_ms) + ")");
  }
  if (c.has("election_timeout_ms")) {
    const ConfigNode et = c.at("election_timeout_ms");
    if (et.is_sequence()) {
      if (et.items().size() != 2) return et.error("must be a [min, max] pair or a number");
      auto lo = et.items()[0].as_int();
      auto hi = et.items()[1].as_int();
      if (!lo.ok() || !hi.ok() || *lo <= 0 || *hi <= 0 || *lo > 600'000 || *hi > 1'200'000) {
        return et.error("must hold two positive numbers of milliseconds");
      }
      cfg.election_timeout_min_ms = static_cast<uint32_t>(*lo);
      cfg.election_timeout_max_ms = static_cast<uint32_t>(*hi);
    } else {
      auto v = et.as_int();
      if (!v.ok() || *v <= 0 || *v > 600'000) {
        return et.error("must be a [min, max] pair or a positive number of milliseconds");
      }
      cfg.election_timeout_min_ms = static_cast<uint32_t>(*v);
      cfg.election_timeout_max_ms = static_cast<uint32_t>(2 * *v);
    }
    if (cfg.election_timeout_max_ms < cfg.election_timeout_min_ms + cfg.tick_ms) {
      return et.error("max must be at least min + tick_ms");
    }
  }
  if (cfg.election_timeout_min_ms < 2 * cfg.heartbeat_ms) {
    return c.at(c.has("election_timeout_ms") ? "election_timeout_ms" : "heartbeat_ms")
        .error("the election timeout must be at least twice heartbeat_ms (" +
               std::to_string(cfg.heartbeat_ms) + ")");
  }
  NODUS_ASSIGN_OR_RETURN(cfg.pre_vote, c.get_bool("pre_vote", true));
  NODUS_ASSIGN_OR_RETURN(cfg.check_quorum, c.get_bool("check_quorum", true));
  NODUS_ASSIGN_OR_RETURN(std::string read_mode, c.get_string("read_mode", "read_index"));
  if (read_mode == "read_index") {
    cfg.read_mode = ReadMode::kReadIndex;
  } else if (read_mode == "lease") {
    cfg.read_mode = ReadMode::kLease;
    if (!cfg.check_quorum) {
      return c.at("read_mode").error("lease reads need check_quorum: true");
    }
  } else {
    return c.at("read_mode").error("must be read_index or lease");
  }
  NODUS_ASSIGN_OR_RETURN(uint64_t drift,
                         get_ranged(c, "lease_clock_drift_ppm", 50'000, 0, kMaxDriftPpm));
  cfg.lease_clock_drift_ppm = static_cast<uint32_t>(drift);
  NODUS_ASSIGN_OR_RETURN(std::string fsync, c.get_string("fsync", "batch"));
  auto mode = parse_fsync_mode(fsync);
  if (!mode.ok()) return c.at("fsync").error(mode.status().message());
  cfg.fsync = *mode;
  NODUS_ASSIGN_OR_RETURN(uint64_t inflight,
                         get_ranged(c, "max_inflight_msgs", 256, 1, kMaxInflightMsgs));
  cfg.max_inflight_msgs = static_cast<uint32_t>(inflight);
  NODUS_ASSIGN_OR_RETURN(
      cfg.max_inflight_bytes,
      get_bytes_ranged(c, "max_inflight_bytes", cfg.max_inflight_bytes, 1024, uint64_t{1} << 40));
  NODUS_ASSIGN_OR_RETURN(cfg.max_msg_bytes, get_bytes_ranged(c, "max_msg_bytes", cfg.max_msg_bytes,
                                                             1024, uint64_t{64} << 20));
  NODUS_ASSIGN_OR_RETURN(cfg.max_uncommitted_bytes,
                         get_bytes_ranged(c, "max_uncommitted_bytes", cfg.max_uncommitted_bytes,
                                          1024, uint64_t{1} << 40));
  NODUS_ASSIGN_OR_RETURN(cfg.snapshot_entries,
                         get_ranged(c, "snapshot_entries", 10000, 0, kMaxSnapshotEntries));
  NODUS_ASSIGN_OR_RETURN(cfg.snapshot_bytes,
                         get_bytes_ranged(c, "snapshot_bytes", 0, 0, uint64_t{1} << 40));
  NODUS_ASSIGN_OR_RETURN(
      cfg.snapshot_chunk_bytes,
      get_bytes_ranged(c, "snapshot_chunk_bytes", cfg.snapshot_chunk_bytes, 1, uint64_t{16} << 20));
  NODUS_ASSIGN_OR_RETURN(cfg.voters, get_peers(c, "voters", instances));
  NODUS_ASSIGN_OR_RETURN(cfg.learners, get_peers(c, "learners", instances));
  if (c.has("voters") && cfg.voters.empty()) return c.at("voters").error("must not be empty");
  if (cfg.voters.empty()) {
    for (PeerId i = 0; i < instances; ++i) {
      if (std::find(cfg.learners.begin(), cfg.learners.end(), i) == cfg.learners.end()) {
        cfg.voters.push_back(i);
      }
    }
  }
  for (PeerId l : cfg.learners) {
    if (std::find(cfg.voters.begin(), cfg.voters.end(), l) != cfg.voters.end()) {
      return c.at("learners")
          .error("instance " + std::to_string(l) + " is both a voter and a learner");
    }
  }
  NODUS_ASSIGN_OR_RETURN(uint64_t pt,
                         get_ranged(c, "propose_timeout_ms", 5000, 1, kMaxProposeTimeoutMs));
  cfg.propose_timeout_ms = static_cast<uint32_t>(pt);
  NODUS_ASSIGN_OR_RETURN(cfg.max_pending,
                         get_ranged(c, "max_pending", cfg.max_pending, 1, kMaxPending));
  return cfg;
}

}  // namespace nodus::raft
