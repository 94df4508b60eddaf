// bench/tx_load/engine.h: the load engine of nodus-tx-load: clients, pacing, retries,
// statistics and the --verify read-back, independent of which cluster a Backend speaks to.
//
//   LoadEngine engine(options, payload, backend);
//   LoadReport report = engine.run();
//
// Closed loop: each client keeps `inflight` batches outstanding and sends the next one as
// soon as one completes. Open loop (--rate): batch k is due at start + k * batch / rate, goes
// to client k mod N, and its latency counts from that due time, however late it was sent.
// A transaction's latency ends when it is acknowledged (TX_OK, or TX_DUPLICATE for a resend);
// retries keep its original due time. Retries resend the same (client id, seq).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "histogram.h"
#include "options.h"
#include "payload.h"

namespace nodus::bench {

struct VerifyReport {
  bool ran = false;
  uint64_t checked = 0;      // acknowledged transactions read back
  uint64_t lost = 0;         // acknowledged, but the key is missing or holds another value
  uint64_t read_errors = 0;  // reads that failed on every endpoint (not counted as lost)
  // --workload transfer: transfers applied beyond the acknowledged and undecided ones (one
  // applied twice), and whether the balances sum to what was minted (1: they do not).
  uint64_t duplicated = 0;
  uint64_t conservation_errors = 0;
};

struct LoadReport {
  double measured_s = 0;
  uint64_t committed = 0;                    // acknowledged within the measured window
  uint64_t committed_total = 0;              // acknowledged at any time, warmup and drain included
  double throughput_tx_s = 0;                // committed / measured_s
  LatencyHistogram latency_ns;               // transactions due within the measured window
  std::map<std::string, uint64_t> rejected;  // by code
  uint64_t retried = 0;                      // transaction resends
  uint64_t redirects = 0;                    // leader hints followed
  uint64_t errors = 0;                       // failed RPCs
  std::map<std::string, uint64_t> errors_by_code;
  uint64_t unresolved = 0;  // neither acknowledged nor rejected when the drain ended
  // The longest run of milliseconds without a commit inside the measured window.
  uint64_t max_commit_gap_ms = 0;
  uint64_t max_commit_gap_at_ms = 0;  // its start, in ms since the run began
  std::vector<uint32_t> timeline;     // commits per millisecond since the run began
  VerifyReport verify;
};

class LoadEngine {
 public:
  LoadEngine(const TxLoadOptions& options, const Payload& payload, Backend& backend);
  ~LoadEngine();
  LoadEngine(const LoadEngine&) = delete;
  LoadEngine& operator=(const LoadEngine&) = delete;

  LoadReport run();

 private:
  using Clock = std::chrono::steady_clock;
  struct Op;  // one batch of one client, alive until all its transactions resolved
  struct ClientState {
    std::atomic<uint64_t> next_seq{1};
    std::atomic<size_t> endpoint{0};
    std::vector<uint64_t> acked;  // seqs, for --verify (guarded by mu_)
    uint64_t rejected = 0;        // transactions refused for good (guarded by mu_)
  };

  Op* new_op(uint32_t client, Clock::time_point due);
  void send(Op* op);
  void on_reply(Op* op, size_t endpoint, BatchReply reply);
  void finish(Op* op);
  void schedule_retry(Op* op, std::chrono::milliseconds delay);
  void dispatch_due_retries(Clock::time_point now);
  void print_progress(Clock::time_point now);
  void run_verify();
  void run_verify_transfers();
  // One balance read, retried on the next endpoints until it succeeds (nullopt: it never did).
  std::optional<BalanceResult> read_balance_blocking(const std::string& account, size_t first);
  void compute_gap();

  const TxLoadOptions& options_;
  const Payload& payload_;
  Backend& backend_;
  std::vector<std::unique_ptr<ClientState>> clients_;

  Clock::time_point start_;
  Clock::time_point measure_start_;
  Clock::time_point measure_end_;
  std::atomic<bool> stop_new_{false};   // past the measured window: no new batches
  std::atomic<bool> abandoned_{false};  // past the drain: replies only free their ops
  std::atomic<uint64_t> outstanding_ops_{0};
  std::atomic<uint64_t> outstanding_rpcs_{0};

  std::mutex mu_;  // guards everything below and ClientState::acked
  std::condition_variable cv_;
  LoadReport report_;
  LatencyHistogram progress_latency_ns_;  // everything so far, for the progress line
  uint64_t progress_committed_at_last_ = 0;
  uint64_t progress_errors_ = 0;
  std::multimap<Clock::time_point, Op*> retries_;
  Clock::time_point last_commit_;
  bool flush_retries_ = false;  // a commit after a pause: send every waiting resend now
};

}  // namespace nodus::bench
