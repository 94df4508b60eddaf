// io.nodus.consensus.raft: Raft consensus as the "nodus.consensus/v1" capability (see
// README.md). The algorithm is the pure core in core/; this file is the plugin shell and the
// driver lives in raft_node.{h,cc}.
#include <memory>

#include "nodus/plugin.h"
#include "raft_admin.h"
#include "raft_config.h"
#include "raft_node.h"

namespace nodus::raft {
namespace {

class RaftPlugin final : public Plugin {
 public:
  explicit RaftPlugin(PluginContext& ctx) : ctx_(ctx) {}

  Status configure(const ConfigNode& section) override {
    NODUS_ASSIGN_OR_RETURN(RaftConfig cfg, parse_raft_config(section, ctx_.instance().instances));
    node_ = std::make_unique<RaftNode>(ctx_, std::move(cfg));
    return {};
  }

  Status start() override {
    NODUS_RETURN_IF_ERROR(node_->start());
    // `nodus failover` and the consensus section of `nodus status`.
    admin_ = std::make_unique<RaftAdmin>(ctx_, *node_);
    Status st = admin_->start();
    if (!st.ok()) node_->stop();
    return st;
  }

  Status stop() override {
    if (admin_) admin_->stop();
    node_->stop();
    return {};
  }

  CapabilityRef provide(std::string_view capability) override {
    if (capability == Consensus::kCapability) return offer<Consensus>(node_.get());
    return {};
  }

  bool ready() const override { return node_ && node_->has_leader(); }

  Status check_invariants() const override { return node_ ? node_->check_invariants() : Status(); }

 private:
  PluginContext& ctx_;
  std::unique_ptr<RaftNode> node_;
  std::unique_ptr<RaftAdmin> admin_;  // after node_: destroyed first
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.name = "io.nodus.consensus.raft";
  d.version = "0.1.0";
  d.category = "consensus";
  d.status = nodus::PluginStatus::kStable;
  d.description =
      "Raft replicated log: pre-vote, check-quorum, ReadIndex and lease reads, learners, "
      "leadership transfer, group-committed durable log, chunked snapshot transfer";
  d.provides = {std::string(Consensus::kCapability)};
  d.config = raft_config_keys();
  d.factory = [](PluginContext& ctx) { return std::make_unique<RaftPlugin>(ctx); };
  return d;
}

}  // namespace
}  // namespace nodus::raft

NODUS_PLUGIN(nodus::raft::describe)
