// Unit tests of the Batcher against FakeConsensus on a ManualExecutor: flush rules, replies,
// validation before proposing, retries, and the pending bound.
#include <gtest/gtest.h>

#include <optional>

#include "batcher.h"
#include "fake_consensus.h"
#include "ledger_state.h"
#include "nodus/testing/manual_executor.h"

namespace nodus::ledger {
namespace {

using std::chrono::microseconds;

Transaction mint(uint64_t seq, uint64_t amount = 1, const std::string& client = "c") {
  Transaction tx;
  tx.set_client_id(client);
  tx.set_seq(seq);
  tx.mutable_mint()->set_account("a");
  tx.mutable_mint()->set_amount(amount);
  return tx;
}

class BatcherTest : public ::testing::Test {
 protected:
  void make(BatcherOptions o) {
    o.batch_delay = microseconds(100);
    options_ = o;
    ASSERT_TRUE(fake_.set_state_machine(&state_).ok());
    batcher_ = std::make_unique<Batcher>(exec_, exec_, fake_, o, nullptr);
  }
  // Submits and returns a slot that fills in when the reply comes.
  std::shared_ptr<std::optional<std::vector<TxResult>>> submit(std::vector<Transaction> txs) {
    auto out = std::make_shared<std::optional<std::vector<TxResult>>>();
    batcher_->submit(std::move(txs), [out](std::vector<TxResult> r) { *out = std::move(r); });
    return out;
  }
  size_t batch_txs(size_t i) {
    Batch b;
    EXPECT_TRUE(b.ParseFromString(fake_.commands().at(i)));
    return static_cast<size_t>(b.txs_size());
  }

  nodus::testing::ManualExecutor exec_;
  testing::FakeConsensus fake_{exec_};
  LedgerState state_{LedgerState::Options{}};
  BatcherOptions options_;
  std::unique_ptr<Batcher> batcher_;
};

// Goal: a batch is proposed as soon as it holds max_batch_txs transactions.
TEST_F(BatcherTest, FlushesAtMaxBatchTxs) {
  make({.max_batch_txs = 3});
  auto r = submit({mint(1), mint(2), mint(3), mint(4), mint(5), mint(6), mint(7)});
  ASSERT_EQ(fake_.commands().size(), 2u);  // 3 + 3 at once, 1 waits for the delay
  EXPECT_EQ(batch_txs(0), 3u);
  EXPECT_EQ(batch_txs(1), 3u);
  exec_.run_until_idle();
  EXPECT_FALSE(r->has_value());  // its last tx is not proposed yet
  exec_.advance(microseconds(100));
  ASSERT_EQ(fake_.commands().size(), 3u);
  ASSERT_TRUE(r->has_value());
  ASSERT_EQ((*r)->size(), 7u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ((**r)[i].code(), TX_OK);
    EXPECT_EQ((**r)[i].seq(), i + 1);  // same order as submitted
  }
  EXPECT_EQ(state_.balance("a"), 7u);
}

// Goal: a batch is proposed when the next transaction would take it past max_batch_bytes.
TEST_F(BatcherTest, FlushesAtMaxBatchBytes) {
  make({.max_tx_bytes = 4096, .max_batch_txs = 1000, .max_batch_bytes = 100});
  submit({mint(1), mint(2), mint(3), mint(4), mint(5), mint(6)});
  ASSERT_GE(fake_.commands().size(), 1u);
  for (size_t i = 0; i < fake_.commands().size(); ++i) {
    EXPECT_LE(fake_.commands()[i].size(), 100u);
  }
}

// Goal: a lone transaction is proposed after batch_delay, not before.
TEST_F(BatcherTest, FlushesAfterDelay) {
  make({});
  auto r = submit({mint(1)});
  exec_.advance(microseconds(99));
  EXPECT_TRUE(fake_.commands().empty());
  exec_.advance(microseconds(1));
  ASSERT_EQ(fake_.commands().size(), 1u);
  exec_.run_until_idle();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)[0].code(), TX_OK);
  EXPECT_EQ((**r)[0].index(), 1u);
}

