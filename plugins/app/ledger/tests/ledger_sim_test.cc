// Simulation tests of the ledger on the real Raft plugin: three simulated nodes run the
// io.nodus.consensus.raft .so; on each, the ledger's state machine and batcher (this folder's
// code, linked into the test) drive it, as the ledger plugin does, over the node's simulated
// executor and clock. Clients send transfers and mints to random nodes, time out, and resend
// the same (client id, seq) until they get a final outcome. Under every fault kind, two
// checkers judge the run:
//   - at most once: every answer a (client id, seq) ever got agrees (applied, or the same
//     rejection), and each node's balances are exactly genesis plus the transactions answered
//     "applied", each counted once (a double apply or a lost apply changes a balance);
//   - conservation: on every node the sum of balances equals genesis plus the applied mints.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "batcher.h"
#include "ledger_state.h"
#include "nodus/capabilities/consensus.h"
#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/sim_faults.h"
#include "nodus/testing/sim_gtest.h"

namespace nodus::ledger {
namespace {

using nodus::testing::FaultInjector;
using nodus::testing::FaultPlan;
using nodus::testing::SimCluster;
using nodus::testing::SimNodeId;
using nodus::testing::SimOptions;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kRaftConfig =
    "election_timeout_ms: [150, 300]\nheartbeat_ms: 50\ntick_ms: 10\n"
    "propose_timeout_ms: 1000\nsnapshot_entries: 40\nsnapshot_chunk_bytes: 256\n";
constexpr int kAccounts = 4;
constexpr uint64_t kGenesisEach = 1000;

std::string account(int i) {
  return "a" + std::to_string(i);
}

// True for answers that end a (client id, seq): applied or refused for good.
bool is_final(TxCode c) {
  return c != TX_RETRY && c != TX_UNKNOWN && c != TX_NOT_LEADER;
}
// Applied and "applied before" are the same outcome.
TxCode normalized(TxCode c) {
  return c == TX_DUPLICATE ? TX_OK : c;
}

struct Options {
  uint32_t faults = nodus::testing::kAllFaults;
  Duration chaos = seconds(3);
  int clients = 8;
  size_t max_clients = 65536;  // the planted-bug test shrinks it
};

// The ledger of one node incarnation: what the plugin's start() builds.
struct NodeLedger {
  uint64_t incarnation = 0;
  std::unique_ptr<LedgerState> state;
  std::unique_ptr<Batcher> batcher;
};

class LedgerSim {
 public:
  LedgerSim(uint64_t seed, Options o) : options_(o), sim_(make_options(seed)) {}

  static SimOptions make_options(uint64_t seed) {
    SimOptions o;
    o.seed = seed;
    o.nodes = 3;
    o.capture_logs = std::getenv("LEDGER_SIM_LOGS") != nullptr;
    return o;
  }

  Status run() {
    NODUS_RETURN_IF_ERROR(sim_.add_plugin(RAFT_PLUGIN, kRaftConfig));
    NODUS_RETURN_IF_ERROR(sim_.start());
    nodes_.resize(sim_.size());
    // Attaches a fresh ledger to every new incarnation of a node (after start and restarts),
    // and drops the ledger of a crashed one, as the plugin's lifetime would.
    sim_.add_invariant("ledger_lifecycle", [this] {
      follow_incarnations();
      return Status();
    });
    follow_incarnations();
    FaultPlan plan;
    plan.kinds = options_.faults;
    FaultInjector nemesis(sim_, plan);
    nemesis.schedule(options_.chaos);
    clients_.resize(static_cast<size_t>(options_.clients));
    for (size_t c = 0; c < clients_.size(); ++c) {
      clients_[c].id = "c" + std::to_string(c);
      sim_.at(milliseconds(c), [this, c] { next_tx(c); });
    }
    sim_.run_for(options_.chaos + milliseconds(500));
    // After the heal every open (client id, seq) must reach a final outcome (clients keep
    // resending) and every node must apply the same log.
    if (sim_.failure().ok() &&
        !sim_.run_until([this] { return all_resolved() && converged(); }, seconds(30))) {
      sim_.fail(failed_precondition("no convergence after the heal: " + describe()));
    }
    faults_ = nemesis.describe();
    if (std::getenv("LEDGER_SIM_VERBOSE") != nullptr) std::cerr << describe();
    NODUS_RETURN_IF_ERROR(sim_.failure());
    return check_state();
  }

