// nodus/capabilities/consensus.h: the replicated-log capability ("nodus.consensus/v1").
//
// A consensus plugin (io.nodus.consensus.raft) provides a Consensus object; an application
// plugin (io.nodus.app.ledger) declares `needs: ["nodus.consensus/v1"]`, finds it in start()
// and registers its StateMachine. Every node applies the same commands in the same order.
// Callbacks run on the instance executor; StateMachine methods too.
//
//   class Kv final : public nodus::StateMachine { ... };
//   auto* c = ctx.find<nodus::Consensus>();
//   NODUS_RETURN_IF_ERROR(c->set_state_machine(&kv_));
//   c->propose(command_bytes, [](nodus::Result<nodus::ProposeResult> r) {
//     if (r.ok()) reply(r->response);          // committed and applied here
//     else if (nodus::is_retriable(r.status())) retry_later();  // leader lost: try again
//   });
//   c->read_index([](nodus::Status s) { if (s.ok()) serve_local_read(); });
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/services/transport.h"
#include "nodus/status.h"

namespace nodus {

// The deterministic application the log drives. apply() must depend only on the state and
// the command: the same sequence of commands gives the same state on every node.
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies one committed command (commands at `index` arrive once each, in index order).
  // The returned bytes go back to the proposer's callback when it proposed on this node.
  virtual std::string apply(uint64_t index, std::string_view command) = 0;
  // A complete image of the state as of the last applied index. Called on the executor.
  virtual std::string snapshot() = 0;
  // Replaces the whole state with a snapshot() image (taken at `index`).
  virtual Status restore(uint64_t index, std::string_view image) = 0;
};

struct ProposeResult {
  uint64_t index = 0;    // log index the command committed at
  uint64_t term = 0;     // term of that entry
  std::string response;  // what StateMachine::apply returned on this node
};

enum class ConsensusRole { kFollower, kCandidate, kPreCandidate, kLeader, kLearner };

constexpr std::string_view consensus_role_name(ConsensusRole r) {
  switch (r) {
    case ConsensusRole::kFollower:
      return "follower";
    case ConsensusRole::kCandidate:
      return "candidate";
    case ConsensusRole::kPreCandidate:
      return "pre-candidate";
    case ConsensusRole::kLeader:
      return "leader";
    case ConsensusRole::kLearner:
      return "learner";
  }
  return "unknown";
}

struct ConsensusState {
  ConsensusRole role = ConsensusRole::kFollower;
  uint64_t term = 0;
  std::optional<PeerId> leader;  // known leader of `term`
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  std::vector<PeerId> voters;
  std::vector<PeerId> learners;
};

enum class MembershipChange { kAddVoter, kAddLearner, kRemove };

using ProposeCallback = std::function<void(Result<ProposeResult>)>;
using DoneCallback = std::function<void(Status)>;

// Errors: UNAVAILABLE = no leader known, or leadership was lost before the command committed
// (the command may or may not commit later: retry with the same client id and sequence
// number so the state machine can drop the duplicate); RESOURCE_EXHAUSTED = flow control,
// back off; INVALID_ARGUMENT = command too large; FAILED_PRECONDITION = not started.
class Consensus {
 public:
  static constexpr std::string_view kCapability = "nodus.consensus/v1";
  // Bumped with every change to this class's declaration (nodus/capability.h).
  static constexpr uint32_t kRevision = 1;
  virtual ~Consensus() = default;

  // Registers the state machine. Call once, in start(); committed entries are applied only
  // after this (a restarting node replays its snapshot and log into it here).
  virtual Status set_state_machine(StateMachine* machine) = 0;
  // Replicates `command`; `done` runs once it committed and was applied on this node, or
  // with an error. A follower forwards the proposal to the leader.
  virtual void propose(std::string command, ProposeCallback done) = 0;
  // Linearizable read barrier: `done` runs with OK once this node's applied state includes
  // every write committed before the call (ReadIndex; a lease read when configured).
  virtual void read_index(DoneCallback done) = 0;
  // Moves leadership to `to`, or to the most up-to-date follower when empty. `done` runs
  // once the transfer finished (OK) or failed. Only valid on the leader.
  virtual void transfer_leadership(std::optional<PeerId> to, DoneCallback done) = 0;
  // One-server-at-a-time membership change, committed through the log.
  virtual void change_membership(MembershipChange change, PeerId peer, DoneCallback done) = 0;
  virtual ConsensusState state() const = 0;
};

// True for errors after which the same request may succeed if sent again (to a leader).
inline bool is_retriable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kResourceExhausted ||
         s.code() == StatusCode::kDeadlineExceeded || s.code() == StatusCode::kAborted;
}

}  // namespace nodus
