#include "report.h"

#include <cstdio>
#include <sstream>

namespace nodus::bench {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

std::string count_map(const std::map<std::string, uint64_t>& m) {
  std::string out = "{";
  for (const auto& [k, v] : m) {
    if (out.size() > 1) out += ",";
    out += quoted(k) + ":" + std::to_string(v);
  }
  return out + "}";
}

uint64_t total(const std::map<std::string, uint64_t>& m) {
  uint64_t n = 0;
  for (const auto& [k, v] : m)
    n += v;
  return n;
}

}  // namespace

std::string report_json(const TxLoadOptions& o, const RunShape& shape, const LoadReport& r) {
  std::ostringstream j;
  j << "{\"target\":" << quoted(o.target == TargetKind::kEtcd ? "etcd" : "ledger")
    << ",\"endpoints\":[";
  for (size_t i = 0; i < o.endpoints.size(); ++i)
    j << (i ? "," : "") << quoted(o.endpoints[i]);
  j << "],\"run_id\":" << quoted(shape.run_id) << ",\"clients\":" << o.clients
    << ",\"batch\":" << o.batch << ",\"mode\":" << quoted(o.rate_tx_s > 0 ? "fixed-rate" : "max")
    << ",\"inflight\":" << o.inflight << ",\"rate_tx_s\":" << num(o.rate_tx_s)
    << ",\"connections\":" << o.connections << ",\"duration_s\":" << num(o.duration_s)
    << ",\"warmup_s\":" << num(o.warmup_s) << ",\"value_bytes\":" << shape.value_bytes
    << ",\"tx_bytes\":" << shape.tx_bytes << ",\"committed\":" << r.committed
    << ",\"committed_total\":" << r.committed_total
    << ",\"throughput_tx_s\":" << num(r.throughput_tx_s) << ",\"latency_ms\":{"
    << "\"count\":" << r.latency_ns.count() << ",\"mean\":" << num(r.latency_ns.mean() / 1e6)
    << ",\"p50\":" << num(ms(r.latency_ns.value_at_quantile(0.50)))
    << ",\"p90\":" << num(ms(r.latency_ns.value_at_quantile(0.90)))
    << ",\"p99\":" << num(ms(r.latency_ns.value_at_quantile(0.99)))
    << ",\"p999\":" << num(ms(r.latency_ns.value_at_quantile(0.999)))
    << ",\"max\":" << num(ms(r.latency_ns.max())) << "}"
    << ",\"rejected\":" << count_map(r.rejected) << ",\"rejected_total\":" << total(r.rejected)
    << ",\"retried\":" << r.retried << ",\"redirects\":" << r.redirects
    << ",\"errors\":" << r.errors << ",\"errors_by_code\":" << count_map(r.errors_by_code)
    << ",\"unresolved\":" << r.unresolved << ",\"max_commit_gap_ms\":" << r.max_commit_gap_ms
    << ",\"max_commit_gap_at_ms\":" << r.max_commit_gap_at_ms;
  if (r.verify.ran) {
    j << ",\"verify\":{\"checked\":" << r.verify.checked << ",\"lost\":" << r.verify.lost
      << ",\"read_errors\":" << r.verify.read_errors << ",\"duplicated\":" << r.verify.duplicated
      << ",\"conservation_errors\":" << r.verify.conservation_errors << "}";
  }
  j << "}\n";
  return j.str();
}

std::string report_text(const TxLoadOptions& o, const RunShape& shape, const LoadReport& r) {
  std::ostringstream t;
  t << "target     " << (o.target == TargetKind::kEtcd ? "etcd" : "ledger") << ", " << o.clients
    << " clients, batch " << o.batch << ", "
    << (o.rate_tx_s > 0 ? "fixed rate " + num(o.rate_tx_s) + " tx/s"
                        : "max throughput, " + std::to_string(o.inflight) + " in flight/client")
    << ", value " << shape.value_bytes << " B";
  if (shape.tx_bytes != 0) t << ", tx " << shape.tx_bytes << " B";
  t << "\nthroughput " << num(r.throughput_tx_s) << " tx/s committed (" << r.committed << " in "
    << num(r.measured_s) << " s)\n"
    << "latency    p50 " << num(ms(r.latency_ns.value_at_quantile(0.50))) << " ms  p90 "
    << num(ms(r.latency_ns.value_at_quantile(0.90))) << " ms  p99 "
    << num(ms(r.latency_ns.value_at_quantile(0.99))) << " ms  p999 "
    << num(ms(r.latency_ns.value_at_quantile(0.999))) << " ms  max " << num(ms(r.latency_ns.max()))
    << " ms\n"
    << "counts     committed " << r.committed_total << " (whole run)  rejected "
    << total(r.rejected) << " " << count_map(r.rejected) << "  retried " << r.retried
    << "  redirects " << r.redirects << "  errors " << r.errors << " "
    << count_map(r.errors_by_code) << "  unresolved " << r.unresolved << "\n"
    << "commit gap longest " << r.max_commit_gap_ms << " ms without a commit (at "
    << r.max_commit_gap_at_ms << " ms)\n";
  if (r.verify.ran) {
    t << "verify     " << r.verify.checked << " acknowledged read back, lost " << r.verify.lost
      << ", read errors " << r.verify.read_errors;
    if (o.transfers) {
      t << ", applied twice " << r.verify.duplicated << ", conservation "
        << (r.verify.conservation_errors == 0 ? "holds" : "VIOLATED");
    }
    t << "\n";
  }
  return t.str();
}

std::string timeline_csv(const LoadReport& r) {
  std::string out = "ms,commits\n";
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    out += std::to_string(i) + "," + std::to_string(r.timeline[i]) + "\n";
  }
  return out;
}

}  // namespace nodus::bench
