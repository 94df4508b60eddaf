// fake_consensus.h: an in-process nodus.consensus/v1 for ledger tests, until the real Raft
// plugin lands. By default every proposal commits on the next executor turn, applied through
// the registered state machine; tests can hold proposals, fail them, fail new ones, and change
// the reported leader. Used directly (batcher_test) and inside fake_consensus_plugin.cc, whose
// capability object a test may static_cast to FakeConsensus (same header, same layout).
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nodus/capabilities/consensus.h"
#include "nodus/services/executor.h"

namespace nodus::ledger::testing {

class FakeConsensus final : public Consensus {
 public:
  explicit FakeConsensus(Executor& executor, PeerId self = 0) : executor_(executor) {
    state_.role = ConsensusRole::kLeader;
    state_.leader = self;
    state_.term = 1;
  }

  Status set_state_machine(StateMachine* machine) override {
    machine_ = machine;
    return {};
  }

  void propose(std::string command, ProposeCallback done) override {
    commands_.push_back(command);
    if (!fail_new_.ok()) {
      executor_.post([done = std::move(done), s = fail_new_] { done(s); });
      return;
    }
    held_.emplace_back(std::move(command), std::move(done));
    if (!hold_) executor_.post([this] { commit_held(); });
  }

  void read_index(DoneCallback done) override {
    if (hold_reads_) {
      held_reads_.push_back(std::move(done));
      return;
    }
    executor_.post([done = std::move(done), s = read_status_] { done(s); });
  }

  void transfer_leadership(std::optional<PeerId> to, DoneCallback done) override {
    state_.leader = to;
    executor_.post([done = std::move(done)] { done({}); });
  }

  void change_membership(MembershipChange, PeerId, DoneCallback done) override {
    executor_.post([done = std::move(done)] { done(unimplemented("fake consensus")); });
  }

  ConsensusState state() const override { return state_; }

  // Test controls.
  void set_hold(bool hold) { hold_ = hold; }
  // Commits every held proposal, in order, through the state machine.
  void commit_held() {
    while (!held_.empty()) {
      auto [command, done] = std::move(held_.front());
      held_.pop_front();
      const uint64_t index = ++state_.last_index;
      ProposeResult r;
      r.index = index;
      r.term = state_.term;
      r.response = machine_ != nullptr ? machine_->apply(index, command) : std::string();
      state_.commit_index = state_.applied_index = index;
      done(std::move(r));
    }
  }
  // Fails every held proposal with `s` (for example leadership lost).
  void fail_held(const Status& s) {
    while (!held_.empty()) {
      auto done = std::move(held_.front().second);
      held_.pop_front();
      done(s);
    }
  }
  void set_fail_new(Status s) { fail_new_ = std::move(s); }
  void set_read_status(Status s) { read_status_ = std::move(s); }
  // Read barriers wait until release_reads() while held.
  void set_hold_reads(bool hold) { hold_reads_ = hold; }
  size_t held_reads() const { return held_reads_.size(); }
  void release_reads() {
    auto reads = std::move(held_reads_);
    held_reads_.clear();
    for (auto& done : reads)
      done(read_status_);
  }
  void set_leader(std::optional<PeerId> leader, ConsensusRole role) {
    state_.leader = leader;
    state_.role = role;
    ++state_.term;
  }
  size_t held() const { return held_.size(); }
  const std::vector<std::string>& commands() const { return commands_; }

 private:
  Executor& executor_;
  StateMachine* machine_ = nullptr;
  ConsensusState state_;
  bool hold_ = false;
  bool hold_reads_ = false;
  std::vector<DoneCallback> held_reads_;
  Status fail_new_;
  Status read_status_;
  std::deque<std::pair<std::string, ProposeCallback>> held_;
  std::vector<std::string> commands_;
};

}  // namespace nodus::ledger::testing
