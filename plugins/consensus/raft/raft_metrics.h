// raft/raft_metrics.h: the nodus_raft_* series of one node, looked up once at construction.
//
//   RaftMetrics m(ctx.metrics());
//   m.proposals.inc();
//   m.failed("timeout").inc();
#pragma once

#include <array>
#include <string>

#include "nodus/capabilities/consensus.h"
#include "nodus/services/metrics.h"

namespace nodus::raft {

struct RaftMetrics {
  explicit RaftMetrics(Metrics& m)
      : metrics(m),
        term(m.gauge("nodus_raft_term", "Current Raft term")),
        commit_index(m.gauge("nodus_raft_commit_index", "Highest index known committed")),
        applied_index(m.gauge("nodus_raft_applied_index", "Highest index applied here")),
        apply_lag(m.gauge("nodus_raft_apply_lag_entries", "commit_index - applied_index")),
        last_index(m.gauge("nodus_raft_last_index", "Index of the newest entry in the log")),
        proposals(m.counter("nodus_raft_proposals_total", "Proposals accepted on this node")),
        append_latency(m.histogram("nodus_raft_append_latency_seconds",
                                   "Time from appending entries to the log until fsync",
                                   Histogram::latency_buckets())),
        commit_latency(m.histogram("nodus_raft_commit_latency_seconds",
                                   "Leader: time from propose to commit",
                                   Histogram::latency_buckets())),
        fsync(m.histogram("nodus_raft_fsync_seconds", "Duration of one log sync",
                          Histogram::latency_buckets())),
        elections_started(
            m.counter("nodus_raft_elections_started_total", "Elections this node started")),
        elections_won(m.counter("nodus_raft_elections_won_total", "Elections this node won")),
        leader_changes(
            m.counter("nodus_raft_leader_changes_total", "Times the known leader changed")),
        snapshots_sent(m.counter("nodus_raft_snapshots_sent_total",
                                 "Snapshot streams completed to followers")),
        snapshots_received(
            m.counter("nodus_raft_snapshots_received_total", "Snapshots installed from a leader")),
        snapshots_taken(m.counter("nodus_raft_snapshots_taken_total", "Local snapshots taken")),
        messages_dropped(m.counter("nodus_raft_messages_dropped_total",
                                   "Messages dropped: malformed, stale, or not sendable")),
        inflight_snapshot_bytes(m.gauge("nodus_raft_inflight_snapshot_bytes",
                                        "Snapshot chunk bytes sent and not yet acknowledged")),
        uncommitted_bytes(m.gauge("nodus_raft_uncommitted_bytes",
                                  "Leader: bytes of proposed entries not yet committed")),
        pending_proposals(
            m.gauge("nodus_raft_pending_proposals", "Proposals waiting to be applied")),
        pending_reads(m.gauge("nodus_raft_pending_reads", "Reads waiting for their index")) {
    for (size_t i = 0; i < roles.size(); ++i) {
      const auto r = static_cast<ConsensusRole>(i);
      roles[i] = &m.gauge("nodus_raft_role", "1 for the role this node is in, else 0",
                          {{"role", std::string(consensus_role_name(r))}});
    }
  }

  Counter& failed(const std::string& reason) {
    return metrics.counter("nodus_raft_proposals_failed_total", "Proposals that failed, by reason",
                           {{"reason", reason}});
  }
  void set_role(ConsensusRole role) {
    for (size_t i = 0; i < roles.size(); ++i)
      roles[i]->set(static_cast<size_t>(role) == i ? 1 : 0);
  }

  Metrics& metrics;
  Gauge& term;
  Gauge& commit_index;
  Gauge& applied_index;
  Gauge& apply_lag;
  Gauge& last_index;
  Counter& proposals;
  Histogram& append_latency;
  Histogram& commit_latency;
  Histogram& fsync;
  Counter& elections_started;
  Counter& elections_won;
  Counter& leader_changes;
  Counter& snapshots_sent;
  Counter& snapshots_received;
  Counter& snapshots_taken;
  Counter& messages_dropped;
  Gauge& inflight_snapshot_bytes;
  Gauge& uncommitted_bytes;
  Gauge& pending_proposals;
  Gauge& pending_reads;
  std::array<Gauge*, 5> roles{};
};

}  // namespace nodus::raft
