// `nodus scale`: processes and consensus membership, one step at a time.
//
// A profile without a consensus plugin scales by starting and stopping processes. With one
// (the instances answer kMembershipMethod), the membership changes go through the leader's
// log, one server at a time, so that no quorum of the new size can ever exclude the old one:
//  - up: every running instance learns the new instance count (its peer list grows); the new
//    processes start with --join (no configuration of their own); each is added as a learner,
//    waits until its log reaches the commit index the leader had when it was added, and is
//    then promoted to voter;
//  - down: each instance to go is removed from the configuration (leadership first moves away
//    from it), and only then its process stops.
// Runs on the control thread, like failover: supervision goes on meanwhile.
#include <chrono>
#include <thread>

#include "kernel/node/node.h"
#include "kernel/supervisor/supervisor.h"

namespace nodus::kernel {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// One membership call; a change waits for its commit (the plugin's propose timeout, 5 s).
constexpr auto kCallDeadline = std::chrono::seconds(10);
// How long one step keeps retrying (a new leader, a change still pending) before it fails.
constexpr auto kStepDeadline = std::chrono::seconds(30);
constexpr auto kRetryPause = milliseconds(100);

const nodus::v1::InstanceStatus* find_instance(const nodus::v1::StatusReply& status,
                                               uint32_t index) {
  for (const auto& inst : status.instances()) {
    if (inst.index() == index) return &inst;
  }
  return nullptr;
}

// A change the leader refused for a reason time does not fix.
bool permanent(const Status& st) {
  return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kNotFound ||
         st.code() == StatusCode::kUnimplemented;
}

}  // namespace

Result<nodus::v1::MembershipReply> Supervisor::membership_call(
    const nodus::v1::InstanceStatus& inst, const nodus::v1::MembershipRequest& req) {
  NODUS_ASSIGN_OR_RETURN(std::string bytes,
                         instance_call(inst, kMembershipMethod, req.SerializeAsString(),
                                       kCallDeadline, /*as_instance=*/false));
  nodus::v1::MembershipReply reply;
  if (!reply.ParseFromString(bytes)) {
    return internal_error("instance " + std::to_string(inst.index()) + ": malformed reply");
  }
  return reply;
}

// Sends `op` for `peer` to whichever instance leads now, retrying through leader changes and
// a change still pending until kStepDeadline.
Result<nodus::v1::MembershipReply> Supervisor::leader_call(nodus::v1::MembershipRequest::Op op,
                                                           uint32_t peer, uint32_t instances) {
  nodus::v1::MembershipRequest req;
  req.set_op(op);
  req.set_peer(peer);
  req.set_instances(instances);
  const auto until = SteadyClock::now() + kStepDeadline;
  Status last = unavailable("no instance reports the leader role");
  while (SteadyClock::now() < until) {
    NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());
    const nodus::v1::InstanceStatus* leader = nullptr;
    for (const auto& inst : status.instances()) {
      if (inst.pid() > 0 && inst.role() == "leader") leader = &inst;
    }
    if (leader != nullptr) {
      auto r = membership_call(*leader, req);
      if (r.ok() || permanent(r.status())) return r;
      last = r.status();
    }
    std::this_thread::sleep_for(kRetryPause);
  }
  return last;
}

// Waits until instance `index` holds the log up to `commit` (the leader's commit index when
// the instance was added): promoting a learner that is far behind would stall commits.
Status Supervisor::wait_caught_up(uint32_t index, uint64_t commit, uint32_t instances) {
  nodus::v1::MembershipRequest req;
  req.set_op(nodus::v1::MembershipRequest::STATE);
  req.set_instances(instances);
  const auto until = SteadyClock::now() + kStepDeadline;
  Status last = unavailable("instance " + std::to_string(index) + " is not running");
  while (SteadyClock::now() < until) {
    NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());
    const nodus::v1::InstanceStatus* inst = find_instance(status, index);
    if (inst != nullptr && inst->pid() > 0) {
      auto r = membership_call(*inst, req);
      if (r.ok() && r->commit_index() >= commit) return {};
      last = r.ok()
                 ? unavailable("instance " + std::to_string(index) + " is at commit index " +
                               std::to_string(r->commit_index()) + " of " + std::to_string(commit))
                 : r.status();
    }
    std::this_thread::sleep_for(kRetryPause);
  }
  return last.with_context("instance " + std::to_string(index) + " did not catch up within " +
                           std::to_string(kStepDeadline.count()) + " s");
}