// Goal: with flush_when_idle, a lone transaction is proposed at once; one that arrives while
// that proposal is in flight waits for batch_delay (and batches with others).
TEST_F(BatcherTest, FlushesAtOnceWhenIdle) {
  BatcherOptions o;
  o.flush_when_idle = true;
  make(o);
  fake_.set_hold(true);
  auto first = submit({mint(1)});
  ASSERT_EQ(fake_.commands().size(), 1u);
  auto second = submit({mint(2)});
  auto third = submit({mint(3)});
  EXPECT_EQ(fake_.commands().size(), 1u);
  exec_.advance(microseconds(100));
  ASSERT_EQ(fake_.commands().size(), 2u);
  EXPECT_EQ(batch_txs(1), 2u);
  fake_.commit_held();
  exec_.run_until_idle();
  ASSERT_TRUE(first->has_value() && second->has_value() && third->has_value());
  EXPECT_EQ((**first)[0].code(), TX_OK);
  EXPECT_EQ((**third)[0].code(), TX_OK);
}

// Goal: transactions of several clients share one proposal, and each client gets its own.
TEST_F(BatcherTest, GroupsClientsIntoOneProposal) {
  make({});
  auto a = submit({mint(1, 1, "x")});
  auto b = submit({mint(1, 1, "y"), mint(2, 1, "y")});
  exec_.advance(microseconds(100));
  ASSERT_EQ(fake_.commands().size(), 1u);
  EXPECT_EQ(batch_txs(0), 3u);
  ASSERT_TRUE(a->has_value() && b->has_value());
  EXPECT_EQ((*a)->size(), 1u);
  EXPECT_EQ((*b)->size(), 2u);
  EXPECT_EQ((**b)[1].client_id(), "y");
}

// Goal: malformed and oversized transactions are answered without being proposed.
TEST_F(BatcherTest, ValidatesBeforeProposing) {
  make({.max_tx_bytes = 64});
  Transaction big = mint(2);
  big.mutable_mint()->set_account(std::string(200, 'z'));
  auto r = submit({mint(0), big});
  ASSERT_TRUE(r->has_value());  // answered at once
  EXPECT_EQ((**r)[0].code(), TX_MALFORMED);
  EXPECT_EQ((**r)[1].code(), TX_TOO_LARGE);
  exec_.advance(microseconds(1000));
  EXPECT_TRUE(fake_.commands().empty());
}

// Goal: leadership lost mid-flight answers every tx of the batch with TX_UNKNOWN (not
// TX_RETRY): the entry may still commit. When it does, the resend learns the outcome and
// nothing applies twice.
TEST_F(BatcherTest, LostLeadershipGivesUnknown) {
  make({.max_batch_txs = 2});
  fake_.set_hold(true);
  auto r = submit({mint(1), mint(2)});
  ASSERT_EQ(fake_.held(), 1u);
  fake_.fail_held(unavailable("leadership lost in term 1"));
  ASSERT_TRUE(r->has_value());
  for (const auto& x : **r) {
    EXPECT_EQ(x.code(), TX_UNKNOWN);
    EXPECT_NE(x.reason().find("leadership lost"), std::string::npos);
  }
  EXPECT_EQ(batcher_->pending_txs(), 0u);
  // The new leader had the entry after all: it commits.
  (void)state_.apply(7, fake_.commands().at(0));
  fake_.set_hold(false);
  auto again = submit({mint(1), mint(2)});
  exec_.run_until_idle();
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((**again)[0].code(), TX_DUPLICATE);
  EXPECT_EQ((**again)[1].code(), TX_DUPLICATE);
  EXPECT_EQ(state_.balance("a"), 2u);
}

