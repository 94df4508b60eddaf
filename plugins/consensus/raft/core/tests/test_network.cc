#include "test_network.h"

#include <algorithm>

namespace nodus::raft::testing {

Network::Network(size_t n, CoreConfig base, std::optional<size_t> voters) : base_(base) {
  pb::ConfState conf;
  const size_t v = voters.value_or(n);
  for (size_t i = 0; i < n; ++i) {
    if (i < v) {
      conf.add_voters(static_cast<uint32_t>(i));
    } else {
      conf.add_learners(static_cast<uint32_t>(i));
    }
  }
  initial_conf_ = conf;
  nodes_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Persisted p;
    p.bootstrap = conf;
    nodes_[i].snapshot.mutable_conf()->CopyFrom(conf);
    make_core(static_cast<PeerId>(i), std::move(p));
  }
}

void Network::make_core(PeerId id, Persisted p) {
  TestNode& n = nodes_[id];
  n.config = base_;
  n.config.id = id;
  auto core = Core::create(n.config, std::move(p));
  if (!core.ok()) {
    note("create " + std::to_string(id) + ": " + core.status().to_string());
    return;
  }
  n.core = std::move(core).value();
}

PeerId Network::add_node() {
  const auto id = static_cast<PeerId>(nodes_.size());
  nodes_.emplace_back();
  Persisted p;
  p.bootstrap = initial_conf_;
  nodes_.back().snapshot.mutable_conf()->CopyFrom(initial_conf_);
  make_core(id, std::move(p));
  return id;
}

void Network::process(PeerId id) {
  TestNode& n = nodes_.at(id);
  Core& c = *n.core;
  for (int guard = 0; guard < 1000 && c.has_ready(); ++guard) {
    Ready rd = c.ready();
    if (observer_) observer_(id, rd);
    if (rd.hard_state) n.hard_state = *rd.hard_state;
    if (rd.snapshot && n.skip_snapshot_installs > 0) {
      --n.skip_snapshot_installs;
    } else if (rd.snapshot) {
      // Persist and restore the snapshot image that came with the MSG_SNAPSHOT.
      n.snapshot = *rd.snapshot;
      n.log.clear();
      n.durable_log.clear();
      n.state = n.incoming_image.value_or(std::vector<std::string>{});
      n.snapshot_image = n.state;
      n.applied_index = rd.snapshot->index();
      n.unsynced.reset();
      c.snapshot_installed(*rd.snapshot);
    }
    if (!rd.entries.empty()) {
      const uint64_t first = rd.entries.front().index();
      while (!n.log.empty() && n.log.back().index() >= first)
        n.log.pop_back();
      for (auto& e : rd.entries)
        n.log.push_back(e);
      n.unsynced = std::make_pair(rd.entries.back().index(), rd.entries.back().term());
    }
    for (auto& m : rd.messages) {
      n.sent.push_back(m);
      queue_.push_back(m);
      images_.emplace_back(std::nullopt);
    }
    for (const auto& e : rd.committed) {
      if (e.index() != n.applied_index + 1) {
        note("node " + std::to_string(id) + " applied " + std::to_string(e.index()) + " after " +
             std::to_string(n.applied_index));
      }
      auto [it, inserted] = committed_.try_emplace(e.index(), e.term(), e.data());
      if (!inserted && (it->second.first != e.term() || it->second.second != e.data())) {
        note("state machine safety: index " + std::to_string(e.index()) + " differs at node " +
             std::to_string(id));
      }
      n.applied_index = e.index();
      if (e.type() == pb::ENTRY_NORMAL && !e.data().empty()) n.state.push_back(e.data());
    }
    if (!rd.committed.empty()) c.applied(n.applied_index);
    for (const auto& r : rd.read_states)
      n.read_states.push_back(r);
    for (auto r : rd.failed_reads)
      n.failed_reads.push_back(r);
    if (rd.transfer_result) n.transfer_results.push_back(*rd.transfer_result);
    for (PeerId to : rd.send_snapshot_to) {
      pb::Message m;
      m.set_type(pb::MSG_SNAPSHOT);
      m.set_from(id);
      m.set_to(to);
      m.set_term(c.state().term);
      *m.mutable_snapshot() = c.snapshot_meta();
      queue_.push_back(m);
      images_.emplace_back(n.snapshot_image);
    }
    if (n.auto_sync && n.unsynced) sync(id);
  }
  const ConsensusState s = c.state();
  if (s.role == ConsensusRole::kLeader) {
    auto [it, inserted] = leaders_.try_emplace(s.term, id);
    if (!inserted && it->second != id) {
      note("two leaders in term " + std::to_string(s.term) + ": " + std::to_string(it->second) +
           " and " + std::to_string(id));
    }
  }
  Status inv = c.check_invariants();
  if (!inv.ok()) note("node " + std::to_string(id) + ": " + inv.to_string());
}

void Network::sync(PeerId id) {
  TestNode& n = nodes_.at(id);
  if (!n.unsynced) return;
  auto [index, term] = *n.unsynced;
  n.unsynced.reset();
  n.durable_log = n.log;
  n.core->log_synced(index, term);
  process(id);
}

void Network::process_all() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    process(static_cast<PeerId>(i));
}

uint64_t Network::random(uint64_t bound) {
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  return bound == 0 ? 0 : rng_ % bound;
}

bool Network::blocked(PeerId from, PeerId to) const {
  return cuts_.count({std::min(from, to), std::max(from, to)}) > 0;
}

