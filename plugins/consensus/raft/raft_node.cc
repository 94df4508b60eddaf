#include "raft_node.h"

#include <algorithm>
#include <set>
#include <utility>

#include "nodus/check.h"

namespace nodus::raft {
namespace {

double seconds_of(Duration d) {
  return std::chrono::duration<double>(d).count();
}

// "0,1,2" (or "none"), for log lines.
template <typename Peers>
std::string peer_list(const Peers& peers) {
  std::string out;
  for (PeerId p : peers) {
    if (!out.empty()) out += ",";
    out += std::to_string(p);
  }
  return out.empty() ? "none" : out;
}

void apply_conf_change(pb::ConfState& conf, const pb::ConfChange& cc) {
  auto drop = [](google::protobuf::RepeatedField<uint32_t>* f, uint32_t peer) {
    auto end = std::remove(f->begin(), f->end(), peer);
    f->Truncate(static_cast<int>(end - f->begin()));
  };
  drop(conf.mutable_voters(), cc.peer());
  drop(conf.mutable_learners(), cc.peer());
  if (cc.kind() == pb::ConfChange::ADD_VOTER) conf.add_voters(cc.peer());
  if (cc.kind() == pb::ConfChange::ADD_LEARNER) conf.add_learners(cc.peer());
}

}  // namespace

RaftNode::RaftNode(PluginContext& ctx, RaftConfig config)
    : ctx_(ctx),
      config_(std::move(config)),
      metrics_(ctx.metrics()),
      pending_(config_.max_pending) {}

RaftNode::~RaftNode() {
  *alive_ = false;
}

Status RaftNode::start() {
  const PeerId self = ctx_.transport().self();
  NODUS_ASSIGN_OR_RETURN(storage_, RaftStorage::open(ctx_.storage(), config_.fsync, ctx_.clock()));
  // The configuration of the very first start; every later start reads the stored one (see
  // raft_storage.h), whatever instance count this process was given. An instance that
  // `nodus scale` adds has none of its own: it learns the cluster's from its peers.
  const bool joining = ctx_.instance().joining;
  pb::ConfState bootstrap;
  if (!joining) {
    for (PeerId v : config_.voters)
      bootstrap.add_voters(v);
    for (PeerId l : config_.learners)
      bootstrap.add_learners(l);
  }
  NODUS_ASSIGN_OR_RETURN(LoadedState loaded, storage_->load(bootstrap, !joining));
  NODUS_ASSIGN_OR_RETURN(const uint64_t read_epoch, storage_->take_read_epoch());
  next_read_id_ = (read_epoch << kReadIdEpochShift) | 1;
  // A joining node's empty configuration is only a placeholder: it must not be stored, and
  // the node must not take part, until it learned the cluster's initial configuration (see
  // ask_initial_conf): entries from index 1 only make sense on top of that one.
  awaiting_conf_ = joining && !loaded.initial_conf_from_disk;
  NODUS_RETURN_IF_ERROR(open_core(std::move(loaded)));
  storage_->set_on_synced(
      [this](uint64_t index, uint64_t term, Duration took) { on_synced(index, term, took); });
  storage_->set_on_sync_failed([this](const Status& why) { fatal(why.with_context("log sync")); });

  SnapshotSenderOptions so;
  so.chunk_bytes = config_.snapshot_chunk_bytes;
  so.resend_after = std::chrono::milliseconds(
      std::max<uint32_t>(config_.election_timeout_min_ms, 4 * config_.heartbeat_ms));
  sender_ = std::make_unique<SnapshotSender>(
      self, so,
      [this](PeerId to, std::string payload) {
        if (!ctx_.transport().send(to, kSnapChannel, std::move(payload)).ok()) {
          metrics_.messages_dropped.inc();
        }
      },
      [this](PeerId peer, bool ok) {
        if (ok) metrics_.snapshots_sent.inc();
        if (core_) core_->report_snapshot(peer, ok);
        process_ready();
      });
  receiver_ = std::make_unique<SnapshotReceiver>(self, [this](PeerId to, std::string payload) {
    if (!ctx_.transport().send(to, kSnapAckChannel, std::move(payload)).ok()) {
      metrics_.messages_dropped.inc();
    }
  });

  Transport& t = ctx_.transport();
  NODUS_RETURN_IF_ERROR(t.on_message(std::string(kRaftChannel),
                                     [this](PeerId from, std::string p) { on_message(from, p); }));
  NODUS_RETURN_IF_ERROR(t.on_message(std::string(kSnapChannel),
                                     [this](PeerId from, std::string p) { on_chunk(from, p); }));
  NODUS_RETURN_IF_ERROR(t.on_message(
      std::string(kSnapAckChannel), [this](PeerId from, std::string p) { on_chunk_ack(from, p); }));
  NODUS_RETURN_IF_ERROR(
      t.on_call(std::string(kProposeMethod), [this](PeerId from, std::string req, CallReply r) {
        on_forward(from, std::move(req), std::move(r));
      }));
  NODUS_RETURN_IF_ERROR(t.on_call(
      std::string(kInitialConfMethod),
      [this](PeerId, std::string, CallReply r) { on_initial_conf_request(std::move(r)); }));

  started_ = true;
  const pb::ConfState now_conf = core_->conf_state();
  const bool learner = std::find(now_conf.learners().begin(), now_conf.learners().end(), self) !=
                       now_conf.learners().end();
  role_ = learner ? ConsensusRole::kLearner : ConsensusRole::kFollower;
  ctx_.set_role(consensus_role_name(role_));
  metrics_.set_role(role_);
  // A single voter has nobody to wait for.
  if (now_conf.voters_size() == 1 && now_conf.voters(0) == self) core_->campaign();
  schedule_tick();
  process_ready();
  return {};
}

Status RaftNode::open_core(LoadedState loaded) {
  const PeerId self = ctx_.transport().self();
  const bool conf_from_disk = loaded.initial_conf_from_disk;
  initial_conf_ = loaded.persisted.bootstrap;
  saved_hard_state_ = loaded.persisted.hard_state;
  if (!loaded.repaired.empty()) ctx_.logger().warn("raft log recovery: " + loaded.repaired);

  const pb::SnapshotMeta& snap = loaded.persisted.snapshot;
  applied_ = snap.index();
  applied_term_ = snap.term();
  conf_ = snap.index() > 0 ? snap.conf() : initial_conf_;
  if (snap.index() > 0) {
    snapshot_meta_ = snap;
    snapshot_image_ = std::make_shared<const std::string>(loaded.snapshot_image);
    restore_pending_.emplace(snap, std::move(loaded.snapshot_image));
  }
  const uint64_t loaded_last =
      loaded.persisted.entries.empty() ? snap.index() : loaded.persisted.entries.back().index();
  metrics_.last_index.set(static_cast<double>(loaded_last));

  CoreConfig cc;
  cc.id = self;
  cc.election_ticks = config_.election_ticks();
  cc.heartbeat_ticks = config_.heartbeat_ticks();
  cc.pre_vote = config_.pre_vote;
  cc.check_quorum = config_.check_quorum;
  cc.read_mode = config_.read_mode;
  cc.lease_clock_drift_ppm = config_.lease_clock_drift_ppm;
  cc.max_inflight_msgs = config_.max_inflight_msgs;
  cc.max_inflight_bytes = config_.max_inflight_bytes;
  cc.max_msg_bytes = config_.max_msg_bytes;
  cc.max_uncommitted_bytes = config_.max_uncommitted_bytes;
  // Different per node and per start; deterministic under simulation, whose clock is.
  cc.seed = static_cast<uint64_t>(ctx_.clock().wall_time_ns()) * 0x9E3779B97F4A7C15ull ^
            (uint64_t{self} + 1) * 0xBF58476D1CE4E5B9ull;
  auto core = Core::create(cc, std::move(loaded.persisted));
  if (!core.ok()) return core.status().with_context("raft state in " + storage_->log_path());
  core_ = std::move(core).value();
  if (awaiting_conf_) {
    ctx_.logger().info("raft: instance " + std::to_string(self) +
                       " joins a running cluster: asking its peers for the cluster's initial "
                       "configuration, then waiting for the leader to add it (nodus scale)");
    return {};
  }
  return check_configuration(conf_from_disk, core_->conf_state());
}

void RaftNode::ask_initial_conf() {
  const Duration timeout = std::chrono::milliseconds(config_.election_timeout_min_ms);
  for (const PeerInfo& peer : ctx_.transport().peers()) {
    ctx_.transport().call(peer.id, kInitialConfMethod, std::string(), timeout,
                          [this, alive = alive_, from = peer.id](Result<std::string> r) {
                            if (!*alive || !awaiting_conf_ || stopped_ || !r.ok()) return;
                            pb::ConfState conf;
                            if (!conf.ParseFromString(*r) || conf.voters_size() == 0) return;
                            adopt_initial_conf(from, conf);
                          });
  }
}

void RaftNode::adopt_initial_conf(PeerId from, const pb::ConfState& conf) {
  // Stored first, then the core starts over from the (still empty) storage with it: nothing
  // was stepped into the placeholder core, so nothing is lost.
  Status st = storage_->save_initial_conf(conf);
  if (!st.ok()) return fatal(st.with_context("storing the initial configuration"));
  auto loaded = storage_->load(conf);
  if (!loaded.ok()) return fatal(loaded.status().with_context("reloading the raft state"));
  awaiting_conf_ = false;
  st = open_core(std::move(*loaded));
  if (!st.ok()) return fatal(st);
  ctx_.logger().info("raft: learned the cluster's initial configuration from instance " +
                     std::to_string(from) + "; waiting for the leader to add this instance");
  process_ready();
}

void RaftNode::on_initial_conf_request(CallReply reply) {
  if (awaiting_conf_) {
    return reply(unavailable("instance " + std::to_string(ctx_.transport().self()) +
                             " has not learned the initial configuration yet"));
  }
  reply(initial_conf_.SerializeAsString());
}

Status RaftNode::check_configuration(bool from_disk, const pb::ConfState& conf) {
  const PeerId self = ctx_.transport().self();
  const std::string dir = ctx_.storage().directory().string();
  std::set<PeerId> instances = {self};
  for (const PeerInfo& p : ctx_.transport().peers())
    instances.insert(p.id);
  std::set<PeerId> members(conf.voters().begin(), conf.voters().end());
  members.insert(conf.learners().begin(), conf.learners().end());
  const size_t quorum = static_cast<size_t>(conf.voters_size()) / 2 + 1;
  size_t voters_here = 0;
  for (PeerId v : conf.voters())
    voters_here += instances.count(v);
  const std::string what = "voters " + peer_list(conf.voters()) + ", learners " +
                           peer_list(conf.learners()) + " (quorum " + std::to_string(quorum) + ")";
  if (conf.voters_size() == 0) {
    ctx_.logger().info("raft: instance " + std::to_string(self) +
                       " has no configuration yet; it joins once the leader adds it (nodus scale)");
    return {};
  }
  if (voters_here < quorum && !ctx_.instance().joining) {
    if (instances.size() == 1) {
      // No other instance exists that could hold a newer configuration and bring this one up
      // to date, so waiting would be forever.
      return failed_precondition(
          "raft: the configuration stored in " + dir + " has " + what + " but this is the " +
          "only instance of this profile: no leader can ever be elected; start it with the " +
          "instance count it was created with and change it with `nodus scale`, or move the " +
          "data directory away to start a new cluster");
    }
    // Not an error: a follower that missed the entries of a scale-down (it was behind, or
    // restarted, when `nodus scale` committed them) stores the larger configuration it last
    // saw, and the leader of the smaller one brings it up to date once it runs. Refusing to
    // start would turn a crash at the wrong moment into an instance that never comes back.
    // Only the whole cluster restarted with too few instances waits forever; say so.
    ctx_.logger().warn(
        "raft: the configuration stored in " + dir + " has " + what + " but only " +
        std::to_string(voters_here) + " of those voters are instances of this profile (" +
        std::to_string(instances.size()) + " instances): this instance waits for a leader " +
        "whose newer configuration includes it (as after `nodus scale` down); if every " +
        "instance says this, no leader can ever be elected: start the cluster with the " +
        "instance count it was created with and change it with `nodus scale`");
    return {};
  }
  std::vector<PeerId> outside;
  for (PeerId i : instances) {
    if (members.count(i) == 0) outside.push_back(i);
  }
  ctx_.logger().info("raft: configuration " + what + ", " +
                     (from_disk ? "stored in " + dir : "stored on this first start in " + dir) +
                     "; ready once " + std::to_string(quorum) + " voters run and elect a leader");
  if (!outside.empty() && !ctx_.instance().joining) {
    ctx_.logger().warn(
        "raft: instances " + peer_list(outside) + " of this profile are not in the configuration " +
        "stored in " + dir + " (" + what + "), so they never become ready; the stored " +
        "configuration wins over the instance count: add instances with `nodus scale`");
  }
  return {};
}

void RaftNode::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (tick_timer_ != kNoTimer) ctx_.executor().cancel(tick_timer_);
  tick_timer_ = kNoTimer;
  fail_all(unavailable("raft node stopping"), /*proposals_only=*/false);
}

