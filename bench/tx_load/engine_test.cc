// The load engine against in-process fake ledgers: redirects, resends, at-most-once
// accounting, the open-loop schedule and --verify. Assertions count transactions, never time.
#include "engine.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ledger_backend.h"
#include "ledger_state.h"

namespace nodus::bench {
namespace {
namespace v1 = nodus::ledger::v1;

// A one-node "ledger". As a follower it answers TX_NOT_LEADER with `leader_hint`. As the
// leader it applies Puts once per (client id, seq), answers TX_RETRY to the first attempt of
// every third seq, and (when `lose_every` > 0) acknowledges but forgets every n-th Put.
class FakeLedger final : public v1::Ledger::Service {
 public:
  std::string leader_hint;  // non-empty: this node is a follower
  uint64_t lose_every = 0;

  grpc::Status Submit(grpc::ServerContext*, const v1::SubmitRequest* req,
                      v1::SubmitReply* reply) override {
    std::lock_guard lock(mu_);
    reply->set_batch_id(req->batch_id());
    for (const auto& tx : req->txs()) {
      auto* r = reply->add_results();
      r->set_client_id(tx.client_id());
      r->set_seq(tx.seq());
      if (!leader_hint.empty()) {
        r->set_code(v1::TX_NOT_LEADER);
        reply->set_leader_hint(leader_hint);
        continue;
      }
      const auto id = std::make_pair(tx.client_id(), tx.seq());
      if (tx.seq() % 3 == 0 && asked_.insert(id).second) {
        r->set_code(v1::TX_RETRY);
        continue;
      }
      if (!applied_.insert(id).second) {
        r->set_code(v1::TX_DUPLICATE);
        continue;
      }
      ++applies_;
      if (lose_every == 0 || applies_ % lose_every != 0) kv_[tx.put().key()] = tx.put().value();
      r->set_code(v1::TX_OK);
    }
    return grpc::Status::OK;
  }

  grpc::Status Get(grpc::ServerContext*, const v1::GetRequest* req, v1::GetReply* reply) override {
    std::lock_guard lock(mu_);
    const auto it = kv_.find(req->key());
    reply->set_found(it != kv_.end());
    if (it != kv_.end()) reply->set_value(it->second);
    return grpc::Status::OK;
  }

  uint64_t applies() {
    std::lock_guard lock(mu_);
    return applies_;
  }

 private:
  std::mutex mu_;
  std::set<std::pair<std::string, uint64_t>> asked_;
  std::set<std::pair<std::string, uint64_t>> applied_;
  std::map<std::string, std::string> kv_;
  uint64_t applies_ = 0;
};

struct Node {
  FakeLedger service;
  std::unique_ptr<grpc::Server> server;
  std::string address;

