// render_prometheus_text(), declared in runtime/metrics_registry.h.
#include <array>
#include <charconv>
#include <cmath>
#include <string>

#include "kernel/runtime/metrics_registry.h"

namespace nodus::kernel {
namespace {

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    std::array<char, 32> buf{};
    auto [end, ec] =
        std::to_chars(buf.data(), buf.data() + buf.size(), v);  // shortest round-trip form
    out.append(buf.data(), ec == std::errc() ? end : buf.data());
  }
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view s, bool quote) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// Writes `{a="x",b="y"}` (nothing when there are no labels). `le` is the histogram bucket.
void append_labels(std::string& out, const nodus::MetricLabels& extra,
                   const nodus::MetricLabels& own, const std::string* le) {
  bool first = true;
  auto add = [&](std::string_view name, std::string_view value) {
    out += first ? '{' : ',';
    first = false;
    out += name;
    out += "=\"";
    append_escaped(out, value, /*quote=*/true);
    out += '"';
  };
  for (const auto& [name, value] : extra) {
    bool overridden = false;
    for (const auto& o : own)
      overridden = overridden || o.first == name;
    if (!overridden) add(name, value);
  }
  for (const auto& [name, value] : own)
    add(name, value);
  if (le != nullptr) add("le", *le);
  if (!first) out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const nodus::MetricLabels& extra, const nodus::MetricLabels& own,
                   const std::string* le, const std::string& value) {
  out += name;
  out += suffix;
  append_labels(out, extra, own, le);
  out += ' ';
  out += value;
  out += '\n';
}

std::string format_double(double v) {
  std::string s;
  append_double(s, v);
  return s;
}

}  // namespace

std::string render_prometheus_text(const std::vector<nodus::MetricFamily>& families,
                                   const nodus::MetricLabels& extra_labels) {
  std::string out;
  for (const nodus::MetricFamily& f : families) {
    if (f.samples.empty()) continue;
    if (!f.help.empty()) {
      out += "# HELP " + f.name + ' ';
      append_escaped(out, f.help, /*quote=*/false);
      out += '\n';
    }
    out += "# TYPE " + f.name + ' ';
    switch (f.type) {
      case nodus::MetricType::kCounter:
        out += "counter\n";
        break;
      case nodus::MetricType::kGauge:
        out += "gauge\n";
        break;
      case nodus::MetricType::kHistogram:
        out += "histogram\n";
        break;
    }
    for (const nodus::MetricSample& s : f.samples) {
      if (f.type != nodus::MetricType::kHistogram) {
        append_sample(out, f.name, "", extra_labels, s.labels, nullptr, format_double(s.value));
        continue;
      }
      for (size_t i = 0; i < s.bucket_counts.size(); ++i) {
        const std::string le =
            i < s.bucket_bounds.size() ? format_double(s.bucket_bounds[i]) : std::string("+Inf");
        append_sample(out, f.name, "_bucket", extra_labels, s.labels, &le,
                      std::to_string(s.bucket_counts[i]));
      }
      append_sample(out, f.name, "_sum", extra_labels, s.labels, nullptr, format_double(s.sum));
      append_sample(out, f.name, "_count", extra_labels, s.labels, nullptr,
                    std::to_string(s.count));
    }
  }
  return out;
}

}  // namespace nodus::kernel
