#include "ledger_backend.h"

#include <chrono>

namespace nodus::bench {
namespace v1 = nodus::ledger::v1;

namespace {

TxResult fate_of(v1::TxCode code) {
  TxResult r;
  r.code = v1::TxCode_Name(code);
  switch (code) {
    case v1::TX_OK:
      r.fate = TxFate::kCommitted;
      break;
    case v1::TX_DUPLICATE:
      r.fate = TxFate::kDuplicate;
      break;
    case v1::TX_RETRY:
    case v1::TX_UNKNOWN:  // may have committed: the resend learns its outcome
      r.fate = TxFate::kRetry;
      break;
    case v1::TX_NOT_LEADER:
      r.fate = TxFate::kNotLeader;
      break;
    default:
      r.fate = TxFate::kRejected;
      break;
  }
  return r;
}

}  // namespace

LedgerBackend::LedgerBackend(const std::vector<std::string>& endpoints, uint32_t connections,
                             uint32_t rpc_timeout_ms, const Payload& payload)
    : stubs_(endpoints, connections), rpc_timeout_ms_(rpc_timeout_ms), payload_(payload) {}

v1::Transaction LedgerBackend::make_tx(const Payload& payload, uint32_t client, uint64_t seq) {
  v1::Transaction tx;
  tx.set_client_id(payload.client_id(client));
  tx.set_seq(seq);
  if (payload.transfers()) {
    if (seq == 1) {
      tx.mutable_mint()->set_account(payload.account(client));
      tx.mutable_mint()->set_amount(Payload::kFunding);
    } else {
      tx.mutable_transfer()->set_from(payload.account(client));
      tx.mutable_transfer()->set_to(payload.sink());
      tx.mutable_transfer()->set_amount(1);
    }
    return tx;
  }
  v1::Put* put = tx.mutable_put();
  put->set_key(payload.key(client, seq));
  put->set_value(payload.value(client, seq));
  return tx;
}

Result<uint32_t> LedgerBackend::value_bytes_for_tx_bytes(const std::string& run_id,
                                                         uint32_t tx_bytes) {
  constexpr uint64_t kTypicalSeq = 16384;
  const size_t smallest = make_tx(Payload(run_id, 0), 0, kTypicalSeq).ByteSizeLong();
  if (smallest > tx_bytes) {
    return invalid_argument("--tx-bytes: " + std::to_string(tx_bytes) +
                            " is below the smallest Put transaction (" + std::to_string(smallest) +
                            " bytes with an empty value)");
  }
  // The value's length prefix grows with the value, so search rather than subtract.
  uint32_t value = static_cast<uint32_t>(tx_bytes - smallest);
  while (value > 0 && make_tx(Payload(run_id, value), 0, kTypicalSeq).ByteSizeLong() > tx_bytes) {
    --value;
  }
  return value;
}

void LedgerBackend::submit(size_t endpoint, uint32_t client, const std::vector<uint64_t>& seqs,
                           std::function<void(BatchReply)> done) {
  struct Call {
    grpc::ClientContext ctx;
    v1::SubmitRequest req;
    v1::SubmitReply resp;
    std::function<void(BatchReply)> done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->ctx.set_deadline(deadline_after(rpc_timeout_ms_));
  call->req.set_batch_id(next_batch_id_.fetch_add(1));
  for (uint64_t seq : seqs)
    *call->req.add_txs() = make_tx(payload_, client, seq);
  stubs_.stub(endpoint, client)
      ->async()
      ->Submit(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
        BatchReply reply;
        reply.rpc = from_grpc(s);
        if (s.ok()) {
          reply.leader_hint = call->resp.leader_hint();
          for (const auto& r : call->resp.results())
            reply.results.push_back(fate_of(r.code()));
        }
        auto finish = std::move(call->done);
        delete call;
        finish(std::move(reply));
      });
}

void LedgerBackend::read(size_t endpoint, const std::string& key,
                         std::function<void(ReadResult)> done) {
  struct Call {
    grpc::ClientContext ctx;
    v1::GetRequest req;
    v1::GetReply resp;
    std::function<void(ReadResult)> done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->ctx.set_deadline(deadline_after(rpc_timeout_ms_));
  call->req.set_key(key);
  call->req.set_linearizable(true);
  stubs_.stub(endpoint, 0)
      ->async()
      ->Get(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
        ReadResult result = std::optional<std::string>();
        if (!s.ok()) {
          result = from_grpc(s);
        } else if (call->resp.found()) {
          result = std::optional<std::string>(call->resp.value());
        }
        auto finish = std::move(call->done);
        delete call;
        finish(std::move(result));
      });
}

void LedgerBackend::read_balance(size_t endpoint, const std::string& account,
                                 std::function<void(BalanceResult)> done) {
  struct Call {
    grpc::ClientContext ctx;
    v1::GetAccountRequest req;
    v1::GetAccountReply resp;
    std::function<void(BalanceResult)> done;
  };
  auto* call = new Call;
  call->done = std::move(done);
  call->ctx.set_deadline(deadline_after(rpc_timeout_ms_));
  call->req.set_account(account);
  call->req.set_linearizable(true);
  stubs_.stub(endpoint, 0)
      ->async()
      ->GetAccount(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
        BalanceResult result = std::optional<uint64_t>();
        if (!s.ok()) {
          result = from_grpc(s);
        } else if (call->resp.found()) {
          result = std::optional<uint64_t>(call->resp.balance());
        }
        auto finish = std::move(call->done);
        delete call;
        finish(std::move(result));
      });
}

}  // namespace nodus::bench
