// ledger_state.h: the deterministic transaction state machine of io.nodus.app.ledger.
//
// State: account balances (uint64, overflow-checked), an opaque key-value map and the
// per-client dedup windows. apply() takes one serialized pb Batch and returns a serialized
// BatchResult that lists the transactions that did not succeed (expand_batch_result() gives
// one TxResult per transaction, in order). Every (client_id, seq) is decided once: applied, or
// rejected without touching balances or keys; both outcomes are recorded and a repeat is
// answered with the recorded outcome (TX_DUPLICATE for a success), never decided again.
//
//   LedgerState s(LedgerState::Options{});
//   std::string out = s.apply(1, batch.SerializeAsString());
//   std::string image = s.snapshot();          // versioned, checksummed
//   Status st = other.restore(1, image);        // DATA_LOSS on a corrupt image
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dedup_window.h"
#include "ledger_types.h"
#include "nodus/capabilities/consensus.h"
#include "nodus/status.h"

namespace nodus::ledger {

// Checks what can be checked without the state: ids, op fields and size. Returns TX_OK or
// the rejection code, with the reason in `reason`. max_tx_bytes == 0 disables the size check.
TxCode validate_tx(const Transaction& tx, size_t max_tx_bytes, std::string* reason);

class LedgerState final : public nodus::StateMachine {
 public:
  struct Options {
    size_t max_clients = 65536;               // dedup windows kept (see DedupTable)
    size_t max_dedup_entries = 1 << 20;       // outcomes kept over all windows (0: unbounded)
    std::map<std::string, uint64_t> genesis;  // initial balances, identical on every node
  };

  explicit LedgerState(Options options);

  std::string apply(uint64_t index, std::string_view command) override;
  std::string snapshot() override;
  Status restore(uint64_t index, std::string_view image) override;

  // Applies one transaction (exposed for tests); returns its result.
  TxResult apply_tx(uint64_t index, const Transaction& tx);

  std::optional<uint64_t> balance(const std::string& account) const;
  std::optional<std::string> get(const std::string& key) const;
  size_t account_count() const { return accounts_.size(); }
  size_t kv_count() const { return kv_.size(); }
  uint64_t applied_index() const { return applied_index_; }
  const DedupTable& dedup() const { return dedup_; }

  // Runs after every apply() with the batch's results, and after restore() with none
  // (metrics, gauges).
  void set_on_applied(std::function<void(uint64_t index, const BatchResult&)> f) {
    on_applied_ = std::move(f);
  }

 private:
  void reset_to_genesis();
  // Records the outcome of a decided transaction and returns its result.
  TxResult decide(const Transaction& tx, uint64_t index, TxCode code, std::string reason);

  Options options_;
  std::map<std::string, uint64_t> accounts_;
  std::map<std::string, std::string> kv_;
  DedupTable dedup_;
  uint64_t applied_index_ = 0;
  std::function<void(uint64_t, const BatchResult&)> on_applied_;
};

// The full form of an apply() result: one TxResult per transaction, in order (TX_OK at the
// batch's index for every one not listed as an exception).
std::vector<TxResult> expand_batch_result(const BatchResult& compact);

}  // namespace nodus::ledger
