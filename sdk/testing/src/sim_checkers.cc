#include "nodus/testing/sim_checkers.h"

#include <map>

namespace nodus::testing {

Status check_convergence(const std::vector<Replica>& replicas) {
  std::map<std::string, std::vector<SimNodeId>> by_state;
  for (const auto& r : replicas)
    by_state[r.state].push_back(r.node);
  if (by_state.size() <= 1) return {};
  std::string msg = "replicas diverged:";
  for (const auto& [state, nodes] : by_state) {
    msg += " {";
    for (size_t i = 0; i < nodes.size(); ++i)
      msg += (i ? "," : "") + std::to_string(nodes[i]);
    msg += "}=" + (state.size() > 80 ? state.substr(0, 80) + "..." : state) + ";";
  }
  msg.pop_back();
  return failed_precondition(msg);
}

Status check_no_lost_writes(const std::set<std::string>& acknowledged,
                            const std::set<std::string>& visible) {
  for (const auto& w : acknowledged) {
    if (!visible.count(w)) {
      return failed_precondition("acknowledged write '" + w + "' is lost");
    }
  }
  return {};
}

Status check_at_most_one(const std::string& role, uint32_t nodes,
                         const std::function<bool(SimNodeId)>& holds) {
  std::string who;
  int count = 0;
  for (SimNodeId i = 0; i < nodes; ++i) {
    if (!holds(i)) continue;
    ++count;
    who += (who.empty() ? "" : ",") + std::to_string(i);
  }
  if (count <= 1) return {};
  return failed_precondition(std::to_string(count) + " nodes hold " + role + " at once: " + who);
}

}  // namespace nodus::testing