Status RaftNode::check_invariants() const {
  return core_ ? core_->check_invariants() : Status();
}

// ---------------------------------------------------------------- inputs

void RaftNode::schedule_tick() {
  tick_timer_ = ctx_.executor().schedule_after(std::chrono::milliseconds(config_.tick_ms),
                                               [this, alive = alive_] {
                                                 if (!*alive) return;
                                                 tick_timer_ = kNoTimer;
                                                 on_tick();
                                               });
}

void RaftNode::on_tick() {
  if (stopped_) return;
  if (awaiting_conf_ && broken_.ok() && ctx_.clock().now() >= next_conf_ask_) {
    next_conf_ask_ =
        ctx_.clock().now() + std::chrono::milliseconds(config_.election_timeout_min_ms);
    ask_initial_conf();
  }
  if (broken_.ok()) {
    core_->tick();
    sender_->tick(ctx_.clock().now());
  }
  expire(ctx_.clock().now());
  process_ready();
  schedule_tick();
}

void RaftNode::on_message(PeerId from, const std::string& payload) {
  if (stopped_ || !broken_.ok() || awaiting_conf_) return;
  pb::Message m;
  if (!m.ParseFromString(payload) || m.from() != from) {
    metrics_.messages_dropped.inc();
    return;
  }
  core_->step(m);
  process_ready();
}

