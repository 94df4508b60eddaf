#include "kernel/supervisor/policy.h"

#include <algorithm>

namespace nodus::kernel {

std::string_view restart_mode_name(RestartMode mode) {
  switch (mode) {
    case RestartMode::kAlways:
      return "always";
    case RestartMode::kOnFailure:
      return "on-failure";
    case RestartMode::kNever:
      return "never";
  }
  return "on-failure";
}

namespace {

// Reads an integer key of `node` within [lo, hi] into `out` (left alone when absent).
Status read_uint(const ConfigNode& node, std::string_view key, int64_t lo, int64_t hi,
                 uint32_t& out) {
  const ConfigNode* child = node.find(key);
  if (child == nullptr || child->is_null()) return {};
  NODUS_ASSIGN_OR_RETURN(int64_t v, child->as_int());
  if (v < lo || v > hi) {
    return child->error("must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                        ", got " + std::to_string(v));
  }
  out = static_cast<uint32_t>(v);
  return {};
}

}  // namespace

Result<SupervisorPolicy> parse_supervisor_policy(const ConfigNode& section) {
  SupervisorPolicy p;
  if (section.is_null()) return p;
  if (!section.is_map()) return section.error("must be a map");
  NODUS_ASSIGN_OR_RETURN(std::string restart, section.get_string("restart", "on-failure"));
  if (restart == "always") {
    p.restart = RestartMode::kAlways;
  } else if (restart == "on-failure") {
    p.restart = RestartMode::kOnFailure;
  } else if (restart == "never") {
    p.restart = RestartMode::kNever;
  } else {
    return section.at("restart").error("must be always, on-failure or never, got '" + restart +
                                       "'");
  }
  if (const ConfigNode* b = section.find("backoff_ms"); b != nullptr && b->is_map()) {
    NODUS_RETURN_IF_ERROR(read_uint(*b, "initial", 1, 3600000, p.backoff_initial_ms));
    NODUS_RETURN_IF_ERROR(read_uint(*b, "max", 1, 3600000, p.backoff_max_ms));
    if (p.backoff_initial_ms > p.backoff_max_ms) {
      return b->at("initial").error("must be at most backoff_ms.max");
    }
  }
  NODUS_RETURN_IF_ERROR(read_uint(section, "stop_timeout_ms", 1, 600000, p.stop_timeout_ms));
  NODUS_RETURN_IF_ERROR(read_uint(section, "heartbeat_ms", 10, 60000, p.heartbeat_ms));
  NODUS_RETURN_IF_ERROR(
      read_uint(section, "heartbeat_timeout_ms", 20, 3600000, p.heartbeat_timeout_ms));
  NODUS_RETURN_IF_ERROR(read_uint(section, "hang_timeout_ms", 100, 3600000, p.hang_timeout_ms));
  if (p.heartbeat_timeout_ms != 0 && p.heartbeat_timeout_ms < 2 * p.heartbeat_ms) {
    return section.at("heartbeat_timeout_ms").error("must be at least 2 * heartbeat_ms");
  }
  if (const ConfigNode* c = section.find("crash_loop"); c != nullptr && c->is_map()) {
    NODUS_RETURN_IF_ERROR(read_uint(*c, "deaths", 1, 1000, p.crash_loop_deaths));
    NODUS_RETURN_IF_ERROR(read_uint(*c, "window_s", 1, 86400, p.crash_loop_window_s));
  }
  NODUS_ASSIGN_OR_RETURN(p.essential, section.get_bool("essential", false));
  NODUS_RETURN_IF_ERROR(read_uint(section, "metrics_port", 0, 65535, p.metrics_port));
  return p;
}

}  // namespace nodus::kernel
