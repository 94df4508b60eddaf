#include "nodus/harness/consensus_cluster.h"

#include <functional>
#include <memory>
#include <utility>

namespace nodus::testing {

namespace {

SimOptions options_for(uint64_t seed, uint32_t nodes, bool crash_disk) {
  SimOptions o;
  o.seed = seed;
  o.nodes = nodes;
  o.crash_disk = crash_disk;
  // NODUS_SIM_LOGS=1 keeps plugin log lines for dump().
  o.capture_logs = std::getenv("NODUS_SIM_LOGS") != nullptr;
  return o;
}

}  // namespace

ConsensusCluster::ConsensusCluster(ConsensusSubject subject, uint64_t seed, uint32_t nodes,
                                   bool crash_disk)
    : subject_(std::move(subject)), sim_(options_for(seed, nodes, crash_disk)) {}

Status ConsensusCluster::start() {
  NODUS_RETURN_IF_ERROR(sim_.add_plugin(subject_.plugin, subject_.config_yaml));
  NODUS_RETURN_IF_ERROR(sim_.add_plugin(subject_.kv_plugin));
  add_safety_invariants();
  return sim_.start();
}

void ConsensusCluster::add_safety_invariants() {
  // Election safety: at most one leader per term, whoever observes it.
  sim_.add_invariant("one_leader_per_term", [this]() -> Status {
    for (SimNodeId i = 0; i < sim_.size(); ++i) {
      Consensus* c = consensus(i);
      if (c == nullptr) continue;
      const ConsensusState s = c->state();
      if (s.role != ConsensusRole::kLeader) continue;
      auto [it, inserted] = leader_of_term_.emplace(s.term, i);
      if (!inserted && it->second != i) {
        return failed_precondition("nodes " + std::to_string(it->second) + " and " +
                                   std::to_string(i) + " both lead term " + std::to_string(s.term));
      }
    }
    return {};
  });
  // A node applies only what it knows to be committed, and commits only what its log holds.
  sim_.add_invariant("applied_le_commit_le_last", [this]() -> Status {
    for (SimNodeId i = 0; i < sim_.size(); ++i) {
      Consensus* c = consensus(i);
      if (c == nullptr) continue;
      const ConsensusState s = c->state();
      if (s.applied_index > s.commit_index || s.commit_index > s.last_index) {
        return failed_precondition("node " + std::to_string(i) + ": applied " +
                                   std::to_string(s.applied_index) + ", commit " +
                                   std::to_string(s.commit_index) + ", last " +
                                   std::to_string(s.last_index));
      }
    }
    return {};
  });
}

std::vector<SimNodeId> ConsensusCluster::live_nodes() const {
  std::vector<SimNodeId> out;
  for (SimNodeId i = 0; i < sim_.size(); ++i) {
    if (sim_.up(i) && !sim_.removed(i)) out.push_back(i);
  }
  return out;
}

std::optional<SimNodeId> ConsensusCluster::leader() {
  std::optional<SimNodeId> best;
  uint64_t best_term = 0;
  for (SimNodeId i : live_nodes()) {
    Consensus* c = consensus(i);
    if (c == nullptr) continue;
    const ConsensusState s = c->state();
    if (s.role == ConsensusRole::kLeader && (!best || s.term > best_term)) {
      best = i;
      best_term = s.term;
    }
  }
  return best;
}

std::optional<SimNodeId> ConsensusCluster::wait_for_leader(
    std::optional<std::vector<SimNodeId>> among) {
  const std::vector<SimNodeId> nodes = among ? *among : live_nodes();
  const bool found = sim_.run_until(
      [&] {
        const auto l = leader();
        if (!l) return false;
        for (SimNodeId i : nodes) {
          Consensus* c = consensus(i);
          if (c == nullptr || c->state().leader != std::optional<PeerId>(*l)) return false;
        }
        return true;
      },
      subject_.election_limit);
  if (!found) return std::nullopt;
  return leader();
}

template <class T>
std::optional<T> ConsensusCluster::run_to_answer(
    const std::function<void(std::function<void(T)>)>& start) {
  auto answer = std::make_shared<std::optional<T>>();
  start([answer](T v) {
    if (!answer->has_value()) *answer = std::move(v);
  });
  sim_.run_until([&] { return answer->has_value(); }, subject_.operation_limit);
  return *answer;
}

Status ConsensusCluster::put(SimNodeId via, const std::string& key, int64_t value) {
  auto answer = run_to_answer<Status>([&](std::function<void(Status)> done) {
    sim_.post(via, [this, via, key, value, done] {
      if (ConsensusKv* k = kv(via)) k->put(key, value, done);
    });
  });
  return answer.value_or(
      deadline_exceeded("put through node " + std::to_string(via) + " had no answer"));
}

Result<int64_t> ConsensusCluster::get(SimNodeId via, const std::string& key) {
  auto answer = run_to_answer<Result<int64_t>>([&](std::function<void(Result<int64_t>)> done) {
    sim_.post(via, [this, via, key, done] {
      if (ConsensusKv* k = kv(via)) k->get(key, done);
    });
  });
  if (!answer)
    return deadline_exceeded("get through node " + std::to_string(via) + " had no answer");
  return *answer;
}

Status ConsensusCluster::transfer_leadership(SimNodeId leader, std::optional<PeerId> to) {
  auto answer = run_to_answer<Status>([&](std::function<void(Status)> done) {
    sim_.post(leader, [this, leader, to, done] {
      if (Consensus* c = consensus(leader)) c->transfer_leadership(to, done);
    });
  });
  return answer.value_or(deadline_exceeded("transfer had no answer"));
}

Status ConsensusCluster::change_membership(SimNodeId leader, MembershipChange change, PeerId peer) {
  auto answer = run_to_answer<Status>([&](std::function<void(Status)> done) {
    sim_.post(leader, [this, leader, change, peer, done] {
      if (Consensus* c = consensus(leader)) c->change_membership(change, peer, done);
    });
  });
  return answer.value_or(deadline_exceeded("membership change had no answer"));
}

bool ConsensusCluster::converged(std::optional<std::vector<SimNodeId>> nodes) {
  std::optional<uint64_t> applied;
  std::optional<std::string> image;
  for (SimNodeId i : nodes ? *nodes : live_nodes()) {
    Consensus* c = consensus(i);
    ConsensusKv* k = kv(i);
    if (c == nullptr || k == nullptr || !c->state().leader || k->order_errors() > 0) return false;
    const uint64_t a = c->state().applied_index;
    if (a == 0 || (applied && *applied != a)) return false;
    applied = a;
    std::string state = k->state_image();
    if (image && *image != state) return false;
    image = std::move(state);
  }
  return applied.has_value();
}

bool ConsensusCluster::wait_converged(Duration limit, std::optional<std::vector<SimNodeId>> nodes) {
  return sim_.run_until([&] { return converged(nodes); }, limit);
}

std::string ConsensusCluster::dump() {
  std::string out;
  for (SimNodeId i = 0; i < sim_.size(); ++i) {
    out += "node " + std::to_string(i) + ": ";
    Consensus* c = consensus(i);
    if (c == nullptr) {
      out += sim_.removed(i) ? "removed\n" : "down\n";
      continue;
    }
    const ConsensusState s = c->state();
    out += std::string(consensus_role_name(s.role)) + " term " + std::to_string(s.term) +
           " leader " + (s.leader ? std::to_string(*s.leader) : "-") + " commit " +
           std::to_string(s.commit_index) + " applied " + std::to_string(s.applied_index) +
           " last " + std::to_string(s.last_index) + " voters";
    for (PeerId v : s.voters)
      out += " " + std::to_string(v);
    out += "\n";
    if (std::getenv("NODUS_SIM_LOGS") != nullptr) {
      for (const auto& line : sim_.logs(i).lines())
        out += "  " + line + "\n";
    }
  }
  return out;
}

}  // namespace nodus::testing
