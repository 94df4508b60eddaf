#include "kernel/supervisor/exit_cause.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace nodus::kernel {
namespace {

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The flat JSON the plugin writes: string values hold no escaped quotes in practice (paths).
std::string json_string(const std::string& json, const std::string& key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"" + key + "\":\"([^\"]*)\""))) return m[1];
  return "";
}

uint64_t json_uint(const std::string& json, const std::string& key) {
  std::smatch m;
  if (std::regex_search(json, m, std::regex("\"" + key + "\":([0-9]+)"))) return std::stoull(m[1]);
  return 0;
}

}  // namespace

ExitReport classify_exit(int code, const std::filesystem::path& state_file) {
  ExitReport r;
  r.code = code;
  r.cause = code > 128 ? ExitCause::kSignaled : ExitCause::kExited;
  if (code != 128 + SIGKILL) return r;  // the OOM killer always sends SIGKILL
  const std::string json = slurp(state_file);
  const std::string events = json_string(json, "oom_events_file");
  if (events.empty()) return r;
  std::smatch m;
  const std::string text = slurp(events);
  if (!std::regex_search(text, m, std::regex("(^|\n)oom_kill ([0-9]+)"))) return r;
  const uint64_t now = std::stoull(m[2]);
  const uint64_t before = json_uint(json, "oom_kills_at_start");
  r.oom_kills = now > before ? now - before : 0;
  if (r.oom_kills > 0) {
    r.cause = ExitCause::kOomKilled;
    r.detail = "OOM-killed: oom_kill " + std::to_string(now) + " in " + events;
  }
  return r;
}

std::map<std::string, std::filesystem::path> state_cgroups(
    const std::filesystem::path& state_file) {
  std::map<std::string, std::filesystem::path> out;
  const std::string json = slurp(state_file);
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"cgroups\":\\{([^}]*)\\}"))) return out;
  const std::string body = m[1];
  const std::regex pair("\"([^\"]+)\":\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), pair); it != std::sregex_iterator();
       ++it)
    out[(*it)[1]] = std::string((*it)[2]);
  return out;
}

int remove_state_cgroups(const std::filesystem::path& state_file) {
  std::set<std::filesystem::path> dirs;
  for (const auto& [controller, dir] : state_cgroups(state_file))
    dirs.insert(dir);
  int removed = 0;
  for (const auto& dir : dirs)
    removed += ::rmdir(dir.c_str()) == 0 ? 1 : 0;
  return removed;
}

}  // namespace nodus::kernel
