#include "raft_admin.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "nodus/json.h"
#include "nodus/services/admin.h"

namespace nodus::raft {
namespace {

// After a transfer, the old leader learns the new one from its first heartbeat; poll for that
// every 20 ms for at most 3 s, then answer with what is known.
constexpr auto kLeaderPoll = std::chrono::milliseconds(20);
constexpr int kLeaderPolls = 150;

std::string id_list(const std::vector<PeerId>& ids) {
  std::string out;
  for (PeerId id : ids)
    out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

std::string status_json(const ConsensusState& s) {
  std::string out = "{\"role\":" + json_quote(consensus_role_name(s.role));
  out += ",\"term\":" + std::to_string(s.term);
  out += ",\"leader\":" + (s.leader ? std::to_string(*s.leader) : std::string("null"));
  out += ",\"commit_index\":" + std::to_string(s.commit_index);
  out += ",\"applied_index\":" + std::to_string(s.applied_index);
  out += ",\"last_index\":" + std::to_string(s.last_index);
  out += ",\"voters\":[" + id_list(s.voters) + "]";
  out += ",\"learners\":[" + id_list(s.learners) + "]}";
  return out;
}

CommandResult moved(PeerId previous, PeerId leader, uint64_t term) {
  CommandResult r;
  r.text = previous == leader ? "instance " + std::to_string(leader) + " already leads"
                              : "leadership moved from instance " + std::to_string(previous) +
                                    " to instance " + std::to_string(leader);
  r.json = "{\"previous\":" + std::to_string(previous) + ",\"leader\":" + std::to_string(leader) +
           ",\"term\":" + std::to_string(term) + "}";
  return r;
}

}  // namespace

Status RaftAdmin::start() {
  auto alive = alive_;
  RaftNode* node = &node_;
  ctx_.admin().set_status([alive, node] {
    if (!*alive) return StatusSection{};
    const ConsensusState s = node->state();
    return StatusSection{status_json(s), "term " + std::to_string(s.term) + " commit " +
                                             std::to_string(s.commit_index)};
  });
  CommandSpec spec;
  spec.name = "failover";
  spec.help = "Move the leader role to another voter (Raft leadership transfer).";
  spec.args = {{"to", ArgType::kInt, false, "",
                "the instance to hand leadership to (default: the most up-to-date voter)"}};
  spec.target = CommandTarget::kLeader;
  return ctx_.admin().add_command(spec, [this, alive](const CommandArgs& args, CommandReply reply) {
    if (!*alive) return reply(unavailable("raft is stopping"));
    failover(args, std::move(reply));
  });
}

void RaftAdmin::stop() {
  *alive_ = false;
}

void RaftAdmin::failover(const CommandArgs& args, CommandReply reply) {
  const PeerId self = ctx_.instance().index;
  const ConsensusState state = node_.state();
  std::optional<PeerId> to;
  if (args.has("to")) {
    const int64_t v = args.get_int("to");
    const bool member = v >= 0 && (std::count(state.voters.begin(), state.voters.end(), v) > 0 ||
                                   std::count(state.learners.begin(), state.learners.end(), v) > 0);
    if (!member) {
      return reply(not_found("instance " + std::to_string(v) +
                             ": no such instance among the voters (" + id_list(state.voters) +
                             ")"));
    }
    to = static_cast<PeerId>(v);
  }
  if (state.role != ConsensusRole::kLeader) {
    return reply(failed_precondition(
        "instance " + std::to_string(self) + " is not the raft leader" +
        (state.leader ? " (instance " + std::to_string(*state.leader) + " is)" : std::string())));
  }
  if (to && *to == self) {
    CommandResult r = moved(self, self, state.term);
    return reply(std::move(r));
  }
  auto alive = alive_;
  node_.transfer_leadership(to, [this, alive, to, term = state.term, reply](Status st) {
    if (!st.ok()) return reply(st);
    if (!*alive) return reply(unavailable("raft stopped during the leadership transfer"));
    await_new_leader(term, to, kLeaderPolls, reply);
  });
}

void RaftAdmin::await_new_leader(uint64_t previous_term, std::optional<PeerId> to, int polls_left,
                                 CommandReply reply) {
  const PeerId self = ctx_.instance().index;
  const ConsensusState s = node_.state();
  const bool known = s.leader && *s.leader != self && s.term > previous_term;
  if (known || polls_left <= 0) {
    // Without news of the new leader, the asked-for target is the best answer; the supervisor
    // confirms the result from the instances' own role reports either way.
    const PeerId leader = known ? *s.leader : to.value_or(self);
    CommandResult r = moved(self, leader, s.term);
    r.leader = leader;
    return reply(std::move(r));
  }
  auto alive = alive_;
  ctx_.executor().schedule_after(kLeaderPoll, [this, alive, previous_term, to, polls_left, reply] {
    if (!*alive) return reply(unavailable("raft stopped during the leadership transfer"));
    await_new_leader(previous_term, to, polls_left - 1, reply);
  });
}

}  // namespace nodus::raft