void RaftNode::on_chunk(PeerId from, const std::string& payload) {
  if (stopped_ || !broken_.ok() || awaiting_conf_) return;
  pb::SnapshotChunk chunk;
  if (!chunk.ParseFromString(payload) || chunk.from() != from) {
    metrics_.messages_dropped.inc();
    return;
  }
  auto complete = receiver_->on_chunk(chunk);
  if (!complete) return;
  pb::Message m;
  m.set_type(pb::MSG_SNAPSHOT);
  m.set_from(complete->from);
  m.set_to(ctx_.transport().self());
  m.set_term(complete->term);
  *m.mutable_snapshot() = complete->meta;
  core_->step(m);
  process_ready();
}

void RaftNode::on_chunk_ack(PeerId from, const std::string& payload) {
  if (stopped_ || !broken_.ok()) return;
  pb::SnapshotChunkAck ack;
  if (!ack.ParseFromString(payload) || ack.from() != from) {
    metrics_.messages_dropped.inc();
    return;
  }
  sender_->on_ack(ack, ctx_.clock().now());
  process_ready();
}

void RaftNode::on_synced(uint64_t index, uint64_t term, Duration took) {
  metrics_.fsync.observe(seconds_of(took));
  metrics_.append_latency.observe(seconds_of(took));
  if (stopped_ || !broken_.ok()) return;
  core_->log_synced(index, term);
  process_ready();
}

