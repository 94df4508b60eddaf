#include "engine.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <future>
#include <random>
#include <thread>
#include <utility>

namespace nodus::bench {
namespace {

// Resends back off exponentially (2 ms doubling to 1 s, jitter 50-100 % of the step) so that an
// overloaded or leaderless cluster is not buried under resends, which would only deepen the
// overload.
constexpr std::chrono::milliseconds kRetryBackoffMin{2};
constexpr std::chrono::milliseconds kRetryBackoffMax{1000};
// The long backoff would stretch the measured outage, so the first commit after a pause this
// long releases every waiting resend at once: the cluster is answering again.
constexpr std::chrono::milliseconds kRecoveryPause{50};
// Open loop: at most this many seconds of load outstanding; beyond it the pacer waits, and
// the waiting shows up in latency because due times do not move.
constexpr double kOpenLoopOutstandingS = 5.0;
// Reads of --verify that fail are tried again on the next endpoint, this many rounds.
constexpr uint32_t kVerifyRounds = 20;

double ms_of(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

}  // namespace

struct LoadEngine::Op {
  uint32_t client = 0;
  Clock::time_point due;
  std::vector<uint64_t> seqs;  // the transactions not yet resolved
  uint32_t attempts = 0;
};

LoadEngine::LoadEngine(const TxLoadOptions& options, const Payload& payload, Backend& backend)
    : options_(options), payload_(payload), backend_(backend) {
  const size_t endpoints = std::max<size_t>(1, backend_.endpoint_count());
  for (uint32_t c = 0; c < options_.clients; ++c) {
    clients_.push_back(std::make_unique<ClientState>());
    clients_.back()->endpoint = c % endpoints;
  }
}

LoadEngine::~LoadEngine() {
  // Callbacks reference this object: never leave while an RPC can still call back.
  while (outstanding_rpcs_.load() != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  for (auto& [when, op] : retries_)
    delete op;
}

LoadEngine::Op* LoadEngine::new_op(uint32_t client, Clock::time_point due) {
  auto* op = new Op;
  op->client = client;
  op->due = due;
  const uint64_t first = clients_[client]->next_seq.fetch_add(options_.batch);
  for (uint32_t i = 0; i < options_.batch; ++i)
    op->seqs.push_back(first + i);
  return op;
}

void LoadEngine::send(Op* op) {
  if (abandoned_.load()) {
    std::lock_guard lock(mu_);
    report_.unresolved += op->seqs.size();
    delete op;
    outstanding_ops_.fetch_sub(1);
    return;
  }
  const size_t endpoint = clients_[op->client]->endpoint.load();
  outstanding_rpcs_.fetch_add(1);
  backend_.submit(endpoint, op->client, op->seqs, [this, op, endpoint](BatchReply reply) {
    on_reply(op, endpoint, std::move(reply));
    outstanding_rpcs_.fetch_sub(1);
    cv_.notify_all();
  });
}

void LoadEngine::on_reply(Op* op, size_t endpoint, BatchReply reply) {
  const auto now = Clock::now();
  std::vector<uint64_t> again;
  bool not_leader = false;
  ClientState& client = *clients_[op->client];
  {
    std::lock_guard lock(mu_);
    if (reply.rpc.ok() && reply.results.size() != op->seqs.size()) {
      reply.rpc = internal_error("reply holds " + std::to_string(reply.results.size()) +
                                 " results for " + std::to_string(op->seqs.size()) + " txs");
    }
    if (!reply.rpc.ok()) {
      ++report_.errors;
      ++report_.errors_by_code[std::string(status_code_name(reply.rpc.code()))];
      if (report_.errors <= 3) {
        std::fprintf(stderr, "tx-load: endpoint %zu: %s\n", endpoint,
                     reply.rpc.to_string().c_str());
      }
      again = op->seqs;
    } else {
      const auto ms = static_cast<size_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - start_).count());
      const bool in_window = now >= measure_start_ && now < measure_end_;
      const bool due_in_window = op->due >= measure_start_ && op->due < measure_end_;
      const auto latency_ns = static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - op->due).count());
      for (size_t i = 0; i < op->seqs.size(); ++i) {
        const TxResult& r = reply.results[i];
        switch (r.fate) {
          case TxFate::kCommitted:
          case TxFate::kDuplicate:
            if (now - last_commit_ > kRecoveryPause && !retries_.empty()) flush_retries_ = true;
            last_commit_ = now;
            ++report_.committed_total;
            if (ms < report_.timeline.size()) ++report_.timeline[ms];
            if (in_window) ++report_.committed;
            if (due_in_window) report_.latency_ns.record(latency_ns);
            progress_latency_ns_.record(latency_ns);
            if (options_.verify) client.acked.push_back(op->seqs[i]);
            break;
          case TxFate::kNotLeader:
            not_leader = true;
            again.push_back(op->seqs[i]);
            break;
          case TxFate::kRetry:
            again.push_back(op->seqs[i]);
            break;
          case TxFate::kRejected:
            ++report_.rejected[r.code];
            ++client.rejected;
            break;
        }
      }
    }
    report_.retried += again.size();
  }
  // Where this client sends next: the leader's hint, or the next endpoint when this one is
  // unreachable or does not know the leader. compare_exchange keeps a concurrent, newer
  // choice by another batch of the same client.
  bool follow_hint = false;
  if (not_leader && !reply.leader_hint.empty()) {
    const size_t hinted = backend_.endpoint_index(reply.leader_hint);
    client.endpoint.store(hinted);
    follow_hint = hinted != endpoint;
    std::lock_guard lock(mu_);
    ++report_.redirects;
  } else if (!reply.rpc.ok() || not_leader) {
    size_t expected = endpoint;
    client.endpoint.compare_exchange_strong(expected, (endpoint + 1) % backend_.endpoint_count());
  }
  if (again.empty()) {
    finish(op);
    return;
  }
  op->seqs = std::move(again);
  ++op->attempts;
  if (follow_hint) {
    send(op);
    return;
  }
  const auto step =
      std::min(kRetryBackoffMax, kRetryBackoffMin * (1 << std::min(op->attempts, 9u)));
  thread_local std::minstd_rand jitter(std::random_device{}());
  const auto backoff = std::chrono::milliseconds(
      step.count() / 2 +
      static_cast<int64_t>(jitter() % static_cast<uint64_t>(step.count() / 2 + 1)));
  schedule_retry(op, backoff);
}

