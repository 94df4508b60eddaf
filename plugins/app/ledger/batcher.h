// batcher.h: groups the transactions of every client into one pb Batch per Raft proposal.
//
// Runs on the instance executor. A request (one client batch) is validated first: malformed or
// oversized transactions are answered at once and never proposed. The others join the batch
// being built, which is proposed when it reaches max_batch_txs or max_batch_bytes, or
// batch_delay after its first transaction, whichever comes first; any number of proposals may
// be in flight. A request's reply is sent when the last batch holding one of its transactions
// was applied. A proposal that failed for certain before reaching the log (flow control, too
// large, not started) answers its transactions TX_RETRY; one whose fate is open (leadership
// lost, timeout, a forward that got no answer, shutdown) answers TX_UNKNOWN: it may still
// commit, and a resend of the same (client_id, seq) returns its outcome. A request whose
// deadline passed before its batch was proposed is dropped from the batch (TX_RETRY).
//
//   Batcher b(ctx.executor(), ctx.clock(), *consensus, options, &ctx.metrics());
//   b.submit(std::move(txs), [](std::vector<TxResult> results) { reply(results); });
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ledger_types.h"
#include "nodus/capabilities/consensus.h"
#include "nodus/services/clock.h"
#include "nodus/services/executor.h"
#include "nodus/services/metrics.h"

namespace nodus::ledger {

struct BatcherOptions {
  size_t max_tx_bytes = 4096;
  size_t max_batch_txs = 4096;
  size_t max_batch_bytes = 1 << 20;
  Duration batch_delay = std::chrono::microseconds(500);
  // Propose at once when no proposal is in flight: a lone client does not wait batch_delay,
  // while under load batches still fill up behind the proposals in flight.
  bool flush_when_idle = false;
  size_t max_pending_txs = 200000;
};

class Batcher {
 public:
  using Done = std::function<void(std::vector<TxResult>)>;

  Batcher(Executor& executor, Clock& clock, Consensus& consensus, BatcherOptions options,
          Metrics* metrics);
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues one client request; `done` runs on the executor with one result per transaction.
  // Transactions not yet proposed at `deadline` (the client gave up) are never proposed.
  void submit(std::vector<Transaction> txs, Done done, TimePoint deadline = TimePoint::max());
  // Proposes the batch being built now (also what the timer does).
  void flush();
  // Answers every pending transaction with TX_RETRY (on stop); later consensus callbacks for
  // those proposals are ignored.
  void fail_all(const std::string& reason);

  size_t pending_txs() const { return pending_txs_; }
  size_t inflight_batches() const { return inflight_.size(); }
  size_t building_txs() const { return static_cast<size_t>(building_.txs_size()); }
  const BatcherOptions& options() const { return options_; }

 private:
  struct Request {
    std::vector<TxResult> results;
    size_t remaining = 0;
    Done done;
    TimePoint start;
    TimePoint deadline = TimePoint::max();
  };
  struct Slot {
    uint64_t request = 0;
    uint32_t position = 0;
  };

  void on_proposed(uint64_t proposal, Result<ProposeResult> result);
  void complete_slot(const Slot& slot, TxResult result);
  void finish_if_done(uint64_t request_id);
  void count(const TxResult& r);
  // Answers the building batch's transactions of expired requests and takes them out.
  void drop_expired();

  Executor& executor_;
  Clock& clock_;
  Consensus& consensus_;
  BatcherOptions options_;

  std::map<uint64_t, Request> requests_;
  uint64_t next_request_ = 1;
  Batch building_;
  std::vector<Slot> building_slots_;
  size_t building_bytes_ = 0;
  TimePoint building_deadline_ = TimePoint::max();  // earliest deadline in building_
  TimerId timer_ = kNoTimer;
  std::map<uint64_t, std::vector<Slot>> inflight_;
  uint64_t next_proposal_ = 1;
  size_t pending_txs_ = 0;

  std::array<Counter*, TxCode_ARRAYSIZE> rejected_{};  // by TxCode (TX_OK unused)
  Histogram* batch_size_ = nullptr;
  Histogram* latency_ = nullptr;
  Gauge* pending_gauge_ = nullptr;
  // Proposal callbacks check this first: consensus may call them after the Batcher is gone.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Lower-case name of a code for labels and JSON ("insufficient_balance").
std::string tx_code_label(TxCode code);

}  // namespace nodus::ledger
