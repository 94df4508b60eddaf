// bench/tx_load/payload.h: the client ids, keys and values of a load run.
//
// Everything is derived from (run id, client index, seq), so that --verify needs to remember
// only which seqs were acknowledged, and two runs against the same cluster never share a key.
//
//   client id  "tx" + run id + "-" + 4 hex digits of the client index   e.g. "txa1b2c3d4-0003"
//   key        client id + "/" + 8 hex digits of seq (of seq % key space when one is set)
//   value      `value_bytes` bytes: seq in hex, ':', then a letter pattern that depends on both
//
// Fixed-width fields keep every transaction of a run the same size (up to the varint of seq).
#pragma once

#include <cstdint>
#include <string>

namespace nodus::bench {

class Payload {
 public:
  Payload(std::string run_id, uint32_t value_bytes)
      : run_id_(std::move(run_id)), value_bytes_(value_bytes) {}

  std::string client_id(uint32_t client) const;
  std::string key(uint32_t client, uint64_t seq) const;
  std::string value(uint32_t client, uint64_t seq) const;
  uint32_t value_bytes() const { return value_bytes_; }
  // Keys per client (key uses seq % key_space); 0 = every seq its own key.
  void set_key_space(uint32_t key_space) { key_space_ = key_space; }
  const std::string& run_id() const { return run_id_; }

  // --workload transfer: a client's seq 1 mints kFunding into its own account, every later seq
  // transfers 1 from it to the run's sink account (so the money is conserved and a transfer
  // applied twice, or lost, shows in the balances).
  static constexpr uint64_t kFunding = 1'000'000'000'000;
  void set_transfers(bool transfers) { transfers_ = transfers; }
  bool transfers() const { return transfers_; }
  std::string account(uint32_t client) const { return client_id(client) + "/acct"; }
  std::string sink() const { return "tx" + run_id_ + "-sink"; }

  // Eight random hex digits (from std::random_device).
  static std::string random_run_id();

 private:
  std::string run_id_;
  uint32_t value_bytes_;
  uint32_t key_space_ = 0;
  bool transfers_ = false;
};

}  // namespace nodus::bench
