#include "cpu_set.h"

#include <algorithm>
#include <charconv>

namespace nodus::isolation {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

Result<int> parse_cpu(std::string_view item, std::string_view whole) {
  item = trim(item);
  int v = -1;
  auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
  if (item.empty() || ec != std::errc() || end != item.data() + item.size() || v < 0 ||
      v > kCpuMax) {
    return invalid_argument("bad CPU list '" + std::string(whole) + "': '" + std::string(item) +
                            "' is not a CPU number in 0.." + std::to_string(kCpuMax));
  }
  return v;
}

}  // namespace

Result<CpuList> parse_cpu_list(std::string_view text) {
  const std::string_view whole = trim(text);
  if (whole.empty()) return invalid_argument("empty CPU list");
  CpuList out;
  std::string_view rest = whole;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const size_t dash = item.find('-');
    NODUS_ASSIGN_OR_RETURN(int first, parse_cpu(item.substr(0, dash), whole));
    int last = first;
    if (dash != std::string_view::npos) {
      NODUS_ASSIGN_OR_RETURN(last, parse_cpu(item.substr(dash + 1), whole));
      if (last < first) {
        return invalid_argument("bad CPU list '" + std::string(whole) + "': range '" +
                                std::string(trim(item)) + "' runs backwards");
      }
    }
    for (int c = first; c <= last; ++c)
      out.push_back(c);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_cpu_list(const CpuList& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1)
      ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(cpus[i]);
    if (j > i) out += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

CpuLayout auto_cpu_layout(uint32_t index, uint32_t per_instance, const CpuList& online) {
  CpuLayout layout;
  if (online.empty() || per_instance == 0) return layout;
  const uint64_t first = static_cast<uint64_t>(index) * per_instance;
  layout.wrapped = first + per_instance > online.size();
  for (uint64_t k = 0; k < per_instance; ++k)
    layout.cpus.push_back(online[(first + k) % online.size()]);
  std::sort(layout.cpus.begin(), layout.cpus.end());
  layout.cpus.erase(std::unique(layout.cpus.begin(), layout.cpus.end()), layout.cpus.end());
  return layout;
}

CpuList intersect(const CpuList& a, const CpuList& b) {
  CpuList out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace nodus::isolation
