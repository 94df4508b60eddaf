// Unit tests of the ledger state machine: determinism, rejections, dedup, snapshots.
#include <gtest/gtest.h>

#include <limits>

#include "ledger_state.h"

namespace nodus::ledger {
namespace {

Transaction mint(const std::string& client, uint64_t seq, const std::string& account,
                 uint64_t amount) {
  Transaction tx;
  tx.set_client_id(client);
  tx.set_seq(seq);
  tx.mutable_mint()->set_account(account);
  tx.mutable_mint()->set_amount(amount);
  return tx;
}

Transaction transfer(const std::string& client, uint64_t seq, const std::string& from,
                     const std::string& to, uint64_t amount) {
  Transaction tx;
  tx.set_client_id(client);
  tx.set_seq(seq);
  tx.mutable_transfer()->set_from(from);
  tx.mutable_transfer()->set_to(to);
  tx.mutable_transfer()->set_amount(amount);
  return tx;
}

Transaction put(const std::string& client, uint64_t seq, const std::string& k,
                const std::string& v) {
  Transaction tx;
  tx.set_client_id(client);
  tx.set_seq(seq);
  tx.mutable_put()->set_key(k);
  tx.mutable_put()->set_value(v);
  return tx;
}

BatchResult apply(LedgerState& s, uint64_t index, std::vector<Transaction> txs) {
  Batch b;
  for (auto& t : txs)
    *b.add_txs() = std::move(t);
  BatchResult compact;
  EXPECT_TRUE(compact.ParseFromString(s.apply(index, b.SerializeAsString())));
  EXPECT_EQ(compact.count(), static_cast<uint32_t>(b.txs_size()));
  BatchResult out;
  for (auto& r : expand_batch_result(compact))
    *out.add_results() = std::move(r);
  return out;
}

// Goal: the same batches give byte-identical snapshots on two instances.
TEST(LedgerState, ApplyIsDeterministic) {
  LedgerState a({}), b({});
  for (uint64_t i = 1; i <= 50; ++i) {
    std::vector<Transaction> txs = {
        mint("c" + std::to_string(i % 7), i, "acct" + std::to_string(i % 5), i),
        transfer("t", i, "acct" + std::to_string(i % 5), "acct" + std::to_string((i + 1) % 5),
                 i / 2 + 1),
        put("p", i * 3, "k" + std::to_string(i % 4), "v")};
    auto ra = apply(a, i, txs);
    auto rb = apply(b, i, txs);
    EXPECT_EQ(ra.SerializeAsString(), rb.SerializeAsString());
  }
  EXPECT_EQ(a.snapshot(), b.snapshot());
  EXPECT_EQ(a.applied_index(), 50u);
}

// Goal: mint, transfer and put change state and report TX_OK with the batch index.
TEST(LedgerState, MintTransferPut) {
  LedgerState s({});
  auto r = apply(
      s, 7,
      {mint("c", 1, "alice", 10), transfer("c", 2, "alice", "bob", 4), put("c", 3, "k", "v")});
  ASSERT_EQ(r.results_size(), 3);
  for (const auto& x : r.results()) {
    EXPECT_EQ(x.code(), TX_OK) << x.reason();
    EXPECT_EQ(x.index(), 7u);
  }
  EXPECT_EQ(s.balance("alice"), 6u);
  EXPECT_EQ(s.balance("bob"), 4u);
  EXPECT_EQ(s.get("k"), "v");
}

// Goal: every rejection kind leaves balances and keys unchanged and says why. (The dedup
// window does change: a rejection is a recorded outcome, see RejectionIsFinal.)
TEST(LedgerState, RejectionsChangeNothing) {
  LedgerState::Options o;
  o.genesis = {{"alice", 5}, {"full", std::numeric_limits<uint64_t>::max()}};
  LedgerState s(o);
  apply(s, 1, {});
  Transaction no_op;
  no_op.set_client_id("c");
  no_op.set_seq(9);
  struct Case {
    Transaction tx;
    TxCode code;
    std::string reason_part;
  } cases[] = {
      {transfer("c", 1, "nobody", "alice", 1), TX_UNKNOWN_ACCOUNT, "'nobody' does not exist"},
      {transfer("c", 2, "alice", "bob", 7), TX_INSUFFICIENT_BALANCE,
       "account 'alice' holds 5, transfer needs 7"},
      {mint("c", 3, "full", 1), TX_OVERFLOW, "would overflow"},
      {transfer("c", 4, "alice", "full", 1), TX_OVERFLOW, "would overflow"},
      {no_op, TX_MALFORMED, "no operation"},
      {mint("", 5, "alice", 1), TX_MALFORMED, "client_id"},
      {mint("c", 0, "alice", 1), TX_MALFORMED, "seq"},
      {mint("c", 6, "alice", 0), TX_MALFORMED, "amount"},
      {put("c", 7, "", "v"), TX_MALFORMED, "key"},
  };
  for (auto& c : cases) {
    auto r = apply(s, 1, {c.tx});
    ASSERT_EQ(r.results_size(), 1);
    EXPECT_EQ(r.results(0).code(), c.code) << r.results(0).reason();
    EXPECT_NE(r.results(0).reason().find(c.reason_part), std::string::npos)
        << r.results(0).reason();
    EXPECT_EQ(s.account_count(), 2u) << c.reason_part;
    EXPECT_EQ(s.balance("alice"), 5u) << c.reason_part;
    EXPECT_EQ(s.balance("full"), std::numeric_limits<uint64_t>::max()) << c.reason_part;
    EXPECT_EQ(s.kv_count(), 0u) << c.reason_part;
  }
  // TX_TOO_LARGE is the front end's check (validate_tx with a limit).
  std::string reason;
  EXPECT_EQ(validate_tx(put("c", 1, "k", std::string(5000, 'x')), 4096, &reason), TX_TOO_LARGE);
  EXPECT_NE(reason.find("max_tx_bytes"), std::string::npos);
}

// Goal: a rejection is the final outcome of its (client, seq): a repeat after its cause is
// gone gets the same rejection (and its first index), never a success.
TEST(LedgerState, RejectionIsFinal) {
  LedgerState s({});
  auto first = apply(s, 1, {transfer("c", 1, "alice", "bob", 7)});
  EXPECT_EQ(first.results(0).code(), TX_UNKNOWN_ACCOUNT);
  apply(s, 2, {mint("m", 1, "alice", 100)});
  auto again = apply(s, 3, {transfer("c", 1, "alice", "bob", 7)});
  EXPECT_EQ(again.results(0).code(), TX_UNKNOWN_ACCOUNT) << again.results(0).reason();
  EXPECT_EQ(again.results(0).index(), 1u);
  EXPECT_EQ(s.balance("alice"), 100u);
  EXPECT_EQ(s.balance("bob"), std::nullopt);
  // A success repeats as TX_DUPLICATE, with the index it was applied at while it is above the
  // floor (a gap), and the repeat's own index once the floor passed it.
  auto ok = apply(s, 4, {transfer("c", 3, "alice", "bob", 7)});
  EXPECT_EQ(ok.results(0).code(), TX_OK);
  auto dup = apply(s, 5, {transfer("c", 3, "alice", "bob", 7)});
  EXPECT_EQ(dup.results(0).code(), TX_DUPLICATE);
  EXPECT_EQ(dup.results(0).index(), 4u);
  EXPECT_EQ(s.balance("bob"), 7u);
}

// Goal: one transaction with seq 2^64-1 does not block its client: it is refused (TX_RETRY,
// nothing recorded) and the client's seqs 1, 2, ... still apply.
TEST(LedgerState, FarSeqDoesNotBlockClient) {
  LedgerState s({});
  auto far = apply(s, 1, {mint("c", std::numeric_limits<uint64_t>::max(), "a", 1)});
  EXPECT_EQ(far.results(0).code(), TX_RETRY);
  EXPECT_NE(far.results(0).reason().find("first undecided seq 1"), std::string::npos)
      << far.results(0).reason();
  auto next = apply(s, 2, {mint("c", 1, "a", 1), mint("c", 2, "a", 1)});
  EXPECT_EQ(next.results(0).code(), TX_OK);
  EXPECT_EQ(next.results(1).code(), TX_OK);
  EXPECT_EQ(s.balance("a"), 2u);
}

// Goal (issue 12): "applied" is never a guess. A client's seq 1 is delayed (stuck on a
// restarting node) while its seqs 2.. commit elsewhere; far ahead ones are refused until 1 is
// decided, and every TX_OK or TX_DUPLICATE answer means the key is there.
TEST(LedgerState, NoDuplicateWithoutApply) {
  LedgerState s({});
  const uint64_t last = DedupWindow::kSpan + 200;
  std::vector<std::pair<uint64_t, TxCode>> answers;  // (seq, code)
  for (uint64_t seq = 2; seq <= last; ++seq) {
    const BatchResult out = apply(s, seq, {put("c", seq, "k" + std::to_string(seq), "v")});
    answers.emplace_back(seq, out.results(0).code());
  }
  // The delayed seq 1 arrives last, and again (a resend).
  for (int i = 0; i < 2; ++i) {
    const BatchResult out = apply(s, last + 1 + i, {put("c", 1, "k1", "v")});
    answers.emplace_back(1, out.results(0).code());
  }
  size_t refused = 0;
  for (const auto& [seq, code] : answers) {
    const std::string key = "k" + std::to_string(seq);
    if (code == TX_OK || code == TX_DUPLICATE) {
      EXPECT_EQ(s.get(key), "v") << "seq " << seq << " answered " << TxCode_Name(code)
                                 << " but never applied";
    } else {
      EXPECT_EQ(code, TX_RETRY);
      EXPECT_FALSE(s.get(key).has_value());
      ++refused;
    }
  }
  EXPECT_EQ(refused, last - DedupWindow::kSpan);
  EXPECT_EQ(s.get("k1"), "v");
}

// Goal: a (client, seq) applies once; a resend is TX_DUPLICATE and changes nothing, also when
// retries arrive out of order.
TEST(LedgerState, DedupOutOfOrder) {
  LedgerState s({});
  apply(s, 1, {mint("c", 1, "a", 1), mint("c", 3, "a", 1), mint("c", 5, "a", 1)});
  EXPECT_EQ(s.balance("a"), 3u);
  const std::string before = s.snapshot();
  auto r = apply(s, 1, {mint("c", 5, "a", 1), mint("c", 1, "a", 1), mint("c", 3, "a", 1)});
  for (const auto& x : r.results())
    EXPECT_EQ(x.code(), TX_DUPLICATE);
  EXPECT_EQ(s.snapshot(), before);
  // The gaps (2, 4) are still accepted exactly once.
  r = apply(s, 2, {mint("c", 4, "a", 1), mint("c", 2, "a", 1), mint("c", 2, "a", 1)});
  EXPECT_EQ(r.results(0).code(), TX_OK);
  EXPECT_EQ(r.results(1).code(), TX_OK);
  EXPECT_EQ(r.results(2).code(), TX_DUPLICATE);
  EXPECT_EQ(s.balance("a"), 5u);
  const auto& w = s.dedup().clients().at("c").window;
  EXPECT_EQ(w.floor(), 5u);
  EXPECT_TRUE(w.above().empty());
}

// Goal: a window holds at most kSpan outcomes above its floor and kSpan rejections below it;
// an older rejection is forgotten and a repeat of it says so instead of guessing.
TEST(LedgerState, DedupWindowIsBounded) {
  DedupWindow w;
  TxOutcome o;
  for (uint64_t seq = 2; seq <= DedupWindow::kSpan; ++seq)
    w.record(seq, {TX_OK, seq});
  EXPECT_EQ(w.above().size(), DedupWindow::kSpan - 1);
  EXPECT_EQ(w.check(DedupWindow::kSpan + 1, &o), DedupWindow::Check::kAhead);
  w.record(1, {TX_INSUFFICIENT_BALANCE, 1});
  EXPECT_EQ(w.floor(), DedupWindow::kSpan);
  EXPECT_TRUE(w.above().empty());
  ASSERT_EQ(w.check(1, &o), DedupWindow::Check::kResolved);
  EXPECT_EQ(o.code, TX_INSUFFICIENT_BALANCE);
  // kSpan more rejections push the first one out.
  for (uint64_t seq = DedupWindow::kSpan + 1; seq <= 2 * DedupWindow::kSpan; ++seq)
    w.record(seq, {TX_UNKNOWN_ACCOUNT, seq});
  EXPECT_EQ(w.refused().size(), DedupWindow::kSpan);
  EXPECT_EQ(w.check(1, &o), DedupWindow::Check::kForgotten);
  // Seq 2 succeeded, and every rejection above the forgotten one is still kept: it is known.
  ASSERT_EQ(w.check(2, &o), DedupWindow::Check::kResolved);
  EXPECT_EQ(o.code, TX_OK);
  ASSERT_EQ(w.check(2 * DedupWindow::kSpan, &o), DedupWindow::Check::kResolved);
  EXPECT_EQ(o.code, TX_UNKNOWN_ACCOUNT);
}

// Goal: the outcomes held over all clients are bounded (max_dedup_entries): past it the least
// recent client is evicted, never the one being recorded.
TEST(LedgerState, DedupEntriesAreBounded) {
  LedgerState::Options o;
  o.max_dedup_entries = 3;
  LedgerState s(o);
  apply(s, 1, {mint("a", 2, "x", 1), mint("a", 3, "x", 1)});  // two gaps held above floor 0
  apply(s, 2, {mint("b", 2, "x", 1), mint("b", 3, "x", 1)});  // 4 > 3: "a" goes
  EXPECT_EQ(s.dedup().clients().count("a"), 0u);
  EXPECT_EQ(s.dedup().clients().count("b"), 1u);
  EXPECT_LE(s.dedup().entries(), 3u);
  EXPECT_EQ(s.dedup().evictions(), 1u);
}

// Goal: a full client table evicts the client with the lowest last index, on every node alike.
TEST(LedgerState, DedupEvictionIsByLastIndex) {
  LedgerState::Options o;
  o.max_clients = 2;
  LedgerState s(o);
  apply(s, 1, {mint("old", 1, "a", 1)});
  apply(s, 2, {mint("mid", 1, "a", 1)});
  apply(s, 3, {mint("old", 2, "a", 1)});  // old is now more recent than mid
  apply(s, 4, {mint("new", 1, "a", 1)});
  EXPECT_EQ(s.dedup().clients().count("mid"), 0u);
  EXPECT_EQ(s.dedup().clients().count("old"), 1u);
  EXPECT_EQ(s.dedup().clients().count("new"), 1u);
}

// Goal: snapshot/restore reproduces the whole state, dedup windows included.
TEST(LedgerState, SnapshotRoundTrip) {
  LedgerState a({});
  apply(a, 3,
        {mint("c", 1, "alice", 9), mint("c", 4, "bob", 2), put("d", 1, "k", "v"),
         transfer("e", 1, "alice", "bob", 100), transfer("e", 3, "nobody", "bob", 1)});
  const std::string image = a.snapshot();
  LedgerState b({});
  ASSERT_TRUE(b.restore(3, image).ok());
  EXPECT_EQ(b.snapshot(), image);
  EXPECT_EQ(b.balance("alice"), 9u);
  EXPECT_EQ(b.get("k"), "v");
  auto r = apply(b, 4,
                 {mint("c", 4, "bob", 2), transfer("e", 1, "alice", "bob", 1),
                  transfer("e", 3, "alice", "bob", 1)});
  EXPECT_EQ(r.results(0).code(), TX_DUPLICATE);
  EXPECT_EQ(r.results(1).code(), TX_INSUFFICIENT_BALANCE);  // outcomes survive the snapshot
  EXPECT_EQ(r.results(2).code(), TX_UNKNOWN_ACCOUNT);
  EXPECT_EQ(r.results(2).index(), 3u);
}

// Goal: a corrupt or truncated image is a clear DATA_LOSS error and leaves the state as it was.
TEST(LedgerState, CorruptSnapshotIsRejected) {
  LedgerState a({});
  apply(a, 1, {mint("c", 1, "alice", 9)});
  std::string image = a.snapshot();
  LedgerState b({});
  apply(b, 1, {mint("x", 1, "zed", 1)});
  const std::string before = b.snapshot();
  std::string flipped = image;
  flipped[20] ^= 0x40;
  Status s = b.restore(1, flipped);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("checksum"), std::string::npos);
  EXPECT_EQ(b.restore(1, image.substr(0, 10)).code(), StatusCode::kDataLoss);
  EXPECT_EQ(b.restore(1, "garbage-garbage-garbage").code(), StatusCode::kDataLoss);
  EXPECT_EQ(b.snapshot(), before);
}

// Goal: genesis balances are the initial state, identical for every instance.
TEST(LedgerState, GenesisIsInitialState) {
  LedgerState::Options o;
  o.genesis = {{"treasury", 1000}};
  LedgerState a(o), b(o);
  EXPECT_EQ(a.balance("treasury"), 1000u);
  EXPECT_EQ(a.snapshot(), b.snapshot());
}

}  // namespace
}  // namespace nodus::ledger
