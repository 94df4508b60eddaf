// raft/raft_node.h: the driver around the Raft core, and the nodus::Consensus it provides.
//
// RaftNode runs on the instance executor only. It feeds the core with ticks (a timer every
// tick_ms) and messages (transport channel "raft"), and handles every Ready in the order the
// durability contract of core/raft_core.h asks: hard state put before anything is sent,
// entries appended and synced in the background (the core acknowledges them only after
// log_synced), messages sent, committed entries applied to the registered StateMachine,
// reads answered once applied. Proposals on a follower are forwarded to the leader with the
// transport call "raft.propose"; snapshots travel in chunks on "raft.snap" (see
// snapshot_transfer.h).
//
//   RaftNode node(ctx, config);
//   NODUS_RETURN_IF_ERROR(node.start());
//   Consensus* c = &node;  // what the plugin provides as "nodus.consensus/v1"
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/raft_core.h"
#include "nodus/capabilities/consensus.h"
#include "nodus/plugin.h"
#include "pending_table.h"
#include "raft_config.h"
#include "raft_metrics.h"
#include "raft_storage.h"
#include "snapshot_transfer.h"

namespace nodus::raft {

inline constexpr std::string_view kRaftChannel = "raft";
inline constexpr std::string_view kProposeMethod = "raft.propose";
// A joining node asks its peers for the cluster's initial configuration (reply: ConfState).
inline constexpr std::string_view kInitialConfMethod = "raft.initconf";

class RaftNode final : public Consensus {
 public:
  RaftNode(PluginContext& ctx, RaftConfig config);
  ~RaftNode() override;
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  // Loads the durable state, creates the core, registers handlers and starts ticking.
  Status start();
  // Stops ticking and fails every pending callback with UNAVAILABLE.
  void stop();
  // A leader is known (this node or another).
  bool has_leader() const { return leader_.has_value(); }

  // ---- nodus::Consensus ----
  Status set_state_machine(StateMachine* machine) override;
  void propose(std::string command, ProposeCallback done) override;
  void read_index(DoneCallback done) override;
  void transfer_leadership(std::optional<PeerId> to, DoneCallback done) override;
  void change_membership(MembershipChange change, PeerId peer, DoneCallback done) override;
  ConsensusState state() const override;

  // For tests: the core's own invariants.
  Status check_invariants() const;

 private:
  void schedule_tick();
  void on_tick();
  void on_message(PeerId from, const std::string& payload);
  void on_forward(PeerId from, std::string request, CallReply reply);
  void on_chunk(PeerId from, const std::string& payload);
  void on_chunk_ack(PeerId from, const std::string& payload);
  void on_synced(uint64_t index, uint64_t term, Duration took);

  // Drains every Ready of the core (re-entrant calls just ask for another round).
  void process_ready();
  void handle_ready(Ready& rd);
  void on_soft_state(const SoftState& ss);
  void install_snapshot(const pb::SnapshotMeta& meta);
  void apply_committed();
  void apply_entry(const pb::Entry& e);
  void answer_reads();
  void maybe_snapshot();
  void expire(TimePoint now);
  // RESOURCE_EXHAUSTED for a caller turned away because the pending table is full.
  Status pending_full(std::string_view what);
  // Startup checks of the configuration against the instances that exist (start()).
  Status check_configuration(bool from_disk, const pb::ConfState& conf);
  // Creates the core over what storage loaded (start(), and again once a joining node
  // learned the initial configuration).
  Status open_core(LoadedState loaded);
  void ask_initial_conf();
  void adopt_initial_conf(PeerId from, const pb::ConfState& conf);
  void on_initial_conf_request(CallReply reply);
  void fail_all(const Status& why, bool proposals_only);
  void fatal(const Status& why);
  void finish_transfer(const Status& result);
  void finish_transfer_if_decided();
  void update_gauges();
  void send_message(const pb::Message& m);
  void forward_propose(std::string command, ProposeCallback done);

  PluginContext& ctx_;
  const RaftConfig config_;
  RaftMetrics metrics_;
  std::unique_ptr<RaftStorage> storage_;
  std::unique_ptr<Core> core_;
  std::unique_ptr<SnapshotSender> sender_;
  std::unique_ptr<SnapshotReceiver> receiver_;
  StateMachine* machine_ = nullptr;

  bool started_ = false;
  bool stopped_ = false;
  Status broken_;  // sticky: a storage failure; the node stops taking part
  TimerId tick_timer_ = kNoTimer;
  bool in_ready_ = false;

  ConsensusRole role_ = ConsensusRole::kFollower;
  std::optional<PeerId> leader_;
  std::optional<PeerId> last_known_leader_;  // survives "leader unknown" gaps
  uint64_t term_ = 0;
  std::optional<pb::HardState> saved_hard_state_;  // the last one written
  // The configuration before the first log entry; the same on every member of a cluster.
  pb::ConfState initial_conf_;
  bool awaiting_conf_ = false;  // joining, and initial_conf_ not learned yet
  TimePoint next_conf_ask_{};

  // Committed entries not applied yet (no state machine, or waiting for one to register).
  std::deque<pb::Entry> unapplied_;
  uint64_t applied_ = 0;
  uint64_t applied_term_ = 0;
  pb::ConfState conf_;  // configuration as of applied_
  // A snapshot image the state machine has not been restored from yet.
  std::optional<std::pair<pb::SnapshotMeta, std::string>> restore_pending_;
  // The newest snapshot, for lagging followers.
  pb::SnapshotMeta snapshot_meta_;
  std::shared_ptr<const std::string> snapshot_image_;
  uint64_t applied_bytes_since_snapshot_ = 0;

  // Every callback owed an answer, bounded by max_pending (see pending_table.h).
  PendingTable pending_;
  uint64_t next_read_id_ = 0;  // set at start(); see kReadEpochKey in raft_storage.h
  std::optional<DoneCallback> transfer_done_;
  std::optional<PeerId> transfer_target_;
  std::optional<Status> transfer_result_;  // the core's abort, held until a leader is known
  TimePoint transfer_deadline_{};
  uint64_t next_forward_id_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nodus::raft
