#include "batcher.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "ledger_state.h"

namespace nodus::ledger {
namespace {

// Bytes a transaction adds to a Batch: its encoding plus the field tag and length prefix.
size_t encoded_size(const Transaction& tx) {
  return tx.ByteSizeLong() + 6;
}

std::vector<double> batch_size_buckets() {
  std::vector<double> b;
  for (double v = 1; v <= 65536; v *= 2)
    b.push_back(v);
  return b;
}

}  // namespace

std::string tx_code_label(TxCode code) {
  std::string name = TxCode_Name(code);
  if (name.rfind("TX_", 0) == 0) name = name.substr(3);
  for (auto& c : name)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.empty() ? "unknown" : name;
}

Batcher::Batcher(Executor& executor, Clock& clock, Consensus& consensus, BatcherOptions options,
                 Metrics* metrics)
    : executor_(executor), clock_(clock), consensus_(consensus), options_(options) {
  if (metrics == nullptr) return;
  for (int c = TX_DUPLICATE; c < TxCode_ARRAYSIZE; ++c) {
    rejected_[static_cast<size_t>(c)] = &metrics->counter(
        "nodus_ledger_tx_rejected_total", "Transactions answered with a rejection, by reason",
        {{"reason", tx_code_label(static_cast<TxCode>(c))}});
  }
  batch_size_ = &metrics->histogram("nodus_ledger_batch_txs", "Transactions per proposed batch",
                                    batch_size_buckets());
  latency_ = &metrics->histogram("nodus_ledger_commit_latency_seconds",
                                 "Time from a request's arrival to its results",
                                 Histogram::latency_buckets());
  pending_gauge_ =
      &metrics->gauge("nodus_ledger_pending_txs", "Transactions accepted and not yet answered");
}

Batcher::~Batcher() {
  if (timer_ != kNoTimer) executor_.cancel(timer_);
}

void Batcher::submit(std::vector<Transaction> txs, Done done, TimePoint deadline) {
  const uint64_t id = next_request_++;
  Request& req = requests_[id];
  req.done = std::move(done);
  req.start = clock_.now();
  req.deadline = deadline;
  req.results.resize(txs.size());
  req.remaining = txs.size();
  for (size_t i = 0; i < txs.size(); ++i) {
    req.results[i].set_client_id(txs[i].client_id());
    req.results[i].set_seq(txs[i].seq());
  }

  // Validate everything first, so that a request is either queued or refused as a whole
  // when the ledger is overloaded.
  std::vector<uint32_t> valid;
  valid.reserve(txs.size());
  for (uint32_t i = 0; i < txs.size(); ++i) {
    std::string reason;
    TxCode code = validate_tx(txs[i], options_.max_tx_bytes, &reason);
    if (code == TX_OK) {
      valid.push_back(i);
      continue;
    }
    TxResult r;
    r.set_code(code);
    r.set_reason(std::move(reason));
    complete_slot({id, i}, std::move(r));
  }
  if (!valid.empty() && pending_txs_ + valid.size() > options_.max_pending_txs) {
    const std::string reason = "ledger overloaded: " + std::to_string(pending_txs_) +
                               " transactions pending (max_pending_txs " +
                               std::to_string(options_.max_pending_txs) + "); resend later";
    for (uint32_t i : valid) {
      TxResult r;
      r.set_code(TX_RETRY);
      r.set_reason(reason);
      complete_slot({id, i}, std::move(r));
    }
    valid.clear();
  }
  for (uint32_t i : valid) {
    const size_t size = encoded_size(txs[i]);
    if (building_.txs_size() > 0 && building_bytes_ + size > options_.max_batch_bytes) flush();
    *building_.add_txs() = std::move(txs[i]);
    building_slots_.push_back({id, i});
    building_bytes_ += size;
    building_deadline_ = std::min(building_deadline_, deadline);
    ++pending_txs_;
    if (static_cast<size_t>(building_.txs_size()) >= options_.max_batch_txs ||
        building_bytes_ >= options_.max_batch_bytes) {
      flush();
    }
  }
  if (pending_gauge_ != nullptr) pending_gauge_->set(static_cast<double>(pending_txs_));
  if (options_.flush_when_idle && inflight_.empty()) flush();
  if (building_.txs_size() > 0 && timer_ == kNoTimer) {
    timer_ = executor_.schedule_after(options_.batch_delay, [this] {
      timer_ = kNoTimer;
      flush();
    });
  }
  finish_if_done(id);
}

void Batcher::flush() {
  if (timer_ != kNoTimer) {
    executor_.cancel(timer_);
    timer_ = kNoTimer;
  }
  if (building_deadline_ <= clock_.now()) drop_expired();
  building_deadline_ = TimePoint::max();
  if (building_.txs_size() == 0) return;
  if (batch_size_ != nullptr) batch_size_->observe(static_cast<double>(building_.txs_size()));
  std::string command = building_.SerializeAsString();
  building_.Clear();
  building_bytes_ = 0;
  const uint64_t proposal = next_proposal_++;
  // Registered before propose() so a callback that runs inside propose() finds it.
  inflight_[proposal] = std::move(building_slots_);
  building_slots_.clear();
  std::weak_ptr<bool> alive = alive_;
  consensus_.propose(std::move(command), [this, alive, proposal](Result<ProposeResult> r) {
    if (alive.expired()) return;
    on_proposed(proposal, std::move(r));
  });
}

void Batcher::drop_expired() {
  const TimePoint now = clock_.now();
  Batch kept;
  std::vector<Slot> kept_slots;
  std::vector<uint64_t> touched;
  for (int i = 0; i < building_.txs_size(); ++i) {
    const Slot slot = building_slots_[static_cast<size_t>(i)];
    auto it = requests_.find(slot.request);
    if (it != requests_.end() && it->second.deadline <= now) {
      TxResult r;
      r.set_code(TX_RETRY);
      r.set_reason("the request's deadline passed before it was proposed; nothing was proposed");
      complete_slot(slot, std::move(r));
      touched.push_back(slot.request);
      --pending_txs_;
      continue;
    }
    *kept.add_txs() = std::move(*building_.mutable_txs(i));
    kept_slots.push_back(slot);
  }
  building_ = std::move(kept);
  building_slots_ = std::move(kept_slots);
  building_bytes_ = building_.ByteSizeLong();
  if (pending_gauge_ != nullptr) pending_gauge_->set(static_cast<double>(pending_txs_));
  for (uint64_t id : touched)
    finish_if_done(id);
}

void Batcher::on_proposed(uint64_t proposal, Result<ProposeResult> result) {
  auto it = inflight_.find(proposal);
  if (it == inflight_.end()) return;  // answered already by fail_all()
  std::vector<Slot> slots = std::move(it->second);
  inflight_.erase(it);
  pending_txs_ -= slots.size();
  if (pending_gauge_ != nullptr) pending_gauge_->set(static_cast<double>(pending_txs_));

  BatchResult applied;
  std::string failure;
  TxCode failure_code = TX_UNKNOWN;
  if (!result.ok()) {
    // The consensus contract: these codes mean the command never reached a log. Every other
    // error (UNAVAILABLE: leadership lost or no answer to a forward; DEADLINE_EXCEEDED) leaves
    // it possibly committed, so "retry" would be a lie: a rejection seen now could become a
    // success, and a caller that gives up could see its transfer happen anyway.
    const StatusCode code = result.status().code();
    if (code == StatusCode::kResourceExhausted || code == StatusCode::kInvalidArgument ||
        code == StatusCode::kFailedPrecondition) {
      failure_code = TX_RETRY;
      failure = "not committed (" + result.status().to_string() + "); resend as is";
    } else {
      failure = "outcome unknown: the proposal may still commit (" + result.status().to_string() +
                "); resend the same (client_id, seq) to learn its outcome";
    }
  } else if (!applied.ParseFromString(result->response) || applied.count() != slots.size() ||
             applied.positions_size() != applied.results_size()) {
    // Cannot happen with a matching state machine; a resend returns the recorded outcomes.
    failure = "committed at index " + std::to_string(result->index) +
              " but its results could not be read; resend as is to learn them";
  }
  std::vector<uint64_t> touched;
  touched.reserve(slots.size());
  // Exceptions by position; every other transaction succeeded at applied.index().
  std::vector<int> exception_at(failure.empty() ? slots.size() : 0, -1);
  for (int e = 0; failure.empty() && e < applied.positions_size(); ++e) {
    if (applied.positions(e) < exception_at.size()) exception_at[applied.positions(e)] = e;
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    TxResult r;
    if (!failure.empty()) {
      r.set_code(failure_code);
      r.set_reason(failure);
    } else if (exception_at[i] >= 0) {
      r = std::move(*applied.mutable_results(exception_at[i]));
    } else {
      r.set_code(TX_OK);
      r.set_index(applied.index());
    }
    complete_slot(slots[i], std::move(r));
    touched.push_back(slots[i].request);
  }
  for (uint64_t id : touched)
    finish_if_done(id);
}

void Batcher::complete_slot(const Slot& slot, TxResult result) {
  auto it = requests_.find(slot.request);
  if (it == requests_.end()) return;
  count(result);
  // client_id and seq were filled in at submit(); the result adds the outcome.
  TxResult& dst = it->second.results[slot.position];
  dst.set_code(result.code());
  dst.set_reason(std::move(*result.mutable_reason()));
  dst.set_index(result.index());
  --it->second.remaining;
}

void Batcher::finish_if_done(uint64_t request_id) {
  auto it = requests_.find(request_id);
  if (it == requests_.end() || it->second.remaining != 0) return;
  Request req = std::move(it->second);
  requests_.erase(it);
  if (latency_ != nullptr) {
    latency_->observe(std::chrono::duration<double>(clock_.now() - req.start).count());
  }
  if (req.done) req.done(std::move(req.results));
}

void Batcher::count(const TxResult& r) {
  const int c = static_cast<int>(r.code());
  if (c > 0 && c < TxCode_ARRAYSIZE && rejected_[static_cast<size_t>(c)] != nullptr) {
    rejected_[static_cast<size_t>(c)]->inc();
  }
}

void Batcher::fail_all(const std::string& reason) {
  if (timer_ != kNoTimer) {
    executor_.cancel(timer_);
    timer_ = kNoTimer;
  }
  // Not proposed yet: certainly not committed. Proposed: consensus may still commit them.
  std::vector<std::pair<Slot, TxCode>> slots;
  for (const Slot& s : building_slots_)
    slots.emplace_back(s, TX_RETRY);
  building_slots_.clear();
  building_.Clear();
  building_bytes_ = 0;
  building_deadline_ = TimePoint::max();
  for (auto& [id, in] : inflight_) {
    for (const Slot& s : in)
      slots.emplace_back(s, TX_UNKNOWN);
  }
  inflight_.clear();
  pending_txs_ = 0;
  if (pending_gauge_ != nullptr) pending_gauge_->set(0);
  for (const auto& [s, code] : slots) {
    TxResult r;
    r.set_code(code);
    r.set_reason(code == TX_RETRY ? reason + " (not proposed)"
                                  : reason +
                                        " (proposed; outcome unknown: resend the same "
                                        "(client_id, seq) to learn it)");
    complete_slot(s, std::move(r));
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, req] : requests_)
    ids.push_back(id);
  for (uint64_t id : ids)
    finish_if_done(id);
}

}  // namespace nodus::ledger
