// ledger_core.h: what the gRPC and HTTP front ends need from the ledger plugin.
//
// The front ends run on their own I/O threads. They hand every request to the executor with
// post(); the other methods run on the executor and answer through their callbacks, also on
// the executor. accepting() may be called from any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ledger_types.h"
#include "nodus/services/clock.h"
#include "nodus/services/executor.h"
#include "nodus/status.h"

namespace nodus::ledger {

struct LeaderInfo {
  bool known = false;
  uint32_t id = 0;
  bool self = false;
  std::string grpc_address;  // host:port of the leader's ledger gRPC endpoint
  std::string http_address;  // host:port of the leader's ledger HTTP endpoint
  std::string role;          // this node's consensus role
  uint64_t term = 0;
};

class LedgerCore {
 public:
  using SubmitDone = std::function<void(std::vector<TxResult> results, std::string leader_hint)>;
  template <class Reply>
  using ReadDone = std::function<void(Status status, Reply reply)>;

  virtual ~LedgerCore() = default;
  // Any thread: runs `task` on the executor.
  virtual void post(Task task) = 0;
  // Any thread: false once stop() began; front ends then refuse new requests at once.
  virtual bool accepting() const = 0;
  // Any thread: reserves room for `txs` transactions on their way to the executor; false when
  // too many are (the front end then answers TX_RETRY at once instead of queuing). Every
  // admitted batch must reach submit(), which releases the reservation.
  virtual bool admit(size_t txs) = 0;

  // Any thread: reserves room for one read on its way to (or waiting in) the executor; false
  // when max_pending_reads are (the front end answers RESOURCE_EXHAUSTED / 503 at once). An
  // admitted read must reach get_account() or get(), which release it when they answer.
  virtual bool admit_read() = 0;

  // Executor only. `txs` must have been admitted. `budget` is how long the client still waits
  // (Duration::max(): no deadline); transactions not proposed by then never are.
  virtual void submit(std::vector<Transaction> txs, SubmitDone done, Duration budget) = 0;
  virtual void get_account(const std::string& account, bool linearizable,
                           ReadDone<GetAccountReply> done) = 0;
  virtual void get(const std::string& key, bool linearizable, ReadDone<GetReply> done) = 0;
  virtual LeaderInfo leader() const = 0;
};

}  // namespace nodus::ledger