  std::string describe() const {
    size_t open = 0;
    for (const auto& c : clients_)
      open += c.open ? 1 : 0;
    return std::to_string(resolved_) + " resolved, " + std::to_string(open) + " open, " +
           std::to_string(answers_) + " answers\n" + faults_;
  }
  size_t resolved() const { return resolved_; }

 private:
  struct Record {
    Transaction tx;
    std::optional<TxCode> outcome;  // normalized final outcome
  };
  struct Client {
    std::string id;
    uint64_t seq = 0;
    bool open = false;     // the current seq has no final outcome yet
    uint64_t attempt = 0;  // the current send; older answers are still checked
  };

  void follow_incarnations() {
    for (SimNodeId n = 0; n < sim_.size(); ++n) {
      NodeLedger& l = nodes_[n];
      const uint64_t inc = sim_.world().incarnation(n);
      if (l.incarnation != 0 && (l.incarnation != inc || !sim_.up(n))) {
        l.batcher.reset();  // the process is gone: so are its ledger and pending requests
        l.state.reset();
        l.incarnation = 0;
      }
      if (l.incarnation == 0 && sim_.up(n) && sim_.find<Consensus>(n) != nullptr) {
        l.incarnation = inc;
        sim_.post(n, [this, n, inc] { attach(n, inc); });
      }
    }
  }

  void attach(SimNodeId n, uint64_t inc) {
    NodeLedger& l = nodes_[n];
    Consensus* consensus = sim_.find<Consensus>(n);
    if (l.incarnation != inc || consensus == nullptr) return;
    LedgerState::Options so;
    so.max_clients = options_.max_clients;
    for (int i = 0; i < kAccounts; ++i)
      so.genesis[account(i)] = kGenesisEach;
    l.state = std::make_unique<LedgerState>(so);
    Status st = consensus->set_state_machine(l.state.get());
    if (!st.ok()) return sim_.fail(st.with_context("node " + std::to_string(n)));
    BatcherOptions bo;
    bo.flush_when_idle = true;
    bo.batch_delay = std::chrono::microseconds(500);
    l.batcher = std::make_unique<Batcher>(sim_.executor(n), sim_.clock(n), *consensus, bo, nullptr);
  }

  void next_tx(size_t c) {
    Client& cl = clients_[c];
    if (sim_.now().time_since_epoch() >= options_.chaos) return;  // no new work after chaos
    auto& rng = sim_.random();
    Transaction tx;
    tx.set_client_id(cl.id);
    tx.set_seq(++cl.seq);
    const int from = static_cast<int>(rng.uniform(0, kAccounts - 1));
    if (rng.chance(0.1)) {
      tx.mutable_mint()->set_account(account(from));
      tx.mutable_mint()->set_amount(rng.uniform(1, 10));
    } else {
      const int to = (from + 1 + static_cast<int>(rng.uniform(0, kAccounts - 2))) % kAccounts;
      tx.mutable_transfer()->set_from(account(from));
      tx.mutable_transfer()->set_to(account(to));
      tx.mutable_transfer()->set_amount(rng.uniform(1, 400));  // some exceed the balance
    }
    history_[{cl.id, cl.seq}].tx = tx;
    cl.open = true;
    send(c);
  }

