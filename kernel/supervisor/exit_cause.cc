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

}  // namespace

ExitReport classify_exit(int code, const std::filesystem::path& state_file) {
  ExitReport r;
  r.code = code;
  r.cause = code > 128 ? ExitCause::kSignaled : ExitCause::kExited;
  if (code != 128 + SIGKILL) return r;  // the OOM killer always sends SIGKILL
  auto state = read_isolation_state(state_file);
  if (!state.ok()) {
    // No file: the instance was not isolated. A broken one is worth the operator's eye.
    if (state.status().code() != StatusCode::kNotFound) r.detail = state.status().message();
    return r;
  }
  const std::string& events = state->oom_events_file;
  if (events.empty()) return r;
  std::smatch m;
  const std::string text = slurp(events);
  if (!std::regex_search(text, m, std::regex("(^|\n)oom_kill ([0-9]+)"))) return r;
  const uint64_t now = std::stoull(m[2]);
  const uint64_t before = state->oom_kills_at_start;
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
  auto state = read_isolation_state(state_file);
  if (!state.ok()) return out;
  for (const auto& [controller, dir] : state->cgroups)
    out[controller] = dir;
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