Result<nodus::v1::ScaleReply> Supervisor::scale(uint32_t target) {
  if (target < 1) return invalid_argument("scale: at least 1 instance, got 0");
  nodus::v1::ScaleReply reply;
  auto previous = std::make_shared<uint32_t>(0);
  NODUS_RETURN_IF_ERROR(post_and_wait([this, previous] { *previous = target_instances_; }));
  reply.set_previous(*previous);
  reply.set_instances(target);
  auto step = [this, &reply](const std::string& what) {
    log_->info("scale: " + what);
    reply.add_steps(what);
  };

  // Does this cluster keep a consensus membership? Ask every running instance, which also
  // lets each of them reach the instances up to the larger of the two counts.
  NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply before, this->status());
  const uint32_t reach = std::max(*previous, target);
  nodus::v1::MembershipRequest grow;
  grow.set_op(nodus::v1::MembershipRequest::STATE);
  grow.set_instances(reach);
  bool consensus = false;
  std::string told;
  for (const auto& inst : before.instances()) {
    if (inst.pid() <= 0 || inst.index() >= *previous) continue;
    auto r = membership_call(inst, grow);
    if (r.ok()) {
      consensus = true;
      told += (told.empty() ? "" : ",") + std::to_string(inst.index());
    } else if (r.status().code() != StatusCode::kFailedPrecondition) {
      log_->warn("scale: " + r.status().message());
    }
  }
  // Membership (nodus/capabilities/membership.h): after a scale down, the instances that
  // remain learn that the removed ones left (a scale up told them in the `grow` round above).
  auto shrink_members = [this, target]() -> std::string {
    auto now = this->status();
    if (!now.ok()) return "membership not updated: " + now.status().message();
    nodus::v1::MembershipRequest shrink;
    shrink.set_op(nodus::v1::MembershipRequest::STATE);
    shrink.set_instances(target);
    std::string told_members;
    for (const auto& inst : now->instances()) {
      if (inst.pid() <= 0 || inst.index() >= target) continue;
      auto r = membership_call(inst, shrink);
      if (r.ok() || r.status().code() == StatusCode::kFailedPrecondition) {
        told_members += (told_members.empty() ? "" : ",") + std::to_string(inst.index());
      } else {
        log_->warn("scale: " + r.status().message());
      }
    }
    return "membership of instances " + told_members + ": instances " + std::to_string(target) +
           "+ left";
  };

  if (!consensus || target == *previous) {
    auto result = std::make_shared<Status>();
    auto out = std::make_shared<nodus::v1::ScaleReply>(reply);
    NODUS_RETURN_IF_ERROR(
        post_and_wait([this, target, out, result] { *result = apply_scale(target, *out); }));
    NODUS_RETURN_IF_ERROR(*result);
    out->add_steps(target == *previous
                       ? "nothing to do"
                       : "processes " + std::string(target > *previous ? "started" : "stopped") +
                             " (no consensus membership to change)");
    if (target < *previous) out->add_steps(shrink_members());
    return *out;
  }
  step("instances " + told + " can reach instances 0.." + std::to_string(reach - 1));

  if (target > *previous) {
    auto result = std::make_shared<Status>();
    auto out = std::make_shared<nodus::v1::ScaleReply>();
    NODUS_RETURN_IF_ERROR(
        post_and_wait([this, target, out, result] { *result = apply_scale(target, *out); }));
    NODUS_RETURN_IF_ERROR(*result);
    step("instances " + std::to_string(*previous) + ".." + std::to_string(target - 1) +
         " started with --join (no configuration of their own)");
    for (uint32_t i = *previous; i < target; ++i) {
      const std::string who = "instance " + std::to_string(i);
      auto added = leader_call(nodus::v1::MembershipRequest::ADD_LEARNER, i, target);
      if (!added.ok() && added.status().message().find("is a voter") != std::string::npos) {
        step(who + ": already a voter");
        continue;
      }
      if (!added.ok() && added.status().message().find("already a learner") == std::string::npos) {
        return added.status().with_context("scale: adding " + who + " as a learner");
      }
      const uint64_t commit = added.ok() ? added->commit_index() : 0;
      step(who + ": added as a learner" +
           (added.ok() && added->has_leader() ? " by leader " + std::to_string(added->leader()) +
                                                    " at commit index " + std::to_string(commit)
                                              : std::string()));
      NODUS_RETURN_IF_ERROR(wait_caught_up(i, commit, target).with_context("scale"));
      step(who + ": caught up to commit index " + std::to_string(commit));
      auto promoted = leader_call(nodus::v1::MembershipRequest::PROMOTE, i, target);
      if (!promoted.ok() &&
          promoted.status().message().find("already a voter") == std::string::npos) {
        return promoted.status().with_context("scale: promoting " + who);
      }
      step(who + ": promoted to voter");
    }
    return reply;
  }

  // Down: out of the configuration first, then the processes stop.
  for (uint32_t i = *previous; i-- > target;) {
    const std::string who = "instance " + std::to_string(i);
    NODUS_ASSIGN_OR_RETURN(nodus::v1::StatusReply status, this->status());
    const nodus::v1::InstanceStatus* inst = find_instance(status, i);
    if (inst != nullptr && inst->role() == "leader" && inst->pid() > 0) {
      auto moved = failover(0);
      if (!moved.ok()) return moved.status().with_context("scale: moving leadership off " + who);
      step(who + ": leadership moved to instance " + std::to_string(*moved));
    }
    auto removed = leader_call(nodus::v1::MembershipRequest::REMOVE, i, *previous);
    if (!removed.ok() && removed.status().message().find("not a member") == std::string::npos) {
      return removed.status().with_context("scale: removing " + who + " from the configuration");
    }
    step(who + (removed.ok() ? ": removed from the configuration" : ": was not a member"));
  }
  auto result = std::make_shared<Status>();
  auto out = std::make_shared<nodus::v1::ScaleReply>();
  NODUS_RETURN_IF_ERROR(
      post_and_wait([this, target, out, result] { *result = apply_scale(target, *out); }));
  NODUS_RETURN_IF_ERROR(*result);
  step("instances " + std::to_string(target) + ".." + std::to_string(*previous - 1) + " stopping");
  step(shrink_members());
  return reply;
}

}  // namespace nodus::kernel
