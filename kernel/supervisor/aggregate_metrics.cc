#include "kernel/supervisor/aggregate_metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <map>
#include <sstream>
#include <system_error>

namespace nodus::kernel {
namespace {

struct Family {
  std::string help;  // the whole "# HELP ..." line
  std::string type;  // the whole "# TYPE ..." line
  std::vector<std::string> samples;
};

// "# HELP name text" -> "name".
std::string comment_name(const std::string& line) {
  const size_t start = 7;  // after "# HELP " / "# TYPE "
  const size_t end = line.find(' ', start);
  return line.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string sample_name(const std::string& line) {
  return line.substr(0, line.find_first_of("{ "));
}

// A histogram's or summary's samples (name_bucket, name_sum, name_count) belong to `family`.
bool belongs_to(const std::string& sample, const std::string& family) {
  if (sample == family) return true;
  for (const char* suffix : {"_bucket", "_sum", "_count", "_total", "_created"}) {
    if (sample == family + suffix) return true;
  }
  return false;
}

}  // namespace

std::string merge_exposition(const std::vector<std::string>& texts) {
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  auto family = [&](const std::string& name) -> Family& {
    auto [it, inserted] = families.try_emplace(name);
    if (inserted) order.push_back(name);
    return it->second;
  };
  for (const auto& text : texts) {
    std::istringstream in(text);
    std::string line;
    std::string current;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
        current = comment_name(line);
        Family& f = family(current);
        std::string& slot = line[2] == 'H' ? f.help : f.type;
        if (slot.empty()) slot = line;
        continue;
      }
      if (line[0] == '#') continue;
      const std::string name = sample_name(line);
      family(belongs_to(name, current) ? current : name).samples.push_back(line);
    }
  }
  std::string out;
  for (const auto& name : order) {
    const Family& f = families[name];
    if (!f.help.empty()) out += f.help + "\n";
    if (!f.type.empty()) out += f.type + "\n";
    for (const auto& s : f.samples)
      out += s + "\n";
  }
  return out;
}

std::string container_totals(const nodus::v1::StatusReply& status) {
  std::map<std::string, int> states;
  for (const char* s :
       {"starting", "ready", "unhealthy", "backoff", "failed", "stopping", "stopped"}) {
    states[s] = 0;
  }
  double cpu_s = 0;
  double rss = 0;
  std::string restarts;
  std::string up;
  for (const auto& inst : status.instances()) {
    ++states[inst.state()];
    cpu_s += inst.cpu_s();
    rss += static_cast<double>(inst.rss_bytes());
    const std::string label = "{instance=\"" + std::to_string(inst.index()) + "\"}";
    restarts +=
        "nodus_supervisor_restarts_total" + label + " " + std::to_string(inst.restarts()) + "\n";
    up += "nodus_supervisor_instance_ready" + label + " " + (inst.state() == "ready" ? "1" : "0") +
          "\n";
  }
  std::ostringstream out;
  out << "# HELP nodus_supervisor_instances Instances by state.\n"
      << "# TYPE nodus_supervisor_instances gauge\n";
  for (const auto& [state, n] : states) {
    out << "nodus_supervisor_instances{state=\"" << state << "\"} " << n << "\n";
  }
  out << "# HELP nodus_supervisor_restarts_total Times the supervisor started an instance again.\n"
      << "# TYPE nodus_supervisor_restarts_total counter\n"
      << restarts << "# HELP nodus_supervisor_instance_ready 1 when the instance is ready.\n"
      << "# TYPE nodus_supervisor_instance_ready gauge\n"
      << up << "# HELP nodus_container_cpu_seconds CPU time of the live instance processes.\n"
      << "# TYPE nodus_container_cpu_seconds gauge\n"
      << "nodus_container_cpu_seconds " << cpu_s << "\n"
      << "# HELP nodus_container_memory_rss_bytes Resident memory of the live instance processes.\n"
      << "# TYPE nodus_container_memory_rss_bytes gauge\n"
      << "nodus_container_memory_rss_bytes " << rss << "\n";
  return out.str();
}

Result<std::string> http_get_text(const std::string& host, uint16_t port, const std::string& path,
                                  std::chrono::milliseconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1) {
    return invalid_argument(where + ": not an IPv4 address");
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable(where + ": socket: " + std::system_category().message(errno));
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string response;
  Status st;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    st = unavailable(where + ": connect: " + std::system_category().message(errno));
  } else {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + where + "\r\n\r\n";
    if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
      st = unavailable(where + ": write: " + std::system_category().message(errno));
    }
    std::array<char, 16384> buf{};
    ssize_t n = 0;
    while (st.ok() && (n = read(fd, buf.data(), buf.size())) > 0) {
      response.append(buf.data(), static_cast<size_t>(n));
      if (response.size() > (64u << 20)) st = resource_exhausted(where + ": response too large");
    }
    if (st.ok() && n < 0)
      st = deadline_exceeded(where + ": read: " + std::system_category().message(errno));
  }
  close(fd);
  NODUS_RETURN_IF_ERROR(st);
  if (response.rfind("HTTP/1.1 200", 0) != 0 && response.rfind("HTTP/1.0 200", 0) != 0) {
    return unavailable(where + path + ": " + response.substr(0, response.find('\r')));
  }
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

}  // namespace nodus::kernel
