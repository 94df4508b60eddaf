// tests/supervisor/supervisor_fixture.h: running `nodus up` in a test, reading its status.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli/process.h"

namespace nodus::test {

inline const std::string kNodus = NODUS_BINARY;
inline const std::filesystem::path kTestPlugins = NODUS_TEST_PLUGIN_ROOT;
inline const std::filesystem::path kPluginDir = NODUS_PLUGIN_DIR;  // the real plugins

// One row of `nodus status -o json`.
struct Row {
  uint32_t index = 0;
  pid_t pid = 0;
  std::string state;
  std::string role;
  uint32_t restarts = 0;
  std::string last_failure;
  std::map<std::string, int> ports;
};

struct ProfileSpec {
  int instances = 2;
  std::string plugin_dir = "good";
  std::string plugin = "io.nodus.test.good";
  std::string supervisor =
      "{restart: on-failure, backoff_ms: {initial: 20, max: 200}, stop_timeout_ms: 2000,"
      " heartbeat_ms: 100, crash_loop: {deaths: 3, window_s: 60}}";
  std::string data_dir;       // default: <dir>/data
  std::string plugin_config;  // the plugin's `config:` section (flow YAML), if any
  std::string plugin_file;    // the plugin's `file:`, if any
};

inline ProfileSpec spec_of(int instances, std::string plugin_dir = "good",
                           std::string plugin = "io.nodus.test.good") {
  ProfileSpec spec;
  spec.instances = instances;
  spec.plugin_dir = std::move(plugin_dir);
  spec.plugin = std::move(plugin);
  return spec;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Writes profile.yaml for `spec` on a fresh block of free ports (stride 2: health, peer).
  // `base_port`, when non-zero, reuses a block reserved by an earlier call.
  std::filesystem::path write_profile(const ProfileSpec& spec, uint16_t base_port = 0);
  // Starts `nodus up` (argv after `up` is the profile and run dir, plus `extra`).
  void start_up(const std::vector<std::string>& extra = {});
  std::string up_log() const { return read_file(dir_ / "up.log"); }
  RunResult nodus(std::vector<std::string> args);
  // Rows of `nodus status -o json`; empty when the call failed.
  std::vector<Row> status();
  // Polls status until `pred` holds (true) or `timeout` passes (false).
  bool wait_status(const std::function<bool(const std::vector<Row>&)>& pred,
                   std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool wait_all_ready(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  std::filesystem::path dir_;
  std::filesystem::path profile_;
  std::filesystem::path run_dir_;
  uint16_t base_port_ = 0;
  std::unique_ptr<Child> up_;
  std::set<pid_t> seen_pids_;  // every instance pid observed, killed in TearDown
  // Off when the cluster runs in its own pid namespace: its pids mean nothing out here.
  bool record_pids_ = true;
};

bool pid_alive(pid_t pid);
// Waits until `pid` no longer exists (or is a zombie when `zombie_counts_as_gone`).
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout);

}  // namespace nodus::test