  // Sends the client's current transaction to a random live node; resends on a non-final
  // answer or after a timeout (the first attempt may still commit: the resend learns it).
  void send(size_t c) {
    Client& cl = clients_[c];
    const uint64_t attempt = ++cl.attempt;
    const Transaction tx = history_.at({cl.id, cl.seq}).tx;
    auto& rng = sim_.random();
    auto node = static_cast<SimNodeId>(rng.uniform(0, sim_.size() - 1));
    sim_.post(node, [this, c, node, attempt, tx] {
      NodeLedger& l = nodes_[node];
      if (!l.batcher) return;  // not attached yet: the timeout resends
      const TimePoint deadline = sim_.clock(node).now() + milliseconds(1000);
      l.batcher->submit(
          {tx}, [this, c, attempt, tx](std::vector<TxResult> r) { on_answer(c, attempt, tx, r); },
          deadline);
    });
    sim_.at(milliseconds(1500), [this, c, attempt] {
      const Client& now = clients_[c];
      if (now.attempt == attempt && now.open) send(c);
    });
  }

  void on_answer(size_t c, uint64_t attempt, const Transaction& tx,
                 const std::vector<TxResult>& results) {
    ++answers_;
    if (results.size() != 1) {
      return sim_.fail(internal_error("a request of one transaction got " +
                                      std::to_string(results.size()) + " results"));
    }
    const TxCode code = results[0].code();
    Record& rec = history_.at({tx.client_id(), tx.seq()});
    if (is_final(code)) {
      if (code == TX_FORGOTTEN) {
        return sim_.fail(
            failed_precondition("forgotten outcome inside the window: " + results[0].reason()));
      }
      if (!rec.outcome) {
        rec.outcome = normalized(code);
        ++resolved_;
      } else if (*rec.outcome != normalized(code)) {
        return sim_.fail(failed_precondition("at most once: " + tx.client_id() + " seq " +
                                             std::to_string(tx.seq()) + " answered " +
                                             TxCode_Name(*rec.outcome) + " and later " +
                                             TxCode_Name(code) + " (" + results[0].reason() + ")"));
      }
    }
    Client& cl = clients_[c];
    if (cl.seq != tx.seq() || !cl.open) return;  // an answer to an older attempt
    if (rec.outcome) {
      cl.open = false;
      ++cl.attempt;  // voids the timeout
      sim_.at(milliseconds(sim_.random().uniform(1, 20)), [this, c] { next_tx(c); });
    } else if (cl.attempt == attempt) {
      sim_.at(milliseconds(sim_.random().uniform(20, 60)), [this, c] { send(c); });
    }
  }

  bool all_resolved() const {
    for (const auto& c : clients_) {
      if (c.open) return false;
    }
    return true;
  }

  bool converged() {
    std::optional<uint64_t> applied;
    for (SimNodeId n = 0; n < sim_.size(); ++n) {
      Consensus* c = sim_.find<Consensus>(n);
      if (!nodes_[n].state || c == nullptr || !c->state().leader) return false;
      const ConsensusState st = c->state();
      if (st.applied_index != st.commit_index) return false;
      const uint64_t a = nodes_[n].state->applied_index();
      if (applied && *applied != a) return false;
      applied = a;
    }
    return true;
  }

  // Every node's balances are genesis plus exactly the transactions answered "applied".
  Status check_state() {
    std::map<std::string, int64_t> expected;
    int64_t minted = 0;
    for (int i = 0; i < kAccounts; ++i)
      expected[account(i)] = static_cast<int64_t>(kGenesisEach);
    for (const auto& [key, rec] : history_) {
      if (!rec.outcome) {
        return failed_precondition("unresolved: " + key.first + " seq " +
                                   std::to_string(key.second));
      }
      if (*rec.outcome != TX_OK) continue;
      if (rec.tx.has_mint()) {
        expected[rec.tx.mint().account()] += static_cast<int64_t>(rec.tx.mint().amount());
        minted += static_cast<int64_t>(rec.tx.mint().amount());
      } else {
        expected[rec.tx.transfer().from()] -= static_cast<int64_t>(rec.tx.transfer().amount());
        expected[rec.tx.transfer().to()] += static_cast<int64_t>(rec.tx.transfer().amount());
      }
    }
    for (SimNodeId n = 0; n < sim_.size(); ++n) {
      const LedgerState& s = *nodes_[n].state;
      int64_t sum = 0;
      for (const auto& [name, want] : expected) {
        const int64_t got = static_cast<int64_t>(s.balance(name).value_or(0));
        sum += got;
        if (got != want) {
          return failed_precondition("at most once: node " + std::to_string(n) + " account " +
                                     name + " holds " + std::to_string(got) +
                                     ", the applied answers give " + std::to_string(want));
        }
      }
      if (s.account_count() != expected.size()) {
        return failed_precondition("node " + std::to_string(n) + " has unexpected accounts");
      }
      if (sum != kAccounts * static_cast<int64_t>(kGenesisEach) + minted) {
        return failed_precondition("conservation: node " + std::to_string(n) + " sums to " +
                                   std::to_string(sum) + ", minted " +
                                   std::to_string(kAccounts * kGenesisEach + minted));
      }
    }
    return {};
  }