// ---------------------------------------------------------------- the Ready loop

void RaftNode::process_ready() {
  if (in_ready_ || !core_) return;  // the running loop picks the new output up
  in_ready_ = true;
  while (!stopped_ && broken_.ok() && core_->has_ready()) {
    Ready rd = core_->ready();
    handle_ready(rd);
  }
  in_ready_ = false;
  update_gauges();
}

void RaftNode::handle_ready(Ready& rd) {
  if (rd.soft_state) on_soft_state(*rd.soft_state);
  // 1. The hard state is durable before any message that depends on it leaves.
  // Only a new term or vote is written: the commit index alone needs no durable write (after
  // a restart the leader tells it again, and load() clamps it to the log), and skipping it
  // keeps a slow disk from stalling a follower on every commit.
  if (rd.hard_state) {
    term_ = rd.hard_state->term();
    const pb::HardState& hs = *rd.hard_state;
    if (!saved_hard_state_ || saved_hard_state_->term() != hs.term() ||
        saved_hard_state_->has_vote() != hs.has_vote() || saved_hard_state_->vote() != hs.vote()) {
      Status st = storage_->save_hard_state(hs);
      if (!st.ok()) return fatal(st.with_context("saving the hard state"));
      saved_hard_state_ = hs;
    }
  }
  // 2. A snapshot received from the leader.
  if (rd.snapshot) {
    install_snapshot(*rd.snapshot);
    if (!broken_.ok()) return;
  }
  // 3. Entries: appended now, acknowledged by the core once the background sync is done.
  if (!rd.entries.empty()) {
    Status st = storage_->append(rd.entries);
    if (!st.ok()) return fatal(st.with_context("appending to the raft log"));
    metrics_.last_index.set(static_cast<double>(rd.entries.back().index()));
    storage_->request_sync();
    if (!broken_.ok()) return;
  }
  // 4. Messages.
  for (const pb::Message& m : rd.messages)
    send_message(m);
  // 5. Committed entries, applied once a state machine is registered.
  const TimePoint now = ctx_.clock().now();
  const uint64_t queued_last = unapplied_.empty() ? applied_ : unapplied_.back().index();
  for (pb::Entry& e : rd.committed) {
    if (e.index() <= queued_last) continue;
    const PendingEntry* p = pending_.find(PendingKind::kProposal, e.index());
    if (p != nullptr && p->term == e.term()) {
      metrics_.commit_latency.observe(seconds_of(now - p->since));
    }
    unapplied_.push_back(std::move(e));
  }
  apply_committed();
  // 6. Reads.
  for (const ReadState& rs : rd.read_states) {
    if (PendingEntry* r = pending_.find(PendingKind::kRead, rs.request_id))
      r->read_index = rs.index;
  }
  for (uint64_t id : rd.failed_reads) {
    if (auto r = pending_.take(PendingKind::kRead, id)) {
      r->fail(unavailable("read failed: leadership changed"));
    }
  }
  answer_reads();
  for (PeerId peer : rd.send_snapshot_to) {
    if (snapshot_image_ && snapshot_meta_.index() > 0) {
      sender_->start(peer, term_, snapshot_meta_, snapshot_image_, now);
    } else {
      core_->report_snapshot(peer, false);
    }
  }
  if (rd.transfer_result && transfer_done_) {
    if (!rd.transfer_result->ok() && role_ != ConsensusRole::kLeader && !transfer_result_) {
      // The core reports an abort when this node stepped down before it heard who won; the
      // target's own campaign is usually what deposed it. Wait for the next leader to be known
      // (or the deadline) before deciding.
      transfer_result_ = *rd.transfer_result;
      finish_transfer_if_decided();
    } else {
      finish_transfer(*rd.transfer_result);
    }
  }
}

void RaftNode::on_soft_state(const SoftState& ss) {
  const bool was_leader = role_ == ConsensusRole::kLeader;
  if (ss.leader.has_value() && ss.leader != last_known_leader_) {
    if (last_known_leader_) metrics_.leader_changes.inc();
    last_known_leader_ = ss.leader;
  }
  role_ = ss.role;
  leader_ = ss.leader;
  if (was_leader && role_ != ConsensusRole::kLeader) {
    sender_->cancel_all();
    fail_all(unavailable("leadership lost before the command was applied"),
             /*proposals_only=*/true);
  }
  finish_transfer_if_decided();
  ctx_.set_role(consensus_role_name(role_));
  metrics_.set_role(role_);
  ctx_.logger().info("raft role " + std::string(consensus_role_name(role_)) + ", leader " +
                     (leader_ ? std::to_string(*leader_) : std::string("unknown")));
}