  void start() {
    int port = 0;
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
    address = "127.0.0.1:" + std::to_string(port);
  }
};

TxLoadOptions short_run(const std::vector<std::string>& endpoints) {
  TxLoadOptions o;
  o.endpoints = endpoints;
  o.clients = 4;
  o.batch = 5;
  o.inflight = 2;
  o.duration_s = 0.3;
  o.warmup_s = 0.05;
  o.drain_s = 5;
  o.connections = 2;
  o.verify = true;
  o.progress = false;
  o.value_bytes = 32;
  return o;
}

// Goal: clients that start on a follower follow its hint to the leader, TX_RETRY is resent
// with the same (client id, seq), every acknowledged transaction was applied exactly once,
// and --verify reads all of them back with nothing lost.
TEST(EngineTest, FollowsRedirectsResendsAndVerifies) {
  Node leader;
  leader.start();
  Node follower;
  follower.service.leader_hint = leader.address;
  follower.start();
  const TxLoadOptions o = short_run({follower.address, leader.address});
  const Payload payload("enginet1", o.value_bytes);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  EXPECT_GT(r.committed_total, 0u);
  EXPECT_GT(r.redirects, 0u);
  EXPECT_GT(r.retried, 0u);
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.unresolved, 0u);
  EXPECT_TRUE(r.rejected.empty());
  // At most once: the leader applied each acknowledged transaction once and nothing else.
  EXPECT_EQ(leader.service.applies(), r.committed_total);
  EXPECT_LE(r.committed, r.committed_total);
  EXPECT_EQ(r.latency_ns.count() > 0, r.committed > 0);
  ASSERT_TRUE(r.verify.ran);
  EXPECT_EQ(r.verify.checked, r.committed_total);
  EXPECT_EQ(r.verify.lost, 0u);
  EXPECT_EQ(r.verify.read_errors, 0u);
  leader.server->Shutdown();
  follower.server->Shutdown();
}

// Goal: --verify reports acknowledged-but-lost transactions when the cluster forgets writes
// (so a zero from a real cluster means something).
TEST(EngineTest, VerifyCatchesLostWrites) {
  Node leader;
  leader.service.lose_every = 7;
  leader.start();
  const TxLoadOptions o = short_run({leader.address});
  const Payload payload("enginet2", o.value_bytes);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  ASSERT_GE(r.committed_total, 7u);
  EXPECT_EQ(r.verify.lost, r.committed_total / 7);
  leader.server->Shutdown();
}

// Goal: the open loop sends exactly the scheduled transactions (rate x time, in whole
// batches), however fast the server answers.
TEST(EngineTest, OpenLoopSendsTheSchedule) {
  Node leader;
  leader.start();
  TxLoadOptions o = short_run({leader.address});
  o.rate_tx_s = 2000;
  o.batch = 4;
  o.verify = false;
  const Payload payload("enginet3", o.value_bytes);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  // Batches due in [0, warmup + duration): k * batch / rate < 0.35 s, so k < 175.
  EXPECT_NEAR(static_cast<double>(r.committed_total), 175.0 * o.batch, o.batch);
  EXPECT_EQ(r.unresolved, 0u);
  leader.server->Shutdown();
}

// Goal: an unreachable endpoint counts as errors and the clients move on to a live one.
TEST(EngineTest, DeadEndpointIsSkipped) {
  Node leader;
  leader.start();
  TxLoadOptions o = short_run({"127.0.0.1:1", leader.address});
  o.rpc_timeout_ms = 500;
  const Payload payload("enginet4", o.value_bytes);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  EXPECT_GT(r.errors, 0u);
  EXPECT_GT(r.committed_total, 0u);
  EXPECT_EQ(r.verify.lost, 0u);
  EXPECT_EQ(r.verify.checked, r.committed_total);
  leader.server->Shutdown();
}

// Endpoints of one cluster whose state is the real ledger state machine (shared, one lock). The
// "restarting" endpoint holds the first batch it gets until the caller gives up (as a node
// that is restarting, or stalled, holds a forwarded request) and then fails it; it answers
// every other batch normally.
class StateMachineLedger final : public v1::Ledger::Service {
 public:
  StateMachineLedger(nodus::ledger::LedgerState& state, std::mutex& mu, uint64_t& index,
                     bool hold_first, bool lose_first_answer = false)
      : state_(state),
        mu_(mu),
        index_(index),
        hold_first_(hold_first),
        lose_first_answer_(lose_first_answer) {}

  grpc::Status Submit(grpc::ServerContext* ctx, const v1::SubmitRequest* req,
                      v1::SubmitReply* reply) override {
    if (hold_first_ && !held_.exchange(true)) {
      while (!ctx->IsCancelled())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      return {grpc::StatusCode::UNAVAILABLE, "restarting"};
    }
    v1::Batch batch;
    *batch.mutable_txs() = req->txs();
    std::lock_guard lock(mu_);
    v1::BatchResult compact;
    compact.ParseFromString(state_.apply(++index_, batch.SerializeAsString()));
    reply->set_batch_id(req->batch_id());
    for (auto& r : nodus::ledger::expand_batch_result(compact))
      *reply->add_results() = std::move(r);
    // The first applied transfer's answer is lost on the way (the client will resend), and
    // another client writes before the resend comes.
    if (lose_first_answer_ && req->txs(0).has_transfer() && reply->results(0).code() == v1::TX_OK &&
        !lost_.exchange(true)) {
      v1::Batch other;
      v1::Transaction* tx = other.add_txs();
      tx->set_client_id("intruder");
      tx->set_seq(1);
      tx->mutable_put()->set_key("k");
      (void)state_.apply(++index_, other.SerializeAsString());
      return {grpc::StatusCode::UNAVAILABLE, "lost"};
    }
    return grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext*, const v1::GetAccountRequest* req,
                          v1::GetAccountReply* reply) override {
    std::lock_guard lock(mu_);
    if (auto b = state_.balance(req->account())) {
      reply->set_found(true);
      reply->set_balance(*b);
    }
    return grpc::Status::OK;
  }

  grpc::Status Get(grpc::ServerContext*, const v1::GetRequest* req, v1::GetReply* reply) override {
    std::lock_guard lock(mu_);
    if (auto v = state_.get(req->key())) {
      reply->set_found(true);
      reply->set_value(*v);
    }
    return grpc::Status::OK;
  }