void LoadEngine::finish(Op* op) {
  if (options_.rate_tx_s <= 0 && !stop_new_.load()) {
    // Closed loop: the client's slot goes straight to its next batch.
    const uint32_t client = op->client;
    delete op;
    send(new_op(client, Clock::now()));
    return;
  }
  delete op;
  outstanding_ops_.fetch_sub(1);
  cv_.notify_all();
}

void LoadEngine::schedule_retry(Op* op, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (abandoned_.load()) {
    report_.unresolved += op->seqs.size();
    delete op;
    outstanding_ops_.fetch_sub(1);
    return;
  }
  retries_.emplace(Clock::now() + delay, op);
}

void LoadEngine::dispatch_due_retries(Clock::time_point now) {
  std::vector<Op*> due;
  {
    std::lock_guard lock(mu_);
    const bool flush = flush_retries_;
    flush_retries_ = false;
    while (!retries_.empty() && (flush || retries_.begin()->first <= now)) {
      due.push_back(retries_.begin()->second);
      retries_.erase(retries_.begin());
    }
  }
  for (Op* op : due)
    send(op);
}

void LoadEngine::print_progress(Clock::time_point now) {
  std::lock_guard lock(mu_);
  const double t = std::chrono::duration<double>(now - start_).count();
  const uint64_t rate = report_.committed_total - progress_committed_at_last_;
  progress_committed_at_last_ = report_.committed_total;
  uint64_t rejected = 0;
  for (const auto& [code, n] : report_.rejected)
    rejected += n;
  std::fprintf(stderr,
               "tx-load %6.1fs %s %9llu tx/s  p50 %7.2f ms  p99 %7.2f ms  committed %llu  "
               "errors %llu  retried %llu  rejected %llu\n",
               t, now < measure_start_ ? "warmup" : "      ", static_cast<unsigned long long>(rate),
               ms_of(progress_latency_ns_.value_at_quantile(0.50)),
               ms_of(progress_latency_ns_.value_at_quantile(0.99)),
               static_cast<unsigned long long>(report_.committed_total),
               static_cast<unsigned long long>(report_.errors),
               static_cast<unsigned long long>(report_.retried),
               static_cast<unsigned long long>(rejected));
}