void RaftNode::install_snapshot(const pb::SnapshotMeta& meta) {
  std::optional<std::string> image = receiver_->take_image(meta);
  if (!image) {
    ctx_.logger().error("raft: no assembled image for snapshot " + std::to_string(meta.index()));
    return;
  }
  Status st = storage_->install_snapshot(meta, *image);
  if (st.code() == StatusCode::kUnavailable) {
    // Our own snapshot is still being written. Not installing is safe: the core hands the
    // snapshot out again once the leader resends it.
    ctx_.logger().warn("raft: snapshot " + std::to_string(meta.index()) +
                       " not installed yet: " + st.message());
    return;
  }
  if (!st.ok()) return fatal(st.with_context("installing snapshot"));
  if (machine_ != nullptr) {
    st = machine_->restore(meta.index(), *image);
    if (!st.ok()) return fatal(st.with_context("state machine restore"));
    restore_pending_.reset();
  } else {
    restore_pending_.emplace(meta, *image);
  }
  applied_ = meta.index();
  applied_term_ = meta.term();
  conf_ = meta.conf();
  applied_bytes_since_snapshot_ = 0;
  while (!unapplied_.empty() && unapplied_.front().index() <= meta.index())
    unapplied_.pop_front();
  snapshot_meta_ = meta;
  snapshot_image_ = std::make_shared<const std::string>(std::move(*image));
  // Forwarded proposals the snapshot covers are committed (the leader applied them).
  while (auto w = pending_.take_first_upto(PendingKind::kForwarded, meta.index())) {
    PendingEntry& e = w->second;
    e.propose_done(ProposeResult{w->first, e.term, std::move(e.response)});
  }
  while (auto p = pending_.take_first_upto(PendingKind::kProposal, meta.index())) {
    metrics_.failed("replaced").inc();
    p->second.fail(unavailable("a snapshot replaced the log before the command applied"));
  }
  while (auto c = pending_.take_first_upto(PendingKind::kConf, meta.index())) {
    c->second.fail(unavailable("a snapshot replaced the log before the change applied"));
  }
  metrics_.snapshots_received.inc();
  core_->snapshot_installed(meta);
  answer_reads();
}

void RaftNode::apply_committed() {
  if (machine_ == nullptr || restore_pending_) return;
  const uint64_t before = applied_;
  while (!unapplied_.empty() && broken_.ok() && !stopped_) {
    pb::Entry e = std::move(unapplied_.front());
    unapplied_.pop_front();
    apply_entry(e);
  }
  if (applied_ != before) {
    core_->applied(applied_);
    answer_reads();
    maybe_snapshot();
  }
}

void RaftNode::apply_entry(const pb::Entry& e) {
  if (e.index() <= applied_) return;
  std::string response;
  if (e.type() == pb::ENTRY_CONF_CHANGE) {
    pb::ConfChange cc;
    if (cc.ParseFromString(e.data())) apply_conf_change(conf_, cc);
  } else if (!e.data().empty()) {  // empty: the leader's no-op
    response = machine_->apply(e.index(), e.data());
    applied_bytes_since_snapshot_ += e.data().size();
  }
  applied_ = e.index();
  applied_term_ = e.term();

  if (auto p = pending_.take(PendingKind::kProposal, e.index())) {
    if (p->term == e.term()) {
      p->propose_done(ProposeResult{e.index(), e.term(), std::move(response)});
    } else {
      metrics_.failed("replaced").inc();
      p->fail(unavailable("another leader's entry took index " + std::to_string(e.index())));
    }
  }
  if (auto c = pending_.take(PendingKind::kConf, e.index())) {
    if (c->term == e.term()) {
      c->done(Status());
    } else {
      c->fail(unavailable("the membership change was replaced by a new leader"));
    }
  }
  while (auto node = pending_.take_first_upto(PendingKind::kForwarded, e.index())) {
    PendingEntry& w = node->second;
    // The leader answered after applying, so the entry at that index is committed; a term
    // that differs here would mean this node applied a different entry there.
    if (node->first == e.index() && w.term != e.term()) {
      w.fail(internal_error("entry " + std::to_string(e.index()) + " has term " +
                            std::to_string(e.term()) + " here but " + std::to_string(w.term) +
                            " on the leader"));
    } else {
      w.propose_done(ProposeResult{node->first, w.term, std::move(w.response)});
    }
  }
}

void RaftNode::answer_reads() {
  if (machine_ == nullptr || restore_pending_) return;
  auto ready = pending_.take_if(PendingKind::kRead, [this](uint64_t, const PendingEntry& r) {
    return r.read_index && *r.read_index <= applied_;
  });
  for (auto& [id, r] : ready)
    r.done(Status());
}