  Options options_;
  SimCluster sim_;
  std::vector<NodeLedger> nodes_;
  std::vector<Client> clients_;
  std::map<std::pair<std::string, uint64_t>, Record> history_;
  size_t resolved_ = 0;
  size_t answers_ = 0;
  std::string faults_;
};

// Goal: under every fault kind together the ledger applies each (client id, seq) at most once
// (answers agree with each other and with every node's balances) and conserves money.
TEST(LedgerSim, AtMostOnceAndConservationUnderAllFaults) {
  size_t resolved = 0;
  for (uint64_t seed : nodus::testing::sim_seeds(200)) {
    LedgerSim run(seed, {});
    Status st = run.run();
    ASSERT_TRUE(st.ok()) << nodus::testing::replay_hint(seed) << st.to_string() << "\n"
                         << run.describe();
    resolved += run.resolved();
  }
  EXPECT_GT(resolved, 0u);
}

// Goal: each fault kind alone, a few seeds each.
class LedgerUnderFault : public ::testing::TestWithParam<uint32_t> {};

TEST_P(LedgerUnderFault, AtMostOnceAndConservation) {
  size_t resolved = 0;
  for (uint64_t seed : nodus::testing::sim_seeds(10)) {
    LedgerSim run(seed, {.faults = GetParam()});
    Status st = run.run();
    ASSERT_TRUE(st.ok()) << nodus::testing::replay_hint(seed) << st.to_string() << "\n"
                         << run.describe();
    resolved += run.resolved();
  }
  EXPECT_GT(resolved, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, LedgerUnderFault,
    ::testing::Values(nodus::testing::kFaultDrop, nodus::testing::kFaultDelay,
                      nodus::testing::kFaultDuplicate, nodus::testing::kFaultReorder,
                      nodus::testing::kFaultPartition, nodus::testing::kFaultOneWayPartition,
                      nodus::testing::kFaultCrash, nodus::testing::kFaultCrashLoseUnsynced,
                      nodus::testing::kFaultClockSkew, nodus::testing::kFaultClockJump,
                      nodus::testing::kFaultSlowDisk),
    [](const ::testing::TestParamInfo<uint32_t>& p) {
      return std::string(nodus::testing::fault_kind_name(p.param));
    });

// Goal: the checkers have teeth: with a dedup table of one client (a planted bug: every other
// client's record is evicted at once), resends of transactions whose answer was lost apply
// twice, and some seed's run is caught.
TEST(LedgerSim, CheckerCatchesDoubleApply) {
  bool caught = false;
  for (uint64_t seed = 1; seed <= 40 && !caught; ++seed) {
    LedgerSim run(seed, {.faults = nodus::testing::kFaultPartition | nodus::testing::kFaultDrop,
                         .max_clients = 1});
    Status st = run.run();
    caught = !st.ok() && st.message().find("at most once") != std::string::npos;
    if (caught) std::cerr << "caught on seed " << seed << ": " << st.to_string() << "\n";
  }
  EXPECT_TRUE(caught);
}

}  // namespace
}  // namespace nodus::ledger
