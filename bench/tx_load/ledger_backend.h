// bench/tx_load/ledger_backend.h: the Backend for the nodus ledger's gRPC API (ledger.proto).
//
// Each transaction is a Put of (payload key, payload value) under the payload's client id and
// the engine's seq; a batch is one unary Submit. TX_OK and TX_DUPLICATE acknowledge,
// TX_RETRY and TX_NOT_LEADER ask for a resend, every other code rejects.
#pragma once

#include <atomic>

#include "backend.h"
#include "ledger.grpc.pb.h"
#include "payload.h"
#include "stub_pool.h"

namespace nodus::bench {

class LedgerBackend final : public Backend {
 public:
  LedgerBackend(const std::vector<std::string>& endpoints, uint32_t connections,
                uint32_t rpc_timeout_ms, const Payload& payload);

  void submit(size_t endpoint, uint32_t client, const std::vector<uint64_t>& seqs,
              std::function<void(BatchReply)> done) override;
  void read(size_t endpoint, const std::string& key, std::function<void(ReadResult)> done) override;
  void read_balance(size_t endpoint, const std::string& account,
                    std::function<void(BalanceResult)> done) override;
  size_t endpoint_index(const std::string& host_port) override {
    return stubs_.index_of(host_port);
  }
  size_t endpoint_count() const override { return stubs_.size(); }

  // The transaction a client sends, as it goes on the wire.
  static nodus::ledger::v1::Transaction make_tx(const Payload& payload, uint32_t client,
                                                uint64_t seq);
  // What "--tx-bytes N" means: the value size at which the encoded Transaction of a Put is N
  // bytes for seqs 16,384..2,097,151 (a 3-byte varint); smaller seqs encode 1-2 bytes shorter.
  static Result<uint32_t> value_bytes_for_tx_bytes(const std::string& run_id, uint32_t tx_bytes);

 private:
  StubPool<nodus::ledger::v1::Ledger> stubs_;
  const uint32_t rpc_timeout_ms_;
  const Payload& payload_;
  std::atomic<uint64_t> next_batch_id_{1};
};

}  // namespace nodus::bench