void RaftNode::maybe_snapshot() {
  if (machine_ == nullptr || applied_ <= snapshot_meta_.index()) return;
  const uint64_t since = applied_ - snapshot_meta_.index();
  const bool by_count = config_.snapshot_entries > 0 && since >= config_.snapshot_entries;
  const bool by_bytes =
      config_.snapshot_bytes > 0 && applied_bytes_since_snapshot_ >= config_.snapshot_bytes;
  if (!by_count && !by_bytes) return;
  // A snapshot copies the whole state, so wait until at least as many command bytes as the
  // last image arrived since: the cost stays proportional to the write rate however big the
  // state grows (a fixed cadence made a large state snapshot over and over, stalling the
  // executor long enough to miss heartbeats).
  if (snapshot_image_ && applied_bytes_since_snapshot_ < snapshot_image_->size()) return;
  // One local snapshot write at a time; the next waits for it.
  if (storage_->snapshot_write_in_flight()) return;
  std::string image = machine_->snapshot();
  // The core completes the metadata (term, configuration as of the index); that is what gets
  // persisted. Memory is compacted first: should the write fail, the log on disk still holds
  // every entry, so a restart loses nothing.
  pb::SnapshotMeta meta;
  meta.set_index(applied_);
  meta.set_term(applied_term_);
  Status st = core_->compact(meta);
  if (!st.ok()) {
    ctx_.logger().warn("raft core refused compaction at " + std::to_string(applied_) + ": " +
                       st.to_string());
    return;
  }
  meta = core_->snapshot_meta();
  snapshot_meta_ = meta;
  snapshot_image_ = std::make_shared<const std::string>(std::move(image));
  // Written off the executor: a large state must not hold up heartbeats while it is fsynced.
  // Until the write is durable the log keeps every entry, so a crash loses nothing.
  storage_->save_local_snapshot_async(
      meta, snapshot_image_, [this, alive = alive_, index = meta.index()](Status written) {
        if (!*alive || written.ok()) return;
        ctx_.logger().error("raft snapshot at " + std::to_string(index) +
                            " failed: " + written.to_string());
      });
  applied_bytes_since_snapshot_ = 0;
  metrics_.snapshots_taken.inc();
}

void RaftNode::send_message(const pb::Message& m) {
  Status st = nodus::send_message(ctx_.transport(), m.to(), kRaftChannel, m);
  if (!st.ok()) {
    metrics_.messages_dropped.inc();
    if (m.type() == pb::MSG_APPEND) core_->report_unreachable(m.to());
  }
}

// ---------------------------------------------------------------- failures and timeouts

void RaftNode::expire(TimePoint now) {
  // One path for every kind: the message says what the caller was waiting for.
  for (auto& [key, e] : pending_.take_expired(now)) {
    switch (e.kind) {
      case PendingKind::kProposal:
        metrics_.failed("timeout").inc();
        e.fail(deadline_exceeded("proposal not applied within propose_timeout_ms"));
        break;
      case PendingKind::kForwarding:
        metrics_.failed("timeout").inc();
        e.fail(
            deadline_exceeded("the leader did not answer a forwarded proposal within "
                              "propose_timeout_ms"));
        break;
      case PendingKind::kForwarded:
        metrics_.failed("timeout").inc();
        e.fail(deadline_exceeded("forwarded proposal committed at index " + std::to_string(key) +
                                 " but not yet applied here"));
        break;
      case PendingKind::kConf:
        e.fail(deadline_exceeded("membership change not applied in time"));
        break;
      case PendingKind::kRead:
        e.fail(deadline_exceeded("read not answered within propose_timeout_ms"));
        break;
    }
  }
  if (transfer_done_ && transfer_deadline_ <= now) {
    finish_transfer(transfer_result_ ? *transfer_result_
                                     : deadline_exceeded("leadership transfer did not finish"));
  }
}

Status RaftNode::pending_full(std::string_view what) {
  metrics_.failed("pending_full").inc();
  return resource_exhausted(std::string(what) +
                            " refused: " + std::to_string(pending_.max_entries()) +
                            " requests are already waiting for an answer (max_pending)");
}

void RaftNode::fail_all(const Status& why, bool proposals_only) {
  for (auto& [key, e] : pending_.take_all({PendingKind::kProposal, PendingKind::kConf})) {
    if (e.kind == PendingKind::kProposal) metrics_.failed("leadership_lost").inc();
    e.fail(why);
  }
  if (proposals_only) return;
  for (auto& [key, e] :
       pending_.take_all({PendingKind::kForwarded, PendingKind::kForwarding, PendingKind::kRead})) {
    e.fail(why);
  }
  if (transfer_done_) finish_transfer(why);
}

void RaftNode::finish_transfer(const Status& result) {
  transfer_result_.reset();
  if (!transfer_done_) return;
  DoneCallback done = std::move(*transfer_done_);
  transfer_done_.reset();
  done(result);
}

void RaftNode::finish_transfer_if_decided() {
  if (!transfer_done_ || !transfer_result_ || !leader_) return;
  const bool target_won =
      transfer_target_ ? *leader_ == *transfer_target_ : *leader_ != ctx_.transport().self();
  finish_transfer(target_won ? Status() : *transfer_result_);
}

void RaftNode::fatal(const Status& why) {
  if (!broken_.ok()) return;
  broken_ = why;
  ctx_.logger().error("raft stops taking part: " + why.to_string());
  ctx_.set_role("failed");
  leader_.reset();
  fail_all(unavailable("raft node failed: " + why.to_string()), /*proposals_only=*/false);
}

