// nodus-tx-load: the transaction load generator for the nodus ledger and, for side-by-side
// figures, etcd v3. See bench/tx_load/README.md and `nodus-tx-load --help`.
//
// Exit codes: 0 done; 2 bad arguments or nothing could be written; 3 --verify found an
// acknowledged transaction lost (or could not read some back); 4 no transaction committed.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "engine.h"
#include "etcd_backend.h"
#include "ledger_backend.h"
#include "options.h"
#include "payload.h"
#include "report.h"

namespace {

bool write_out(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::cout << text << std::flush;
    return true;
  }
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace nodus::bench;
  auto parsed = parse_args(std::vector<std::string>(argv + 1, argv + argc));
  if (!parsed.ok()) {
    std::cerr << "nodus-tx-load: " << parsed.status().message() << "\n\n" << usage_text();
    return 2;
  }
  const TxLoadOptions& options = *parsed;
  if (options.help) {
    std::cout << usage_text();
    return 0;
  }
  RunShape shape;
  shape.run_id = options.run_id.empty() ? Payload::random_run_id() : options.run_id;
  shape.value_bytes = options.value_bytes;
  if (options.target == TargetKind::kLedger) {
    if (shape.value_bytes == 0) {
      auto v = LedgerBackend::value_bytes_for_tx_bytes(shape.run_id, options.tx_bytes);
      if (!v.ok()) {
        std::cerr << "nodus-tx-load: " << v.status().message() << "\n";
        return 2;
      }
      shape.value_bytes = *v;
    }
    shape.tx_bytes = static_cast<uint32_t>(
        LedgerBackend::make_tx(Payload(shape.run_id, shape.value_bytes), 0, 16384).ByteSizeLong());
  }
  Payload payload(shape.run_id, shape.value_bytes);
  payload.set_key_space(options.key_space);
  payload.set_transfers(options.transfers);
  std::unique_ptr<Backend> backend;
  if (options.target == TargetKind::kEtcd) {
    backend = std::make_unique<EtcdBackend>(options.endpoints, options.connections,
                                            options.rpc_timeout_ms, payload);
  } else {
    backend = std::make_unique<LedgerBackend>(options.endpoints, options.connections,
                                              options.rpc_timeout_ms, payload);
  }
  LoadReport report;
  {
    LoadEngine engine(options, payload, *backend);
    report = engine.run();
  }
  std::cerr << report_text(options, shape, report);
  if (!options.json_path.empty() &&
      !write_out(options.json_path, report_json(options, shape, report))) {
    std::cerr << "nodus-tx-load: cannot write " << options.json_path << "\n";
    return 2;
  }
  if (!options.timeline_path.empty() && !write_out(options.timeline_path, timeline_csv(report))) {
    std::cerr << "nodus-tx-load: cannot write " << options.timeline_path << "\n";
    return 2;
  }
  if (report.verify.ran &&
      (report.verify.lost != 0 || report.verify.read_errors != 0 || report.verify.duplicated != 0 ||
       report.verify.conservation_errors != 0)) {
    return 3;
  }
  if (report.committed_total == 0) return 4;
  return 0;
}