LoadReport LoadEngine::run() {
  using std::chrono::duration_cast;
  using std::chrono::nanoseconds;
  const auto seconds = [](double s) {
    return duration_cast<nanoseconds>(std::chrono::duration<double>(s));
  };
  start_ = Clock::now();
  last_commit_ = start_;
  measure_start_ = start_ + seconds(options_.warmup_s);
  measure_end_ = measure_start_ + seconds(options_.duration_s);
  const auto drain_end = measure_end_ + seconds(options_.drain_s);
  report_.timeline.assign(
      static_cast<size_t>((options_.warmup_s + options_.duration_s + options_.drain_s) * 1000) +
          1000,
      0);
  report_.measured_s = options_.duration_s;

  const bool open_loop = options_.rate_tx_s > 0;
  uint64_t next_batch = 0;
  bool schedule_done = !open_loop;
  const double interval_ns = 1e9 * options_.batch / std::max(options_.rate_tx_s, 1e-9);
  const auto max_outstanding = static_cast<uint64_t>(
      std::max(1000.0, options_.rate_tx_s * kOpenLoopOutstandingS / options_.batch));
  if (!open_loop) {
    for (uint32_t c = 0; c < options_.clients; ++c) {
      for (uint32_t j = 0; j < options_.inflight; ++j) {
        outstanding_ops_.fetch_add(1);
        send(new_op(c, start_));
      }
    }
  }
  auto next_progress = start_ + std::chrono::seconds(1);
  while (true) {
    auto now = Clock::now();
    if (now >= measure_end_) stop_new_.store(true);
    auto wake = now + std::chrono::milliseconds(1);
    // Every batch due before the end is sent, even when this thread wakes up after the end:
    // the schedule, not the pacer's punctuality, decides what is offered.
    if (open_loop && !schedule_done) {
      while (outstanding_ops_.load() < max_outstanding) {
        const auto due = start_ + nanoseconds(static_cast<int64_t>(next_batch * interval_ns));
        if (due >= measure_end_) {
          schedule_done = true;
          break;
        }
        if (due > now) {
          wake = std::min(wake, due);
          break;
        }
        outstanding_ops_.fetch_add(1);
        send(new_op(static_cast<uint32_t>(next_batch % options_.clients), due));
        ++next_batch;
      }
    }
    dispatch_due_retries(now);
    if (options_.progress && now >= next_progress) {
      print_progress(now);
      next_progress += std::chrono::seconds(1);
    }
    if (stop_new_.load() && schedule_done && outstanding_ops_.load() == 0) break;
    if (now >= drain_end) break;
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, wake);
  }
  // Past the drain: whatever is still open is reported unresolved, never as acknowledged.
  abandoned_.store(true);
  {
    std::lock_guard lock(mu_);
    for (auto& [when, op] : retries_) {
      report_.unresolved += op->seqs.size();
      delete op;
      outstanding_ops_.fetch_sub(1);
    }
    retries_.clear();
  }
  while (outstanding_rpcs_.load() != 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    // Closed-loop ops still open when the drain ended were counted in on_reply/send.
    std::lock_guard lock(mu_);
    report_.throughput_tx_s = static_cast<double>(report_.committed) / options_.duration_s;
  }
  compute_gap();
  if (options_.verify) run_verify();
  return report_;
}

void LoadEngine::compute_gap() {
  const auto ms_at = [this](Clock::time_point t) {
    return static_cast<size_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(t - start_).count());
  };
  const size_t from = ms_at(measure_start_);
  const size_t to = std::min(ms_at(measure_end_), report_.timeline.size());
  size_t run_start = from;
  for (size_t ms = from; ms <= to; ++ms) {
    if (ms == to || report_.timeline[ms] != 0) {
      if (ms - run_start > report_.max_commit_gap_ms) {
        report_.max_commit_gap_ms = ms - run_start;
        report_.max_commit_gap_at_ms = run_start;
      }
      run_start = ms + 1;
    }
  }
}