void RaftNode::update_gauges() {
  if (!core_) return;
  const ConsensusState s = core_->state();
  metrics_.term.set(static_cast<double>(s.term));
  metrics_.commit_index.set(static_cast<double>(s.commit_index));
  metrics_.applied_index.set(static_cast<double>(applied_));
  metrics_.apply_lag.set(
      static_cast<double>(s.commit_index > applied_ ? s.commit_index - applied_ : 0));
  metrics_.uncommitted_bytes.set(static_cast<double>(core_->uncommitted_bytes()));
  metrics_.pending_proposals.set(static_cast<double>(pending_.size(PendingKind::kProposal) +
                                                     pending_.size(PendingKind::kForwarding) +
                                                     pending_.size(PendingKind::kForwarded)));
  metrics_.pending_reads.set(static_cast<double>(pending_.size(PendingKind::kRead)));
  metrics_.inflight_snapshot_bytes.set(static_cast<double>(sender_->bytes_in_flight()));
  const Counters& c = core_->counters();
  const double started = static_cast<double>(c.elections_started);
  if (started > metrics_.elections_started.value()) {
    metrics_.elections_started.inc(started - metrics_.elections_started.value());
  }
  const double won = static_cast<double>(c.elections_won);
  if (won > metrics_.elections_won.value()) {
    metrics_.elections_won.inc(won - metrics_.elections_won.value());
  }
}

// ---------------------------------------------------------------- nodus::Consensus

Status RaftNode::set_state_machine(StateMachine* machine) {
  if (machine == nullptr) return invalid_argument("state machine is null");
  if (machine_ != nullptr) return failed_precondition("a state machine is already registered");
  if (!started_ || stopped_) return failed_precondition("raft is not running");
  machine_ = machine;
  if (restore_pending_) {
    Status st = machine_->restore(restore_pending_->first.index(), restore_pending_->second);
    if (!st.ok()) {
      machine_ = nullptr;
      return st.with_context("restoring snapshot " +
                             std::to_string(restore_pending_->first.index()));
    }
    restore_pending_.reset();
  }
  apply_committed();
  process_ready();
  return {};
}

void RaftNode::propose(std::string command, ProposeCallback done) {
  if (!started_ || stopped_) return done(failed_precondition("raft is not running"));
  if (!broken_.ok()) return done(unavailable("raft node failed: " + broken_.to_string()));
  if (command.empty()) return done(invalid_argument("empty command"));
  if (command.size() > config_.max_msg_bytes) {
    metrics_.failed("too_large").inc();
    return done(invalid_argument("command of " + std::to_string(command.size()) +
                                 " bytes exceeds max_msg_bytes"));
  }
  // Checked before the command enters the log: an entry without its callback would apply
  // with nobody told.
  if (pending_.full()) return done(pending_full("proposal"));
  if (role_ != ConsensusRole::kLeader) return forward_propose(std::move(command), std::move(done));
  auto index = core_->propose(std::move(command));
  if (!index.ok()) {
    metrics_
        .failed(index.status().code() == StatusCode::kResourceExhausted ? "flow_control"
                                                                        : "not_leader")
        .inc();
    return done(index.status());
  }
  metrics_.proposals.inc();
  const TimePoint now = ctx_.clock().now();
  PendingEntry entry;
  entry.term = core_->term_at(*index);
  entry.propose_done = std::move(done);
  entry.deadline = now + std::chrono::milliseconds(config_.propose_timeout_ms);
  entry.since = now;
  const bool added = pending_.add(PendingKind::kProposal, *index, std::move(entry));
  NODUS_CHECK(added) << "room was checked before the entry went into the log";
  process_ready();
}

void RaftNode::forward_propose(std::string command, ProposeCallback done) {
  if (!leader_ || *leader_ == ctx_.transport().self()) {
    metrics_.failed("no_leader").inc();
    return done(unavailable("no raft leader known"));
  }
  pb::ForwardRequest req;
  req.set_command(std::move(command));
  const uint64_t id = next_forward_id_++;
  const Duration timeout = std::chrono::milliseconds(config_.propose_timeout_ms);
  PendingEntry entry;
  entry.propose_done = std::move(done);
  entry.since = ctx_.clock().now();
  // The transport's own timeout answers first; this one only guards a lost callback.
  entry.deadline = entry.since + 2 * timeout;
  const bool added = pending_.add(PendingKind::kForwarding, id, std::move(entry));
  NODUS_CHECK(added) << "propose() checked the room before forwarding";
  ctx_.transport().call(*leader_, kProposeMethod, req.SerializeAsString(), timeout,
                        [this, alive = alive_, id](Result<std::string> r) {
                          if (!*alive) return;
                          auto waiting = pending_.take(PendingKind::kForwarding, id);
                          if (!waiting) return;  // expired or failed already
                          ProposeCallback cb = std::move(waiting->propose_done);
                          if (!r.ok()) {
                            metrics_.failed("forward").inc();
                            return cb(r.status());
                          }
                          pb::ForwardResponse resp;
                          if (!resp.ParseFromString(*r)) {
                            metrics_.failed("forward").inc();
                            return cb(internal_error("malformed raft.propose response"));
                          }
                          if (applied_ >= resp.index()) {
                            return cb(ProposeResult{resp.index(), resp.term(), resp.response()});
                          }
                          // The slot taken above is free again, so this add has room.
                          PendingEntry wait;
                          wait.term = resp.term();
                          wait.response = resp.response();
                          wait.propose_done = std::move(cb);
                          wait.since = ctx_.clock().now();
                          wait.deadline =
                              wait.since + std::chrono::milliseconds(config_.propose_timeout_ms);
                          pending_.add(PendingKind::kForwarded, resp.index(), std::move(wait));
                        });
}

