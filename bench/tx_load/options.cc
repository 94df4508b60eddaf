#include "options.h"

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

namespace nodus::bench {
namespace {

Result<uint64_t> parse_uint(const std::string& flag, const std::string& text, uint64_t min,
                            uint64_t max) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return invalid_argument(flag + ": not a whole number: '" + text + "'");
  }
  if (v < min || v > max) {
    return invalid_argument(flag + ": " + text + " is out of range [" + std::to_string(min) + ", " +
                            std::to_string(max) + "]");
  }
  return v;
}

Result<double> parse_double(const std::string& flag, const std::string& text, double min) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size() || !std::isfinite(v)) {
    return invalid_argument(flag + ": not a number: '" + text + "'");
  }
  if (v < min) return invalid_argument(flag + ": must be at least " + std::to_string(min));
  return v;
}

Status parse_endpoints(const std::string& text, std::vector<std::string>* out) {
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string one = text.substr(start, comma - start);
    const size_t colon = one.rfind(':');
    if (one.empty() || colon == std::string::npos || colon == 0 || colon + 1 == one.size()) {
      return invalid_argument("--targets: expected host:port[,host:port...], got '" + one + "'");
    }
    auto port = parse_uint("--targets", one.substr(colon + 1), 1, 65535);
    if (!port.ok()) return port.status();
    out->push_back(one);
    start = comma + 1;
  }
  return ok_status();
}

}  // namespace

std::string usage_text() {
  return R"(usage: nodus-tx-load --targets HOST:PORT[,HOST:PORT...] [options]

Drives the nodus ledger (gRPC service nodus.ledger.v1.Ledger) or, with --etcd, an etcd v3
cluster (KV.Put) with Put transactions, and reports committed tx/s and latency.

  --targets LIST        endpoints, comma-separated (the ledger's "grpc" ports, or etcd's
                        client ports); redirects (leader_hint) are followed
  --etcd                speak etcd v3 KV.Put instead of the ledger API
  --clients N           concurrent clients, each with its own client id and seq numbers [1]
  --batch N             transactions per SubmitRequest (ledger only) [1]
  --inflight N          closed loop: batches in flight per client [1]
  --rate TX_PER_S       open loop at this total rate; latency counts from the intended
                        send time (no coordinated omission). 0 = closed loop [0]
  --duration S          measured seconds [10]
  --warmup S            seconds before the measurement, not counted [1]
  --tx-bytes N          size of the encoded ledger Transaction (client id, seq and the Put
                        with its key and value); the value is sized to fit [100]
  --value-bytes N       the Put value size instead (etcd comparison: 256)
  --connections N       gRPC connections per endpoint [4]
  --rpc-timeout-ms N    deadline of each RPC; a timed-out batch is resent as is [2000]
  --drain S             after the run, how long retries may still take [10]
  --verify              record every acknowledged (client id, seq, key); at the end read
                        each key back (linearizable) and report acknowledged-but-lost
  --verify-concurrency N  reads in flight during --verify [64]
  --key-space N         keys per client (key = seq mod N): a bounded working set that is
                        overwritten, like etcd's --key-space-size [every tx a new key]
  --workload W          put: a Put per transaction; transfer: each client mints into its own
                        account once, then moves 1 per transaction to a sink account; --verify
                        then checks balances and conservation [put]
  --json FILE           write the result as JSON (- for stdout)
  --timeline FILE       write the per-millisecond commit timeline as CSV
  --run-id ID           names the client ids and keys of this run [random]
  --no-progress         no progress line on stderr
  --help
)";
}

