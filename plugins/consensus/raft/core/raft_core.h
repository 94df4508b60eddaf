// raft/core/raft_core.h: the Raft algorithm as a pure state machine.
//
// Messages and ticks go in; messages to send, entries to persist, entries to apply and state
// changes come out through ready(). The core does no I/O, reads no clock and owns no thread,
// so the plugin drives it from timers and the transport, and tests drive it step by step.
//
// Durability contract (what the driver must do with a Ready, in this order):
//  1. hard_state, when set: persist it durably before sending any message of this Ready
//     (votes depend on it; it is a small write, independent of the log).
//  2. snapshot, when set: persist and restore it, then call snapshot_installed().
//  3. entries: append to the durable log (first truncating any suffix from
//     entries.front().index), then sync in the background; when the sync finished, call
//     log_synced(index, term) with the last synced entry. The core acknowledges entries to
//     the leader (and counts the leader's own copy) only after that, so a heartbeat or vote
//     never waits for a log fsync.
//  4. messages: send.
//  5. committed: apply in order; then call applied(index).
//  6. read_states: answer each read once applied index >= its index.
//
//   Core core(config, persisted);
//   core.tick();                       // every tick_ms
//   core.step(message);                // every message from the transport
//   auto index = core.propose("cmd");  // leader only
//   while (core.has_ready()) { Ready rd = core.ready(); ...handle as above... }
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nodus/capabilities/consensus.h"
#include "nodus/status.h"
#include "raft.pb.h"

namespace nodus::raft {

namespace pb = ::nodus::raft::v1;

enum class ReadMode {
  kReadIndex,  // confirm leadership with a heartbeat round per batch of reads
  kLease,      // serve from the leader's lease (needs check_quorum; bounded clock drift)
};

struct CoreConfig {
  PeerId id = 0;
  // The election timeout is drawn uniformly from [election_ticks, 2 * election_ticks).
  uint32_t election_ticks = 10;
  uint32_t heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  ReadMode read_mode = ReadMode::kReadIndex;
  // Lease reads: how far any node's tick rate may be from the nominal rate, in parts per
  // million. A follower whose ticks run fast forgets its leader sooner than the leader's
  // slow ticks say, so the lease is shortened by the worst ratio (1 - d) / (1 + d).
  uint32_t lease_clock_drift_ppm = 50'000;
  // Flow control per follower: at most this many MSG_APPEND and bytes in flight.
  uint32_t max_inflight_msgs = 256;
  uint64_t max_inflight_bytes = uint64_t{64} << 20;
  // Entries per MSG_APPEND are batched up to this many bytes (at least one entry).
  uint64_t max_msg_bytes = uint64_t{1} << 20;
  // Proposals beyond this many uncommitted bytes fail with RESOURCE_EXHAUSTED.
  uint64_t max_uncommitted_bytes = uint64_t{256} << 20;
  // Seed of the randomized election timeout (deterministic under simulation).
  uint64_t seed = 1;
};

// What survived on disk, handed to the core at start.
struct Persisted {
  pb::HardState hard_state;
  // The newest snapshot's metadata; index 0 when there is none.
  pb::SnapshotMeta snapshot;
  // Every entry after snapshot.index(), dense and in order.
  std::vector<pb::Entry> entries;
  // The initial configuration when there is neither a snapshot nor a configuration entry.
  pb::ConfState bootstrap;
};

struct SoftState {
  ConsensusRole role = ConsensusRole::kFollower;
  std::optional<PeerId> leader;
  bool operator==(const SoftState&) const = default;
};

// A linearizable read may be served once the applied index reaches `index`.
struct ReadState {
  uint64_t request_id = 0;
  uint64_t index = 0;
};

struct Ready {
  std::optional<SoftState> soft_state;  // when role or leader changed
  std::optional<pb::HardState> hard_state;
  std::optional<pb::SnapshotMeta> snapshot;  // a received snapshot to install
  std::vector<pb::Entry> entries;            // to persist
  std::vector<pb::Message> messages;         // to send
  std::vector<pb::Entry> committed;          // to apply
  std::vector<ReadState> read_states;
  std::vector<uint64_t> failed_reads;  // read requests dropped (leadership lost): UNAVAILABLE
  // Peers that need a snapshot streamed to them (snapshot index as of this Ready).
  std::vector<PeerId> send_snapshot_to;
  // Leadership transfer finished (OK) or was abandoned (error).
  std::optional<Status> transfer_result;
};

struct Counters {
  uint64_t elections_started = 0;
  uint64_t elections_won = 0;
  uint64_t pre_votes_started = 0;
  uint64_t messages_dropped_stale = 0;   // lower term, wrong recipient, malformed
  uint64_t proposals_rejected_flow = 0;  // RESOURCE_EXHAUSTED
};

class Core {
 public:
  // Fails on inconsistent persisted state (entries not dense, commit beyond the log...).
  static Result<std::unique_ptr<Core>> create(CoreConfig config, Persisted persisted);