void RaftNode::on_forward(PeerId, std::string request, CallReply reply) {
  pb::ForwardRequest req;
  if (!req.ParseFromString(request)) return reply(invalid_argument("malformed ForwardRequest"));
  if (role_ != ConsensusRole::kLeader) {
    return reply(
        unavailable("not the raft leader" +
                    (leader_ ? " (leader is " + std::to_string(*leader_) + ")" : std::string())));
  }
  propose(std::move(*req.mutable_command()), [reply](Result<ProposeResult> r) {
    if (!r.ok()) return reply(r.status());
    pb::ForwardResponse resp;
    resp.set_index(r->index);
    resp.set_term(r->term);
    resp.set_response(std::move(r->response));
    reply(resp.SerializeAsString());
  });
}

void RaftNode::read_index(DoneCallback done) {
  if (!started_ || stopped_) return done(failed_precondition("raft is not running"));
  if (!broken_.ok()) return done(unavailable("raft node failed: " + broken_.to_string()));
  if (pending_.full()) return done(pending_full("read"));
  if ((next_read_id_ & ((uint64_t{1} << kReadIdEpochShift) - 1)) == 0) {
    // This epoch's ids are used up: take a new epoch rather than wrap into an old one.
    auto epoch = storage_->take_read_epoch();
    if (!epoch.ok()) return done(epoch.status());
    next_read_id_ = (*epoch << kReadIdEpochShift) | 1;
  }
  const uint64_t id = next_read_id_++;
  PendingEntry entry;
  entry.done = std::move(done);
  entry.since = ctx_.clock().now();
  entry.deadline = entry.since + std::chrono::milliseconds(config_.propose_timeout_ms);
  const bool added = pending_.add(PendingKind::kRead, id, std::move(entry));
  NODUS_CHECK(added) << "room was checked above";
  core_->read_index(id);
  process_ready();
}

void RaftNode::transfer_leadership(std::optional<PeerId> to, DoneCallback done) {
  if (!started_ || stopped_) return done(failed_precondition("raft is not running"));
  if (role_ != ConsensusRole::kLeader) {
    return done(failed_precondition("not the raft leader"));
  }
  if (transfer_done_) return done(failed_precondition("a leadership transfer is in progress"));
  Status st = core_->transfer_leadership(to);
  if (!st.ok()) return done(st);
  transfer_done_ = std::move(done);
  transfer_target_ = to;
  transfer_result_.reset();
  transfer_deadline_ =
      ctx_.clock().now() + std::chrono::milliseconds(std::max<uint32_t>(
                               config_.propose_timeout_ms, 4 * config_.election_timeout_max_ms));
  process_ready();
}

void RaftNode::change_membership(MembershipChange change, PeerId peer, DoneCallback done) {
  if (!started_ || stopped_) return done(failed_precondition("raft is not running"));
  if (role_ != ConsensusRole::kLeader) {
    return done(unavailable("membership changes go to the raft leader" +
                            (leader_ ? " (" + std::to_string(*leader_) + ")" : std::string())));
  }
  // The transport knows every instance this process can reach (the kernel adds the ones
  // `nodus scale` starts before it asks for the change).
  const std::vector<PeerInfo> peers = ctx_.transport().peers();
  const bool known =
      peer == ctx_.transport().self() ||
      std::any_of(peers.begin(), peers.end(), [peer](const PeerInfo& p) { return p.id == peer; });
  if (!known) {
    return done(invalid_argument("peer " + std::to_string(peer) +
                                 " is not an instance this node can reach"));
  }
  pb::ConfChange cc;
  cc.set_peer(peer);
  switch (change) {
    case MembershipChange::kAddVoter:
      cc.set_kind(pb::ConfChange::ADD_VOTER);
      break;
    case MembershipChange::kAddLearner:
      cc.set_kind(pb::ConfChange::ADD_LEARNER);
      break;
    case MembershipChange::kRemove:
      cc.set_kind(pb::ConfChange::REMOVE);
      break;
  }
  if (pending_.full()) return done(pending_full("membership change"));
  auto index = core_->propose_conf_change(cc);
  if (!index.ok()) return done(index.status());
  PendingEntry entry;
  entry.term = core_->term_at(*index);
  entry.done = std::move(done);
  entry.since = ctx_.clock().now();
  entry.deadline = entry.since + std::chrono::milliseconds(config_.propose_timeout_ms);
  const bool added = pending_.add(PendingKind::kConf, *index, std::move(entry));
  NODUS_CHECK(added) << "room was checked before the change went into the log";
  process_ready();
}

ConsensusState RaftNode::state() const {
  if (!core_) return {};
  ConsensusState s = core_->state();
  s.applied_index = applied_;
  return s;
}

}  // namespace nodus::raft
