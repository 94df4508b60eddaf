// Raft's operator surface (nodus/services/admin.h): the `failover` command (a leadership
// transfer, what `nodus failover [--to I]` runs) and a status section with the role, term,
// leader, indices and configuration, so that `nodus status` shows the consensus state.
//
//   RaftAdmin admin(ctx, node);
//   NODUS_RETURN_IF_ERROR(admin.start());  // in the plugin's start(), after the node's
//   admin.stop();                          // in its stop(), before the node's
#pragma once

#include <memory>
#include <optional>

#include "nodus/plugin.h"
#include "nodus/services/admin.h"
#include "raft_node.h"

namespace nodus::raft {

class RaftAdmin {
 public:
  RaftAdmin(PluginContext& ctx, RaftNode& node) : ctx_(ctx), node_(node) {}
  ~RaftAdmin() { stop(); }
  RaftAdmin(const RaftAdmin&) = delete;
  RaftAdmin& operator=(const RaftAdmin&) = delete;

  Status start();
  // Pending answers still run (the executor owns their timers) but no longer touch the node.
  void stop();

 private:
  void failover(const CommandArgs& args, CommandReply reply);
  // Answers once this node has heard of the leader that took over, or after a bound.
  void await_new_leader(uint64_t previous_term, std::optional<PeerId> to, int polls_left,
                        CommandReply reply);

  PluginContext& ctx_;
  RaftNode& node_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace nodus::raft