Result<TxLoadOptions> parse_args(const std::vector<std::string>& args) {
  TxLoadOptions o;
  bool tx_bytes_set = false;
  // Flags with a value; each handler parses it into `o`.
  using Handler = std::function<Status(const std::string& flag, const std::string& v)>;
  const auto uint_into = [](uint32_t* dst, uint64_t min, uint64_t max) -> Handler {
    return [dst, min, max](const std::string& flag, const std::string& v) -> Status {
      auto n = parse_uint(flag, v, min, max);
      if (!n.ok()) return n.status();
      *dst = static_cast<uint32_t>(*n);
      return ok_status();
    };
  };
  const auto double_into = [](double* dst, double min) -> Handler {
    return [dst, min](const std::string& flag, const std::string& v) -> Status {
      auto n = parse_double(flag, v, min);
      if (!n.ok()) return n.status();
      *dst = *n;
      return ok_status();
    };
  };
  const std::map<std::string, Handler> with_value = {
      {"--targets",
       [&o](const std::string&, const std::string& v) { return parse_endpoints(v, &o.endpoints); }},
      {"--clients", uint_into(&o.clients, 1, 100000)},
      {"--batch", uint_into(&o.batch, 1, 100000)},
      {"--inflight", uint_into(&o.inflight, 1, 10000)},
      {"--rate", double_into(&o.rate_tx_s, 0)},
      {"--duration", double_into(&o.duration_s, 0.001)},
      {"--warmup", double_into(&o.warmup_s, 0)},
      {"--tx-bytes",
       [&](const std::string& flag, const std::string& v) {
         tx_bytes_set = true;
         return uint_into(&o.tx_bytes, 1, 64 << 20)(flag, v);
       }},
      {"--value-bytes", uint_into(&o.value_bytes, 1, 64 << 20)},
      {"--connections", uint_into(&o.connections, 1, 256)},
      {"--rpc-timeout-ms", uint_into(&o.rpc_timeout_ms, 1, 3600000)},
      {"--drain", double_into(&o.drain_s, 0)},
      {"--verify-concurrency", uint_into(&o.verify_concurrency, 1, 10000)},
      {"--key-space", uint_into(&o.key_space, 1, 1u << 30)},
      {"--workload",
       [&o](const std::string& flag, const std::string& v) -> Status {
         if (v != "put" && v != "transfer") {
           return invalid_argument(flag + ": must be put or transfer, not '" + v + "'");
         }
         o.transfers = v == "transfer";
         return ok_status();
       }},
      {"--json",
       [&o](const std::string&, const std::string& v) {
         o.json_path = v;
         return ok_status();
       }},
      {"--timeline",
       [&o](const std::string&, const std::string& v) {
         o.timeline_path = v;
         return ok_status();
       }},
      {"--run-id",
       [&o](const std::string& flag, const std::string& v) {
         if (v.empty() || v.size() > 16) return invalid_argument(flag + ": 1 to 16 characters");
         o.run_id = v;
         return ok_status();
       }},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::string value;
    bool has_value = false;
    if (const size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
      has_value = true;
    }
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      return o;
    }
    if (flag == "--etcd" || flag == "--verify" || flag == "--no-progress") {
      if (has_value) return invalid_argument(flag + ": takes no value");
      if (flag == "--etcd") o.target = TargetKind::kEtcd;
      if (flag == "--verify") o.verify = true;
      if (flag == "--no-progress") o.progress = false;
      continue;
    }
    const auto handler = with_value.find(flag);
    if (handler == with_value.end()) return invalid_argument("unknown flag '" + args[i] + "'");
    if (!has_value) {
      if (i + 1 >= args.size()) return invalid_argument(flag + ": needs a value");
      value = args[++i];
    }
    NODUS_RETURN_IF_ERROR(handler->second(flag, value));
  }
  if (o.endpoints.empty()) return invalid_argument("--targets: at least one host:port is needed");
  if (o.transfers && (o.key_space != 0 || o.target == TargetKind::kEtcd)) {
    return invalid_argument("--workload: transfer is for the ledger, without --key-space");
  }
  if (o.verify && o.key_space != 0) {
    return invalid_argument("--key-space: --verify needs a key per transaction; drop one");
  }
  if (o.value_bytes != 0 && tx_bytes_set) {
    return invalid_argument("--tx-bytes and --value-bytes: give one of them");
  }
  if (o.target == TargetKind::kEtcd) {
    if (o.batch != 1) return invalid_argument("--batch: etcd's Put carries one key; use 1");
    if (o.value_bytes == 0) {
      return invalid_argument("--etcd: give the value size with --value-bytes");
    }
  }
  return o;
}

}  // namespace nodus::bench
