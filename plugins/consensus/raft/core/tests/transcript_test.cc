// Transcript tests: each file in ../testdata/ is a script of steps against a cluster of real
// Cores on the in-test network, each step followed by what it produced (Readys: state changes,
// hard states, entries persisted and applied, messages sent, read states). The test replays the
// script and fails with a diff when the output differs; NODUS_REWRITE_TRANSCRIPTS=1 rewrites
// the files instead, so a behaviour change is reviewed as a diff of the transcript. The format
// and the commands are described in ../README.md ("Transcripts").
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core_impl.h"
#include "test_network.h"

namespace nodus::raft::testing {
namespace {

namespace fs = std::filesystem;

// ---- the file format ----

// One step: the comments and blank lines before it, the command, and the recorded output.
struct Step {
  std::string preamble;
  std::string command;
  std::vector<std::string> expected;
  int line = 0;  // of the command, for messages
};

struct Script {
  std::vector<Step> steps;
  std::string trailer;  // comments after the last step
};

Script parse(std::istream& in) {
  Script s;
  std::string pending;
  std::string line;
  int number = 0;
  bool have = false;  // a line read ahead that is not consumed yet
  while (have || std::getline(in, line)) {
    have = false;
    ++number;
    if (line.empty() && pending.empty() && !s.steps.empty()) {
      continue;  // blank lines between steps: render() writes one
    }
    if (line.empty() || line[0] == '#') {
      pending += line + "\n";
      continue;
    }
    Step step;
    step.preamble = std::move(pending);
    pending.clear();
    step.command = line;
    step.line = number;
    if (std::getline(in, line)) {
      ++number;
      if (line == "----") {
        // The output runs to the next blank line, which ends the step.
        while (std::getline(in, line)) {
          ++number;
          if (line.empty()) break;
          step.expected.push_back(line);
        }
      } else {
        have = true;  // a step with no recorded output yet: this line starts the next one
        --number;
      }
    }
    s.steps.push_back(std::move(step));
  }
  s.trailer = std::move(pending);
  return s;
}

std::string render(const Script& s, const std::vector<std::vector<std::string>>& outputs) {
  std::string out;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const Step& step = s.steps[i];
    out += step.preamble + step.command + "\n----\n";
    for (const auto& l : outputs[i])
      out += l + "\n";
    if (i + 1 < s.steps.size() || !s.trailer.empty()) out += "\n";
  }
  return out + s.trailer;
}

// ---- printing what the core produced ----

std::string entry_id(uint64_t index, uint64_t term) {
  return std::to_string(index) + ":t" + std::to_string(term);
}

std::string conf_change_text(const std::string& data) {
  pb::ConfChange cc;
  if (!cc.ParseFromString(data)) return "conf <unparsable>";
  const char* kind = cc.kind() == pb::ConfChange::ADD_VOTER     ? "add-voter"
                     : cc.kind() == pb::ConfChange::ADD_LEARNER ? "add-learner"
                                                                : "remove";
  return std::string("conf ") + kind + " " + std::to_string(cc.peer());
}

std::string entry_text(const pb::Entry& e) {
  std::string out = entry_id(e.index(), e.term()) + " ";
  if (e.type() == pb::ENTRY_CONF_CHANGE) return out + conf_change_text(e.data());
  return out + (e.data().empty() ? "noop" : "\"" + e.data() + "\"");
}

// A vector or a repeated field of entries, on one line.
template <typename Entries>
std::string entries_text(const Entries& es) {
  std::string out;
  for (const auto& e : es)
    out += (out.empty() ? "" : ", ") + entry_text(e);
  return out;
}

template <typename Ids>
std::string ids_text(const Ids& ids) {
  std::string out = "[";
  for (const auto& id : ids)
    out += (out.size() > 1 ? " " : "") + std::to_string(id);
  return out + "]";
}

std::string conf_text(const pb::ConfState& c) {
  return "voters=" + ids_text(c.voters()) + " learners=" + ids_text(c.learners());
}

std::string snapshot_text(const pb::SnapshotMeta& s) {
  return entry_id(s.index(), s.term()) + " " + conf_text(s.conf());
}

const char* type_name(pb::MessageType t) {
  switch (t) {
    case pb::MSG_APPEND:
      return "MsgApp";
    case pb::MSG_APPEND_RESP:
      return "MsgAppResp";
    case pb::MSG_VOTE:
      return "MsgVote";
    case pb::MSG_VOTE_RESP:
      return "MsgVoteResp";
    case pb::MSG_PRE_VOTE:
      return "MsgPreVote";
    case pb::MSG_PRE_VOTE_RESP:
      return "MsgPreVoteResp";
    case pb::MSG_HEARTBEAT:
      return "MsgHeartbeat";
    case pb::MSG_HEARTBEAT_RESP:
      return "MsgHeartbeatResp";
    case pb::MSG_SNAPSHOT:
      return "MsgSnap";
    case pb::MSG_SNAPSHOT_RESP:
      return "MsgSnapResp";
    case pb::MSG_TIMEOUT_NOW:
      return "MsgTimeoutNow";
    case pb::MSG_READ_INDEX:
      return "MsgReadIndex";
    case pb::MSG_READ_INDEX_RESP:
      return "MsgReadIndexResp";
    default:
      return "MsgUnknown";
  }
}

// Every field a message type uses, except lease_tick: it counts the leader's ticks and only
// matters to lease reads, which the scenario tests cover (it would change every line here).
std::string message_text(const pb::Message& m) {
  std::string out = std::to_string(m.from()) + "->" + std::to_string(m.to()) + " " +
                    type_name(m.type()) + " term=" + std::to_string(m.term());
  switch (m.type()) {
    case pb::MSG_APPEND:
      out += " prev=" + entry_id(m.index(), m.log_term()) + " commit=" + std::to_string(m.commit());
      if (m.entries_size() > 0) out += " entries=[" + entries_text(m.entries()) + "]";
      break;
    case pb::MSG_VOTE:
    case pb::MSG_PRE_VOTE:
      out += " last=" + entry_id(m.index(), m.log_term());
      break;
    case pb::MSG_APPEND_RESP:
      out += " index=" + std::to_string(m.index());
      if (m.reject()) out += " reject hint=" + entry_id(m.reject_hint(), m.log_term());
      break;
    case pb::MSG_SNAPSHOT:
      out += " snapshot=" + snapshot_text(m.snapshot());
      break;
    default:
      if (m.index() != 0) out += " index=" + std::to_string(m.index());
      if (m.log_term() != 0) out += " log_term=" + std::to_string(m.log_term());
      if (m.commit() != 0 || m.type() == pb::MSG_HEARTBEAT) {
        out += " commit=" + std::to_string(m.commit());
      }
      if (m.reject()) out += " reject";
      break;
  }
  if (!m.context().empty()) {
    const auto v = decode_u64(m.context());
    out += " ctx=" + (v ? std::to_string(*v) : "<" + std::to_string(m.context().size()) + "B>");
  }
  if (m.transfer()) out += " transfer";
  return out;
}

// ---- running commands ----

using Args = std::vector<std::string>;

// key=value arguments and positional ones, from a command line.
struct Parsed {
  std::string name;
  Args positional;
  std::map<std::string, std::string> keys;
};

Parsed split(const std::string& command) {
  Parsed p;
  std::istringstream in(command);
  in >> p.name;
  std::string word;
  while (in >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) {
      p.positional.push_back(word);
    } else {
      p.keys[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return p;
}

// Thrown for a malformed script: the step's output then says what is wrong.
struct ScriptError {
  std::string what;
};

uint64_t number(const std::string& s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    throw ScriptError{"not a number: '" + s + "'"};
  }
  return std::stoull(s);
}

bool boolean(const std::string& s) {
  if (s == "true") return true;
  if (s == "false") return false;
  throw ScriptError{"not true/false: '" + s + "'"};
}

class Transcript {
 public:
  std::vector<std::string> run(const std::string& command) {
    out_.clear();
    try {
      dispatch(split(command));
    } catch (const ScriptError& e) {
      // A malformed script is the test's fault, never something to record.
      out_.push_back("error: " + e.what);
      ADD_FAILURE() << "'" << command << "': " << e.what;
    }
    if (net_ && net_->violations().size() > violations_seen_) {
      for (size_t i = violations_seen_; i < net_->violations().size(); ++i) {
        out_.push_back("VIOLATION: " + net_->violations()[i]);
        ADD_FAILURE() << "safety violation after '" << command << "': " << net_->violations()[i];
      }
      violations_seen_ = net_->violations().size();
    }
    if (out_.empty()) out_.push_back("ok");
    return out_;
  }

 private:
  void emit(const std::string& line) { out_.push_back(indent_ + line); }

  Network& net() {
    if (!net_) throw ScriptError{"no nodes: start with add-nodes"};
    return *net_;
  }

  PeerId node(const std::string& s) {
    const uint64_t id = number(s);
    if (id >= net().size()) throw ScriptError{"no node " + s};
    return static_cast<PeerId>(id);
  }

  PeerId node_arg(const Parsed& p, size_t i = 0) {
    if (p.positional.size() <= i) throw ScriptError{p.name + ": missing node id"};
    return node(p.positional[i]);
  }

  void on_ready(PeerId id, const Ready& rd) {
    const std::string n = std::to_string(id) + " ";
    if (rd.soft_state) {
      emit(n + "role " + std::string(consensus_role_name(rd.soft_state->role)) + ", leader " +
           (rd.soft_state->leader ? std::to_string(*rd.soft_state->leader) : "none"));
    }
    if (rd.hard_state) {
      const auto& hs = *rd.hard_state;
      emit(n + "hardstate term=" + std::to_string(hs.term()) +
           " vote=" + (hs.has_vote() ? std::to_string(hs.vote()) : "none") +
           " commit=" + std::to_string(hs.commit()));
    }
    if (rd.snapshot) emit(n + "install snapshot " + snapshot_text(*rd.snapshot));
    if (!rd.entries.empty()) emit(n + "persist " + entries_text(rd.entries));
    for (const auto& m : rd.messages)
      emit(n + "send " + message_text(m));
    if (!rd.committed.empty()) emit(n + "apply " + entries_text(rd.committed));
    for (const auto& r : rd.read_states) {
      emit(n + "read id=" + std::to_string(r.request_id) + " index=" + std::to_string(r.index));
    }
    for (auto r : rd.failed_reads)
      emit(n + "read failed id=" + std::to_string(r));
    for (PeerId to : rd.send_snapshot_to)
      emit(n + "stream snapshot to " + std::to_string(to));
    if (rd.transfer_result) emit(n + "transfer result " + rd.transfer_result->to_string());
  }

  void add_nodes(const Parsed& p) {
    if (p.positional.size() != 1) throw ScriptError{"add-nodes N [key=value...]"};
    const uint64_t count = number(p.positional[0]);
    if (net_) {
      if (!p.keys.empty()) throw ScriptError{"options only on the first add-nodes"};
      for (uint64_t i = 0; i < count; ++i) {
        const PeerId id = net_->add_node();
        emit("added " + std::to_string(id) + " (boots with the initial configuration)");
      }
      return;
    }
    CoreConfig c;
    std::optional<size_t> voters;
    for (const auto& [k, v] : p.keys) {
      if (k == "voters") {
        voters = number(v);
      } else if (k == "pre-vote") {
        c.pre_vote = boolean(v);
      } else if (k == "check-quorum") {
        c.check_quorum = boolean(v);
      } else if (k == "election") {
        c.election_ticks = static_cast<uint32_t>(number(v));
      } else if (k == "heartbeat") {
        c.heartbeat_ticks = static_cast<uint32_t>(number(v));
      } else if (k == "max-msg-bytes") {
        c.max_msg_bytes = number(v);
      } else {
        throw ScriptError{"unknown option " + k};
      }
    }
    net_ = std::make_unique<Network>(count, c, voters);
    net_->set_observer([this](PeerId id, const Ready& rd) { on_ready(id, rd); });
    for (size_t i = 0; i < count; ++i)
      status(static_cast<PeerId>(i));
  }

  void status(PeerId id) {
    const Core& c = *net().node(id).core;
    const ConsensusState s = c.state();
    emit(std::to_string(id) + " " + std::string(consensus_role_name(s.role)) + " term=" +
         std::to_string(s.term) + " leader=" + (s.leader ? std::to_string(*s.leader) : "none") +
         " commit=" + std::to_string(s.commit_index) +
         " applied=" + std::to_string(s.applied_index) + " log=" + std::to_string(c.first_index()) +
         ".." + std::to_string(c.last_index()) + " " + conf_text(c.conf_state()));
  }

  // Delivers the messages queued now (not the ones they cause) that match the filter.
  void deliver(const Parsed& p, bool drop) {
    std::optional<PeerId> from;
    std::optional<PeerId> to;
    std::optional<std::string> type;
    std::optional<uint64_t> ctx;
    for (const auto& [k, v] : p.keys) {
      if (k == "from") {
        from = node(v);
      } else if (k == "to") {
        to = node(v);
      } else if (k == "type") {
        type = v;
      } else if (k == "ctx") {
        ctx = number(v);
      } else {
        throw ScriptError{"unknown option " + k};
      }
    }
    const auto match = [&](const pb::Message& m) {
      return (!from || m.from() == *from) && (!to || m.to() == *to) &&
             (!type || *type == type_name(m.type())) && (!ctx || decode_u64(m.context()) == ctx);
    };
    // Messages sent while delivering go to the back of the queue: skip past them.
    size_t remaining = net().queue().size();
    size_t pos = 0;
    while (remaining-- > 0) {
      const pb::Message m = net().queue()[pos];
      if (!match(m)) {
        ++pos;
        continue;
      }
      if (drop) {
        emit("dropped " + message_text(m));
        net().drop_at(pos);
        continue;
      }
      emit(message_text(m));
      indent_ = "  ";
      const bool delivered = net().deliver_at(pos);
      indent_.clear();
      if (!delivered) emit("  lost (partition)");
    }
  }

  void stabilize() {
    for (int round = 0; round < 1000 && !net().queue().empty(); ++round)
      deliver(Parsed{}, false);
    if (!net().queue().empty()) throw ScriptError{"still not quiet after 1000 rounds"};
  }

  void dispatch(const Parsed& p) {
    const std::string& c = p.name;
    if (c == "add-nodes") {
      add_nodes(p);
    } else if (c == "campaign") {
      const PeerId id = node_arg(p);
      net().core(id).campaign();
      net().process(id);
    } else if (c == "tick") {
      const PeerId id = node_arg(p);
      const uint64_t n = p.positional.size() > 1 ? number(p.positional[1]) : 1;
      for (uint64_t i = 0; i < n; ++i)
        net().tick(id);
    } else if (c == "deliver-msgs") {
      deliver(p, false);
    } else if (c == "drop") {
      deliver(p, true);
    } else if (c == "stabilize") {
      stabilize();
    } else if (c == "propose") {
      const PeerId id = node_arg(p);
      if (p.positional.size() != 2) throw ScriptError{"propose NODE DATA"};
      auto r = net().core(id).propose(p.positional[1]);
      if (!r.ok()) emit("refused: " + r.status().to_string());
      net().process(id);
    } else if (c == "conf-change") {
      const PeerId id = node_arg(p);
      if (p.positional.size() != 3)
        throw ScriptError{"conf-change NODE add-voter|add-learner|remove PEER"};
      pb::ConfChange cc;
      const std::string& kind = p.positional[1];
      if (kind == "add-voter") {
        cc.set_kind(pb::ConfChange::ADD_VOTER);
      } else if (kind == "add-learner") {
        cc.set_kind(pb::ConfChange::ADD_LEARNER);
      } else if (kind == "remove") {
        cc.set_kind(pb::ConfChange::REMOVE);
      } else {
        throw ScriptError{"unknown change " + kind};
      }
      cc.set_peer(static_cast<uint32_t>(number(p.positional[2])));
      auto r = net().core(id).propose_conf_change(cc);
      if (!r.ok()) emit("refused: " + r.status().to_string());
      net().process(id);
    } else if (c == "transfer-leadership") {
      const PeerId id = node_arg(p);
      std::optional<PeerId> to;
      if (p.keys.count("to")) to = node(p.keys.at("to"));
      Status s = net().core(id).transfer_leadership(to);
      if (!s.ok()) emit("refused: " + s.to_string());
      net().process(id);
    } else if (c == "read-index") {
      // Several ids: the reads are requested between two ready() calls (one batch).
      const PeerId id = node_arg(p);
      if (p.positional.size() < 2) throw ScriptError{"read-index NODE REQUEST_ID..."};
      for (size_t i = 1; i < p.positional.size(); ++i)
        net().core(id).read_index(number(p.positional[i]));
      net().process(id);
    } else if (c == "isolate") {
      net().isolate(node_arg(p));
    } else if (c == "cut") {
      net().cut(node_arg(p, 0), node_arg(p, 1));
    } else if (c == "heal") {
      net().heal();
    } else if (c == "compact") {
      const PeerId id = node_arg(p);
      Status s = net().compact(id);
      if (!s.ok()) throw ScriptError{s.to_string()};
      emit(std::to_string(id) + " snapshot " + snapshot_text(net().core(id).snapshot_meta()) +
           ", log now " + std::to_string(net().core(id).first_index()) + ".." +
           std::to_string(net().core(id).last_index()));
    } else if (c == "restart") {
      const PeerId id = node_arg(p);
      net().restart(id);
      status(id);
    } else if (c == "load") {
      load(p);
    } else if (c == "status") {
      if (p.positional.empty()) {
        for (size_t i = 0; i < net().size(); ++i)
          status(static_cast<PeerId>(i));
      } else {
        for (size_t i = 0; i < p.positional.size(); ++i)
          status(node_arg(p, i));
      }
    } else if (c == "log") {
      const PeerId id = node_arg(p);
      const TestNode& n = net().node(id);
      emit(std::to_string(id) + " snapshot " + snapshot_text(n.snapshot));
      emit(std::to_string(id) + " entries " + (n.log.empty() ? "none" : entries_text(n.log)));
      std::string sm;
      for (const auto& cmd : n.state)
        sm += (sm.empty() ? "" : " ") + cmd;
      emit(std::to_string(id) + " state machine [" + sm + "]");
    } else {
      throw ScriptError{"unknown command " + c};
    }
  }

  // load NODE term=T [vote=V] [commit=C] entries=I:tT[:data],...  replaces a node's disk (the
  // configuration is the cluster's initial one) and restarts it from there.
  void load(const Parsed& p) {
    const PeerId id = node_arg(p);
    Persisted per;
    per.bootstrap = net().node(id).snapshot.conf();
    for (const auto& [k, v] : p.keys) {
      if (k == "term") {
        per.hard_state.set_term(number(v));
      } else if (k == "vote") {
        per.hard_state.set_vote(static_cast<uint32_t>(number(v)));
      } else if (k == "commit") {
        per.hard_state.set_commit(number(v));
      } else if (k == "entries") {
        std::istringstream in(v);
        std::string item;
        while (std::getline(in, item, ',')) {
          // index:tterm[:data]
          const auto a = item.find(":t");
          if (a == std::string::npos) throw ScriptError{"entry is index:tterm[:data]: " + item};
          const auto b = item.find(':', a + 2);
          pb::Entry e;
          e.set_index(number(item.substr(0, a)));
          e.set_term(number(item.substr(a + 2, b == std::string::npos ? b : b - a - 2)));
          if (b != std::string::npos) e.set_data(item.substr(b + 1));
          per.entries.push_back(e);
        }
      } else {
        throw ScriptError{"unknown option " + k};
      }
    }
    net().load(id, std::move(per));
    status(id);
  }

  std::unique_ptr<Network> net_;
  std::vector<std::string> out_;
  std::string indent_;
  size_t violations_seen_ = 0;
};

// ---- discovery and the test cases ----

fs::path transcript_dir() {
  // The override lets one check that an empty or missing directory fails the suite.
  if (const char* d = std::getenv("NODUS_RAFT_TRANSCRIPT_DIR")) return d;
  return NODUS_RAFT_TRANSCRIPT_DIR;
}

std::vector<std::string> transcript_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(transcript_dir(), ec)) {
    if (e.path().extension() == ".txt") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool rewrite_requested() {
  const char* v = std::getenv("NODUS_REWRITE_TRANSCRIPTS");
  return v != nullptr && std::string(v) == "1";
}

// A unified-style listing of the lines that differ, with the step's command as context.
std::string diff(const Script& s, const std::vector<std::vector<std::string>>& actual) {
  std::string out;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const auto& want = s.steps[i].expected;
    const auto& got = actual[i];
    if (want == got) continue;
    out += "@@ line " + std::to_string(s.steps[i].line) + ": " + s.steps[i].command + "\n";
    // Longest common subsequence, so an inserted line shows as one '+', not a cascade.
    const size_t n = want.size();
    const size_t m = got.size();
    std::vector<std::vector<size_t>> lcs(n + 1, std::vector<size_t>(m + 1, 0));
    for (size_t a = n; a-- > 0;) {
      for (size_t b = m; b-- > 0;) {
        lcs[a][b] =
            want[a] == got[b] ? lcs[a + 1][b + 1] + 1 : std::max(lcs[a + 1][b], lcs[a][b + 1]);
      }
    }
    std::vector<std::pair<char, std::string>> ops;
    size_t a = 0;
    size_t b = 0;
    while (a < n || b < m) {
      if (a < n && b < m && want[a] == got[b]) {
        ops.emplace_back(' ', want[a]);
        ++a;
        ++b;
      } else if (b < m && (a == n || lcs[a][b + 1] >= lcs[a + 1][b])) {
        ops.emplace_back('+', got[b++]);
      } else {
        ops.emplace_back('-', want[a++]);
      }
    }
    // Unchanged lines only near a change, so a long stabilize step stays readable.
    constexpr size_t kContextLines = 3;
    bool gap = false;
    for (size_t k = 0; k < ops.size(); ++k) {
      bool near = false;
      for (size_t d = k >= kContextLines ? k - kContextLines : 0;
           d < std::min(ops.size(), k + kContextLines + 1); ++d) {
        near = near || ops[d].first != ' ';
      }
      if (!near) {
        gap = true;
        continue;
      }
      if (gap) out += "  ...\n";
      gap = false;
      out += std::string(1, ops[k].first) + " " + ops[k].second + "\n";
    }
  }
  return out;
}

// Goal: the transcripts exist; a missing or empty directory would otherwise pass silently.
TEST(RaftTranscript, DirectoryHasTranscripts) {
  const auto names = transcript_names();
  ASSERT_FALSE(names.empty()) << "no *.txt transcripts in " << transcript_dir();
  for (const char* topic : {"election", "pre_vote", "check_quorum", "log_conflict", "snapshot",
                            "membership", "transfer_leadership", "read_index"}) {
    EXPECT_TRUE(std::find(names.begin(), names.end(), topic) != names.end())
        << "missing transcript " << topic << ".txt in " << transcript_dir();
  }
}

class RaftTranscriptFile : public ::testing::TestWithParam<std::string> {};

// Goal: the core still produces, step by step, exactly the recorded transcript.
TEST_P(RaftTranscriptFile, MatchesRecording) {
  const fs::path path = transcript_dir() / (GetParam() + ".txt");
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  const Script script = parse(in);
  ASSERT_FALSE(script.steps.empty()) << path << " has no steps";
  Transcript t;
  std::vector<std::vector<std::string>> actual;
  for (const auto& step : script.steps)
    actual.push_back(t.run(step.command));
  if (rewrite_requested()) {
    std::ofstream out(path, std::ios::trunc);
    out << render(script, actual);
    ASSERT_TRUE(out.good()) << "cannot write " << path;
    return;
  }
  const std::string d = diff(script, actual);
  EXPECT_TRUE(d.empty()) << path << " differs (- recorded, + now); review the change and "
                         << "rerun with NODUS_REWRITE_TRANSCRIPTS=1 to record it:\n"
                         << d;
}

INSTANTIATE_TEST_SUITE_P(Testdata, RaftTranscriptFile, ::testing::ValuesIn(transcript_names()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });
// An empty directory leaves MatchesRecording uninstantiated; DirectoryHasTranscripts reports it.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(RaftTranscriptFile);

}  // namespace
}  // namespace nodus::raft::testing