 private:
  nodus::ledger::LedgerState& state_;
  std::mutex& mu_;
  uint64_t& index_;
  const bool hold_first_;
  const bool lose_first_answer_;
  std::atomic<bool> held_{false};
  std::atomic<bool> lost_{false};
};

// Goal (issue 12): a batch held by a restarting node while the client's later batches commit
// through it is not reported lost by --verify. It was: the ledger slid the client's dedup
// window past the held seqs, answered their resend TX_DUPLICATE without applying them, and the
// verifier (rightly) found acknowledged keys missing. Every acknowledgement now means applied.
TEST(EngineTest, HeldBatchIsNotLost) {
  nodus::ledger::LedgerState state({});
  std::mutex mu;
  uint64_t index = 0;
  StateMachineLedger restarting(state, mu, index, /*hold_first=*/true);
  StateMachineLedger leader(state, mu, index, /*hold_first=*/false);
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::vector<std::string> addresses;
  for (auto* service : {&restarting, &leader}) {
    int port = 0;
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service);
    servers.push_back(b.BuildAndStart());
    addresses.push_back("127.0.0.1:" + std::to_string(port));
  }
  TxLoadOptions o = short_run(addresses);
  o.clients = 1;  // client 0 starts on the restarting endpoint
  o.batch = 50;
  o.rate_tx_s = 20000;  // 10,000 seqs while the first batch is held: far past a 4096 window
  o.duration_s = 0.6;
  o.warmup_s = 0;
  o.rpc_timeout_ms = 500;
  o.drain_s = 20;
  const Payload payload("enginet5", o.value_bytes);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  ASSERT_GT(r.committed_total, 4096u + 50u);
  EXPECT_GT(r.errors, 0u);  // the held batch failed at least once
  EXPECT_EQ(r.unresolved, 0u);
  ASSERT_TRUE(r.verify.ran);
  EXPECT_EQ(r.verify.checked, r.committed_total);
  EXPECT_EQ(r.verify.lost, 0u);
  EXPECT_EQ(r.verify.read_errors, 0u);
  for (auto& s : servers)
    s->Shutdown();
}

// Goal: --workload transfer against the real state machine, with a held batch: every client's
// balance and the sink agree with the acknowledged transfers (none lost, none applied twice,
// money conserved), and every acknowledgement is checked.
TEST(EngineTest, TransfersVerifyBalancesAndConservation) {
  nodus::ledger::LedgerState state({});
  std::mutex mu;
  uint64_t index = 0;
  StateMachineLedger restarting(state, mu, index, /*hold_first=*/true);
  StateMachineLedger leader(state, mu, index, /*hold_first=*/false);
  std::vector<std::unique_ptr<grpc::Server>> servers;
  std::vector<std::string> addresses;
  for (auto* service : {&restarting, &leader}) {
    int port = 0;
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service);
    servers.push_back(b.BuildAndStart());
    addresses.push_back("127.0.0.1:" + std::to_string(port));
  }
  TxLoadOptions o = short_run(addresses);
  o.transfers = true;
  o.rpc_timeout_ms = 300;
  Payload payload("enginet6", o.value_bytes);
  payload.set_transfers(true);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  ASSERT_GT(r.committed_total, o.clients);
  EXPECT_EQ(r.unresolved, 0u);
  ASSERT_TRUE(r.verify.ran);
  EXPECT_EQ(r.verify.checked, r.committed_total);
  EXPECT_EQ(r.verify.lost, 0u);
  EXPECT_EQ(r.verify.duplicated, 0u);
  EXPECT_EQ(r.verify.conservation_errors, 0u);
  EXPECT_EQ(r.verify.read_errors, 0u);
  // The sink holds one unit per applied transfer.
  std::lock_guard lock(mu);
  EXPECT_GT(state.balance(payload.sink()).value_or(0), 0u);
  for (auto& s : servers)
    s->Shutdown();
}

// Goal: the transfer verifier has teeth: a ledger that applies a resend again (the planted bug:
// a dedup table of one client, and another client writes before the resend of a transfer
// whose answer was lost) is caught as a transfer applied twice.
TEST(EngineTest, TransferVerifyCatchesDoubleApply) {
  nodus::ledger::LedgerState::Options forgetful;
  forgetful.max_clients = 1;
  nodus::ledger::LedgerState state(forgetful);
  std::mutex mu;
  uint64_t index = 0;
  StateMachineLedger node(state, mu, index, /*hold_first=*/false, /*lose_first_answer=*/true);
  int port = 0;
  grpc::ServerBuilder b;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&node);
  auto server = b.BuildAndStart();
  TxLoadOptions o = short_run({"127.0.0.1:" + std::to_string(port)});
  o.transfers = true;
  o.batch = 1;
  Payload payload("enginet7", o.value_bytes);
  payload.set_transfers(true);
  LedgerBackend backend(o.endpoints, o.connections, o.rpc_timeout_ms, payload);
  LoadReport r;
  {
    LoadEngine engine(o, payload, backend);
    r = engine.run();
  }
  ASSERT_TRUE(r.verify.ran);
  EXPECT_GT(r.verify.duplicated + r.verify.conservation_errors, 0u)
      << "lost " << r.verify.lost << " checked " << r.verify.checked << " committed "
      << r.committed_total << " evictions " << state.dedup().evictions();
  server->Shutdown();
}

}  // namespace
}  // namespace nodus::bench