  virtual ~Core() = default;

  // ---- inputs ----
  virtual void tick() = 0;
  // Any message from the network. Malformed, stale or misaddressed messages are dropped and
  // counted; step never fails and never trusts a field it has not checked.
  virtual void step(const pb::Message& message) = 0;
  // Leader only: appends a command; returns its index. UNAVAILABLE (with the leader in the
  // message when known) on a follower, or while a leadership transfer is in progress;
  // RESOURCE_EXHAUSTED past max_uncommitted_bytes.
  virtual Result<uint64_t> propose(std::string data) = 0;
  // Leader only: one membership change at a time (FAILED_PRECONDITION while one is pending).
  virtual Result<uint64_t> propose_conf_change(const pb::ConfChange& change) = 0;
  // A linearizable read: the answer comes back as a ReadState (or a failed_reads id). On a
  // follower the request is forwarded to the leader.
  virtual void read_index(uint64_t request_id) = 0;
  // Leader only: empty `to` picks the most up-to-date voter.
  virtual Status transfer_leadership(std::optional<PeerId> to) = 0;
  // Starts an election now (tests, and a single-node cluster at boot).
  virtual void campaign() = 0;

  // ---- durability and progress feedback from the driver ----
  // Entries up to `index` (whose term is `term`) are durable in the local log.
  virtual void log_synced(uint64_t index, uint64_t term) = 0;
  // Entries up to `index` were applied to the state machine.
  virtual void applied(uint64_t index) = 0;
  // A snapshot from Ready::snapshot is durable and restored.
  virtual void snapshot_installed(const pb::SnapshotMeta& meta) = 0;
  // A snapshot the driver assembled from chunks is complete at this follower: equivalent to
  // stepping a MSG_SNAPSHOT from the leader.
  // (Delivered with step() as a MSG_SNAPSHOT carrying `snapshot`.)
  // The leader's snapshot stream to `peer` ended: ok = the follower installed it.
  virtual void report_snapshot(PeerId peer, bool ok) = 0;
  // The peer is unreachable (transport failure): pause optimistic replication to it.
  virtual void report_unreachable(PeerId peer) = 0;
  // The state machine took a snapshot at `meta.index()` (<= applied): entries up to it may be
  // dropped from memory; lagging followers will be sent this snapshot. A zero meta.term() is
  // filled from the log and an empty meta.conf() with the configuration as of meta.index();
  // snapshot_meta() then returns the completed metadata (persist that one).
  virtual Status compact(const pb::SnapshotMeta& meta) = 0;

  // ---- outputs ----
  virtual bool has_ready() const = 0;
  virtual Ready ready() = 0;

  // ---- observing ----
  virtual ConsensusState state() const = 0;
  virtual const pb::SnapshotMeta& snapshot_meta() const = 0;
  virtual uint64_t first_index() const = 0;  // first entry held in memory
  virtual uint64_t last_index() const = 0;
  virtual uint64_t term_at(uint64_t index) const = 0;  // 0 when unknown
  virtual const Counters& counters() const = 0;
  // The configuration in effect (changes take effect when their entry commits).
  virtual pb::ConfState conf_state() const = 0;
  // Bytes of proposed entries not yet committed (flow control gauge).
  virtual uint64_t uncommitted_bytes() const = 0;
  // Internal invariants (one leader per term as seen locally, commit <= last, ...). Tests and
  // the simulator call it after every event.
  virtual Status check_invariants() const = 0;
};

}  // namespace nodus::raft
