// bench/tx_load/options.h: the command line of nodus-tx-load.
//
//   auto options = nodus::bench::parse_args({"--targets", "127.0.0.1:9004", "--clients", "16"});
//   if (!options.ok()) { std::cerr << options.status().to_string(); }
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nodus/status.h"

namespace nodus::bench {

enum class TargetKind { kLedger, kEtcd };

struct TxLoadOptions {
  TargetKind target = TargetKind::kLedger;
  std::vector<std::string> endpoints;  // host:port, at least one
  uint32_t clients = 1;                // each a client id with its own seq numbers
  uint32_t batch = 1;                  // transactions per SubmitRequest (1 for etcd)
  uint32_t inflight = 1;               // closed loop: batches in flight per client
  double rate_tx_s = 0;                // > 0: open loop at this many tx/s in total
  double duration_s = 10;              // measured part of the run
  double warmup_s = 1;                 // before it; not in the figures
  // Payload size. value_bytes, when set, is the Put's value size (the etcd comparison uses
  // 256). Otherwise tx_bytes is the encoded size of the ledger Transaction (see payload.h).
  uint32_t value_bytes = 0;
  uint32_t tx_bytes = 100;
  uint32_t connections = 4;  // gRPC channels (TCP connections) per endpoint
  uint32_t rpc_timeout_ms = 2000;
  double drain_s = 10;  // after the run: how long unfinished retries may take
  bool verify = false;  // read back every acknowledged key at the end
  // Ledger only: "put" (a new key per transaction) or "transfer" (see payload.h); --verify of
  // transfers reads the balances instead of keys.
  bool transfers = false;
  // Keys per client: 0 = a new key for every transaction; N = seq % N, a working set of
  // clients * N keys that a long run overwrites instead of growing the state forever.
  uint32_t key_space = 0;
  uint32_t verify_concurrency = 64;
  std::string json_path;      // "-" for stdout
  std::string timeline_path;  // CSV: ms since start, commits in that ms
  std::string run_id;         // part of every client id and key; random when empty
  bool progress = true;       // the once-a-second line on stderr
  bool help = false;
};

// Parses the arguments after the program name; the Status names the offending flag.
Result<TxLoadOptions> parse_args(const std::vector<std::string>& args);

std::string usage_text();

}  // namespace nodus::bench
