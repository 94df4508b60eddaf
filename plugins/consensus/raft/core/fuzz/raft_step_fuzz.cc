// Fuzz target of Core::step(): builds a small cluster state (node 0 of three voters, as a
// follower, a leader or a candidate, with a short log) and runs a sequence of operations
// decoded from the input: serialized pb::Message values to step (with the recipient forced
// or not), ticks, proposals, reads, compaction, snapshot reports and Ready handling. After
// every operation the core's invariants must hold; any violation aborts.
//
// Input: byte 0 picks the starting role; then each operation is one byte (value % 10) with
// its arguments following (messages: a 2-byte little-endian length and the bytes).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "raft_core.h"

namespace {

using namespace nodus::raft;  // NOLINT(google-build-using-namespace): a fuzz driver

class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

pb::Entry make_entry(uint64_t index, uint64_t term) {
  pb::Entry e;
  e.set_index(index);
  e.set_term(term);
  e.set_data("cmd" + std::to_string(index));
  return e;
}

void check(const Core& core) {
  const nodus::Status s = core.check_invariants();
  if (!s.ok()) {
    std::fprintf(stderr, "invariant violated: %s\n", s.to_string().c_str());
    std::abort();
  }
}

// Plays a well-behaved driver: persists, syncs, applies.
void drain(Core& core) {
  for (int guard = 0; guard < 8 && core.has_ready(); ++guard) {
    Ready rd = core.ready();
    if (rd.snapshot) core.snapshot_installed(*rd.snapshot);
    if (!rd.entries.empty()) {
      core.log_synced(rd.entries.back().index(), rd.entries.back().term());
    }
    if (!rd.committed.empty()) core.applied(rd.committed.back().index());
    check(core);
  }
}

pb::Message reply(pb::MessageType type, uint32_t from, uint64_t term) {
  pb::Message m;
  m.set_type(type);
  m.set_from(from);
  m.set_to(0);
  m.set_term(term);
  return m;
}

std::unique_ptr<Core> build(uint8_t role) {
  Persisted p;
  for (uint32_t i = 0; i < 3; ++i)
    p.bootstrap.add_voters(i);
  p.hard_state.set_term(3);
  p.hard_state.set_commit(2);
  const uint64_t terms[] = {1, 1, 2, 2, 3};
  for (uint64_t i = 0; i < 5; ++i)
    p.entries.push_back(make_entry(i + 1, terms[i]));
  CoreConfig c;
  c.id = 0;
  c.election_ticks = 5;
  c.max_inflight_msgs = 4;
  c.max_msg_bytes = 64;
  c.read_mode = (role & 4) != 0 ? ReadMode::kLease : ReadMode::kReadIndex;
  auto created = Core::create(c, std::move(p));
  if (!created.ok()) std::abort();
  std::unique_ptr<Core> core = std::move(created).value();
  drain(*core);
  if (role % 3 == 0) return core;  // follower
  core->campaign();
  drain(*core);
  const uint64_t term = core->state().term;
  pb::Message pre = reply(pb::MSG_PRE_VOTE_RESP, 1, term + 1);
  core->step(pre);
  drain(*core);
  if (role % 3 == 2) return core;  // candidate
  core->step(reply(pb::MSG_VOTE_RESP, 1, core->state().term));
  drain(*core);
  return core;  // leader
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  std::unique_ptr<Core> core = build(in.byte());
  uint64_t read_id = 0;
  for (int ops = 0; ops < 256 && !in.empty(); ++ops) {
    const uint8_t op = in.byte();
    switch (op % 10) {
      case 0:
      case 1: {
        size_t len = in.byte();
        len |= static_cast<size_t>(in.byte()) << 8;
        pb::Message m;
        if (!m.ParseFromString(in.bytes(len))) break;
        if (op % 10 == 1) m.set_to(0);  // addressed to us, so it gets past the first check
        core->step(m);
        break;
      }
      case 2:
        core->tick();
        break;
      case 3:
        (void)core->propose(std::string(in.byte() % 32, 'p'));
        break;
      case 4:
        drain(*core);
        break;
      case 5:
        core->read_index(++read_id);
        break;
      case 6: {
        pb::SnapshotMeta meta;
        meta.set_index(core->state().applied_index);
        (void)core->compact(meta);
        break;
      }
      case 7: {
        const uint8_t b = in.byte();
        (void)core->transfer_leadership(b % 4 == 3 ? std::nullopt : std::optional<uint32_t>(b % 4));
        break;
      }
      case 8: {
        const uint8_t b = in.byte();
        if (b & 1) {
          core->report_snapshot(b % 5, (b & 2) != 0);
        } else {
          core->report_unreachable(b % 5);
        }
        break;
      }
      case 9: {
        const uint8_t b = in.byte();
        pb::ConfChange cc;
        cc.set_kind(static_cast<pb::ConfChange::Kind>(b % 3));
        cc.set_peer(b / 3 % 5);
        (void)core->propose_conf_change(cc);
        break;
      }
    }
    check(*core);
  }
  drain(*core);
  check(*core);
  return 0;
}