bool Network::deliver_one() {
  if (queue_.empty()) return false;
  deliver_at(reorder_ ? static_cast<size_t>(random(std::min<size_t>(queue_.size(), 8))) : 0);
  return true;
}

void Network::drop_at(size_t pos) {
  queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(pos));
  images_.erase(images_.begin() + static_cast<std::ptrdiff_t>(pos));
}

bool Network::deliver_at(size_t pos) {
  pb::Message m = queue_[pos];
  auto image = images_[pos];
  drop_at(pos);
  const bool lost = m.to() >= nodes_.size() || blocked(m.from(), m.to()) ||
                    (filter_ && filter_(m)) ||
                    (drop_per_mille_ > 0 && random(1000) < drop_per_mille_);
  if (m.type() == pb::MSG_SNAPSHOT && m.from() < nodes_.size()) {
    // The snapshot stream's outcome goes back to the sender's core.
    nodes_[m.from()].core->report_snapshot(m.to(), !lost);
    process(m.from());
  }
  if (lost) return false;
  TestNode& n = nodes_[m.to()];
  if (image) n.incoming_image = image;
  n.core->step(m);
  process(m.to());
  return true;
}

void Network::deliver(size_t max_messages) {
  for (size_t i = 0; i < max_messages && deliver_one(); ++i) {
  }
}

void Network::tick(PeerId id) {
  nodes_.at(id).core->tick();
  process(id);
}

void Network::tick_all() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    tick(static_cast<PeerId>(i));
}

void Network::run_ticks(int n) {
  for (int i = 0; i < n; ++i) {
    tick_all();
    deliver();
  }
}

void Network::cut(PeerId a, PeerId b) {
  cuts_.insert({std::min(a, b), std::max(a, b)});
}

void Network::isolate(PeerId id) {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i != id) cut(id, static_cast<PeerId>(i));
  }
}

void Network::heal() {
  cuts_.clear();
}

void Network::load(PeerId id, Persisted p) {
  TestNode& n = nodes_.at(id);
  n.hard_state = p.hard_state;
  n.snapshot = p.snapshot;
  if (p.snapshot.index() == 0) *n.snapshot.mutable_conf() = p.bootstrap;
  n.log = p.entries;
  n.durable_log = p.entries;
  n.state.clear();
  n.snapshot_image.clear();
  n.applied_index = p.snapshot.index();
  n.unsynced.reset();
  make_core(id, std::move(p));
}

void Network::restart(PeerId id) {
  TestNode& n = nodes_.at(id);
  // Entries written but never synced are lost in the crash.
  n.unsynced.reset();
  n.log = n.durable_log;
  Persisted p;
  p.hard_state = n.hard_state;
  // A follower's commit index may cover entries it had not synced yet; like the plugin's
  // storage, clamp it to the log that survived.
  const uint64_t last = n.log.empty() ? n.snapshot.index() : n.log.back().index();
  if (p.hard_state.commit() > last) p.hard_state.set_commit(last);
  p.snapshot = n.snapshot;
  p.entries = n.log;
  p.bootstrap = n.snapshot.conf();
  n.state = n.snapshot_image;
  n.applied_index = n.snapshot.index();
  make_core(id, std::move(p));
}

Status Network::compact(PeerId id) {
  TestNode& n = nodes_.at(id);
  pb::SnapshotMeta meta;
  meta.set_index(n.applied_index);
  NODUS_RETURN_IF_ERROR(n.core->compact(meta));
  n.snapshot = n.core->snapshot_meta();
  n.snapshot_image = n.state;
  auto keep = std::remove_if(n.log.begin(), n.log.end(),
                             [&](const pb::Entry& e) { return e.index() <= n.snapshot.index(); });
  n.log.erase(keep, n.log.end());
  auto keep_durable =
      std::remove_if(n.durable_log.begin(), n.durable_log.end(),
                     [&](const pb::Entry& e) { return e.index() <= n.snapshot.index(); });
  n.durable_log.erase(keep_durable, n.durable_log.end());
  return {};
}

std::optional<PeerId> Network::leader() const {
  std::optional<PeerId> best;
  uint64_t best_term = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const ConsensusState s = nodes_[i].core->state();
    if (s.role == ConsensusRole::kLeader && (!best || s.term > best_term)) {
      best = static_cast<PeerId>(i);
      best_term = s.term;
    }
  }
  return best;
}

std::optional<PeerId> Network::wait_leader(int max_rounds) {
  for (int i = 0; i < max_rounds; ++i) {
    if (auto l = leader()) return l;
    tick_all();
    deliver();
  }
  return leader();
}

void Network::check_log_matching() {
  for (size_t a = 0; a < nodes_.size(); ++a) {
    for (size_t b = a + 1; b < nodes_.size(); ++b) {
      const Core& x = *nodes_[a].core;
      const Core& y = *nodes_[b].core;
      const uint64_t hi = std::min(x.last_index(), y.last_index());
      const uint64_t lo = std::max(x.first_index(), y.first_index());
      // Find the highest index where both hold the same term; everything below must agree.
      bool matched = false;
      for (uint64_t i = hi; i >= lo && i > 0; --i) {
        const uint64_t tx = x.term_at(i);
        if (!matched && tx != 0 && tx == y.term_at(i)) matched = true;
        if (matched && x.term_at(i) != y.term_at(i)) {
          note("log matching broken between " + std::to_string(a) + " and " + std::to_string(b) +
               " at " + std::to_string(i));
          break;
        }
      }
    }
  }
}

}  // namespace nodus::raft::testing