std::optional<BalanceResult> LoadEngine::read_balance_blocking(const std::string& account,
                                                               size_t first) {
  const size_t endpoints = backend_.endpoint_count();
  for (uint32_t attempt = 0; attempt < kVerifyRounds * endpoints; ++attempt) {
    std::promise<BalanceResult> got;
    outstanding_rpcs_.fetch_add(1);
    backend_.read_balance((first + attempt) % endpoints, account, [&](BalanceResult r) {
      got.set_value(std::move(r));
      outstanding_rpcs_.fetch_sub(1);
    });
    BalanceResult r = got.get_future().get();
    if (r.ok()) return r;
    std::fprintf(stderr, "tx-load: verify: %s: %s\n", account.c_str(),
                 r.status().to_string().c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

// Transfers: client c's account must hold kFunding (if its mint applied) minus the transfers
// applied, which are at least the acknowledged ones (else some were lost) and at most the
// acknowledged plus the undecided ones (else one applied twice); the sink must hold exactly the
// sum of what left the accounts (conservation).
void LoadEngine::run_verify_transfers() {
  VerifyReport& v = report_.verify;
  v.ran = true;
  uint64_t moved = 0;
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    ClientState& client = *clients_[c];
    auto r = read_balance_blocking(payload_.account(c), client.endpoint.load());
    if (!r) {
      ++v.read_errors;
      continue;
    }
    std::lock_guard lock(mu_);
    const uint64_t sent = client.next_seq.load() - 1;
    const uint64_t acked = client.acked.size();
    const bool mint_acked =
        std::find(client.acked.begin(), client.acked.end(), 1) != client.acked.end();
    const uint64_t transfers_acked = acked - (mint_acked ? 1 : 0);
    const uint64_t undecided = sent >= acked + client.rejected ? sent - acked - client.rejected : 0;
    // A transfer cannot create its source account: no account means the mint never applied.
    const uint64_t funded = (*r)->has_value() ? Payload::kFunding : 0;
    const uint64_t balance = (*r)->value_or(0);
    const uint64_t applied = funded >= balance ? funded - balance : 0;
    v.checked += acked;
    if (applied < transfers_acked) {
      v.lost += transfers_acked - applied;
      std::fprintf(stderr, "tx-load: verify: %s holds %llu: %llu acknowledged transfers missing\n",
                   payload_.account(c).c_str(), static_cast<unsigned long long>(balance),
                   static_cast<unsigned long long>(transfers_acked - applied));
    } else if (applied > transfers_acked + undecided) {
      v.duplicated += applied - transfers_acked - undecided;
      std::fprintf(stderr,
                   "tx-load: verify: %s holds %llu: %llu more transfers applied than sent\n",
                   payload_.account(c).c_str(), static_cast<unsigned long long>(balance),
                   static_cast<unsigned long long>(applied - transfers_acked - undecided));
    }
    if (mint_acked && funded == 0) ++v.lost;  // an acknowledged mint that did not apply
    moved += applied;
  }
  auto sink = read_balance_blocking(payload_.sink(), 0);
  if (!sink) {
    ++v.read_errors;
  } else if ((*sink)->value_or(0) != moved) {
    v.conservation_errors = 1;
    std::fprintf(stderr, "tx-load: verify: the sink holds %llu, the accounts lost %llu\n",
                 static_cast<unsigned long long>((*sink)->value_or(0)),
                 static_cast<unsigned long long>(moved));
  }
}

void LoadEngine::run_verify() {
  if (options_.transfers) return run_verify_transfers();
  struct Read {
    uint32_t client;
    uint64_t seq;
    uint32_t attempt;
  };
  std::deque<Read> todo;
  for (uint32_t c = 0; c < clients_.size(); ++c) {
    for (uint64_t seq : clients_[c]->acked)
      todo.push_back({c, seq, 0});
  }
  std::multimap<Clock::time_point, Read> later;  // failed reads waiting to be tried again
  uint64_t inflight = 0;
  VerifyReport& v = report_.verify;
  v.ran = true;
  const size_t endpoints = backend_.endpoint_count();
  std::unique_lock lock(mu_);
  while (!todo.empty() || !later.empty() || inflight != 0) {
    const auto now = Clock::now();
    while (!later.empty() && later.begin()->first <= now) {
      todo.push_back(later.begin()->second);
      later.erase(later.begin());
    }
    while (!todo.empty() && inflight < options_.verify_concurrency) {
      const Read r = todo.front();
      todo.pop_front();
      ++inflight;
      const size_t endpoint = (clients_[r.client]->endpoint.load() + r.attempt) % endpoints;
      lock.unlock();
      outstanding_rpcs_.fetch_add(1);
      backend_.read(endpoint, payload_.key(r.client, r.seq), [&, r](ReadResult result) {
        {
          std::lock_guard inner(mu_);
          --inflight;
          if (!result.ok()) {
            if (r.attempt + 1 < kVerifyRounds * endpoints) {
              later.emplace(Clock::now() + std::chrono::milliseconds(20),
                            Read{r.client, r.seq, r.attempt + 1});
            } else {
              ++v.read_errors;
              std::fprintf(stderr, "tx-load: verify: %s: %s\n",
                           payload_.key(r.client, r.seq).c_str(),
                           result.status().to_string().c_str());
            }
          } else {
            ++v.checked;
            if (!result->has_value() || **result != payload_.value(r.client, r.seq)) {
              if (++v.lost <= 10) {
                std::fprintf(stderr, "tx-load: verify: acknowledged %s is %s\n",
                             payload_.key(r.client, r.seq).c_str(),
                             result->has_value() ? "changed" : "missing");
              }
            }
          }
        }
        outstanding_rpcs_.fetch_sub(1);
        cv_.notify_all();
      });
      lock.lock();
    }
    cv_.wait_for(lock, std::chrono::milliseconds(5));
  }
}

}  // namespace nodus::bench
