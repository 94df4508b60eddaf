// bench/tx_load/backend.h: what the load engine needs from a cluster it drives.
//
// A backend turns (client, seqs) into that cluster's request (a ledger SubmitRequest, an etcd
// PutRequest), sends it to one endpoint with gRPC's callback API, and reports per transaction
// what happened. Callbacks run on gRPC's threads; every method is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nodus/status.h"

namespace nodus::bench {

enum class TxFate {
  kCommitted,  // applied now
  kDuplicate,  // applied by an earlier attempt of the same (client id, seq): also committed
  kRetry,      // not committed, or not known yet (TX_UNKNOWN); resend unchanged
  kNotLeader,  // resend unchanged, to the reply's leader hint when it has one
  kRejected,   // refused for good (too large, malformed, ...): `code` says why
};

struct TxResult {
  TxFate fate = TxFate::kRetry;
  std::string code;  // the wire name, e.g. "TX_TOO_LARGE"
};

struct BatchReply {
  Status rpc;                     // not OK: the whole batch failed in transport
  std::vector<TxResult> results;  // one per seq sent, same order
  std::string leader_hint;        // host:port, may be empty
};

// A read for --verify: the value, or nullopt when the key does not exist.
using ReadResult = Result<std::optional<std::string>>;
// A linearizable balance read for --verify of transfers: nullopt when the account does not exist.
using BalanceResult = Result<std::optional<uint64_t>>;

class Backend {
 public:
  virtual ~Backend() = default;
  // Sends the transactions (client, seqs[i]) to endpoint `endpoint`; `done` runs exactly once.
  virtual void submit(size_t endpoint, uint32_t client, const std::vector<uint64_t>& seqs,
                      std::function<void(BatchReply)> done) = 0;
  // A linearizable read of `key` on endpoint `endpoint`; `done` runs exactly once.
  virtual void read(size_t endpoint, const std::string& key,
                    std::function<void(ReadResult)> done) = 0;
  // A linearizable read of an account's balance (ledger only).
  virtual void read_balance(size_t /*endpoint*/, const std::string& account,
                            std::function<void(BalanceResult)> done) {
    done(unimplemented("this backend has no accounts (" + account + ")"));
  }
  // The index of endpoint host:port, added (with its channels) when it is new.
  virtual size_t endpoint_index(const std::string& host_port) = 0;
  virtual size_t endpoint_count() const = 0;
};

}  // namespace nodus::bench
