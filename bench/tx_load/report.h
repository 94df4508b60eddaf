// bench/tx_load/report.h: the end-of-run summary of nodus-tx-load, as text and as JSON.
#pragma once

#include <string>

#include "engine.h"
#include "options.h"

namespace nodus::bench {

// What was sent, for the report: the options plus the sizes derived from them.
struct RunShape {
  uint32_t value_bytes = 0;
  uint32_t tx_bytes = 0;  // encoded ledger Transaction size; 0 for etcd
  std::string run_id;
};

// One JSON object (documented field by field in bench/tx_load/README.md).
std::string report_json(const TxLoadOptions& options, const RunShape& shape,
                        const LoadReport& report);
// The human summary printed at the end of a run.
std::string report_text(const TxLoadOptions& options, const RunShape& shape,
                        const LoadReport& report);
// "ms,commits" lines for every millisecond of the run.
std::string timeline_csv(const LoadReport& report);

}  // namespace nodus::bench