// Goal: a propose that fails at once (flow control) is TX_RETRY too.
TEST_F(BatcherTest, ProposeErrorGivesRetry) {
  make({.max_batch_txs = 1});
  fake_.set_fail_new(resource_exhausted("raft flow control"));
  auto r = submit({mint(1)});
  exec_.run_until_idle();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)[0].code(), TX_RETRY);
  EXPECT_NE((**r)[0].reason().find("flow control"), std::string::npos);
}

// Goal: several proposals may be in flight; their replies come as each commits.
TEST_F(BatcherTest, SeveralProposalsInFlight) {
  make({.max_batch_txs = 1});
  fake_.set_hold(true);
  auto a = submit({mint(1)});
  auto b = submit({mint(2)});
  auto c = submit({mint(3)});
  EXPECT_EQ(batcher_->inflight_batches(), 3u);
  fake_.commit_held();
  EXPECT_TRUE(a->has_value() && b->has_value() && c->has_value());
  EXPECT_EQ((**c)[0].index(), 3u);
}

// Goal: over max_pending_txs a request is refused with TX_RETRY instead of queued.
TEST_F(BatcherTest, PendingIsBounded) {
  make({.max_batch_txs = 1, .max_pending_txs = 2});
  fake_.set_hold(true);
  submit({mint(1), mint(2)});
  auto r = submit({mint(3)});
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)[0].code(), TX_RETRY);
  EXPECT_NE((**r)[0].reason().find("max_pending_txs"), std::string::npos);
  EXPECT_EQ(fake_.commands().size(), 2u);
}

// Goal: fail_all answers everything pending (proposed: TX_UNKNOWN, not proposed yet:
// TX_RETRY), and a late commit callback is ignored.
TEST_F(BatcherTest, FailAllAnswersPending) {
  make({.max_batch_txs = 1});
  fake_.set_hold(true);
  auto r = submit({mint(1), mint(2)});
  batcher_->fail_all("shutting down");
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)[0].code(), TX_UNKNOWN);
  EXPECT_EQ((**r)[1].code(), TX_UNKNOWN);
  fake_.commit_held();  // must not touch the answered request
  EXPECT_EQ(batcher_->pending_txs(), 0u);
}

}  // namespace
}  // namespace nodus::ledger

namespace nodus::ledger {
namespace {

// Goal: a transaction still in the building batch when fail_all runs was never proposed: it
// is TX_RETRY, certainly not committed.
TEST_F(BatcherTest, FailAllBeforeProposingIsRetry) {
  make({.max_batch_txs = 100, .flush_when_idle = false});
  auto r = submit({mint(1)});
  EXPECT_EQ(batcher_->building_txs(), 1u);
  batcher_->fail_all("shutting down");
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)[0].code(), TX_RETRY);
  EXPECT_TRUE(fake_.commands().empty());
}

// Goal: a request whose deadline passed while its batch was still building is dropped before
// proposing (TX_RETRY); the other requests of the batch are proposed.
TEST_F(BatcherTest, ExpiredRequestIsNotProposed) {
  make({.max_batch_txs = 100, .flush_when_idle = false});
  auto out_late = std::make_shared<std::optional<std::vector<TxResult>>>();
  batcher_->submit(
      {mint(1)}, [out_late](std::vector<TxResult> r) { *out_late = std::move(r); },
      exec_.now() + microseconds(10));
  auto on_time = submit({mint(2)});
  exec_.advance(microseconds(1000));
  exec_.run_until_idle();
  ASSERT_TRUE(out_late->has_value());
  EXPECT_EQ((**out_late)[0].code(), TX_RETRY);
  EXPECT_NE((**out_late)[0].reason().find("deadline"), std::string::npos);
  ASSERT_TRUE(on_time->has_value());
  EXPECT_EQ((**on_time)[0].code(), TX_OK);
  ASSERT_EQ(fake_.commands().size(), 1u);
  EXPECT_EQ(batch_txs(0), 1u);
  EXPECT_EQ(state_.balance("a"), 1u);
  EXPECT_EQ(batcher_->pending_txs(), 0u);
}

}  // namespace
}  // namespace nodus::ledger
