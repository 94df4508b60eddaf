#include "supervisor_fixture.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace nodus::test {
namespace fs = std::filesystem;

void SupervisorTest::SetUp() {
  dir_ =
      fs::temp_directory_path() / ("nodus-sup-" + std::to_string(getpid()) + "-" +
                                   ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir_);
  fs::create_directories(dir_);
  run_dir_ = dir_ / "run";
}

void SupervisorTest::TearDown() {
  if (up_) {
    up_->signal(SIGKILL);
    (void)up_->wait(std::chrono::seconds(5));
  }
  for (pid_t pid : seen_pids_) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  fs::remove_all(dir_);
}

fs::path SupervisorTest::write_profile(const ProfileSpec& spec, uint16_t base_port) {
  base_port_ = base_port != 0 ? base_port : free_port_block(2 * std::max(spec.instances, 8));
  const std::string data = spec.data_dir.empty() ? (dir_ / "data").string() : spec.data_dir;
  profile_ = dir_ / "profile.yaml";
  std::ofstream(profile_) << "profile: suptest\n"
                          << "instances: " << spec.instances << "\n"
                          << "ports: {base: " << base_port_
                          << ", stride: 2, offsets: {health: 0, peer: 1}}\n"
                          << "data_dir: " << data << "\n"
                          << "run_dir: " << run_dir_.string() << "\n"
                          << "plugin_dirs: [" << (kTestPlugins / spec.plugin_dir).string() << "]\n"
                          << "supervisor: " << spec.supervisor << "\n"
                          << "plugins:\n  - name: " << spec.plugin << "\n";
  if (!spec.plugin_file.empty()) {
    std::ofstream(profile_, std::ios::app) << "    file: " << spec.plugin_file << "\n";
  }
  if (!spec.plugin_config.empty()) {
    std::ofstream(profile_, std::ios::app) << "    config: " << spec.plugin_config << "\n";
  }
  return profile_;
}

void SupervisorTest::start_up(const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {kNodus, "up", "--profile", profile_.string()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  up_ = std::make_unique<Child>(argv, dir_ / "up.log");
}

RunResult SupervisorTest::nodus(std::vector<std::string> args) {
  args.insert(args.begin(), kNodus);
  return run(args, {}, std::chrono::seconds(30));
}

std::vector<Row> SupervisorTest::status() {
  RunResult r = nodus({"status", "--run-dir", run_dir_.string(), "-o", "json"});
  std::vector<Row> rows;
  if (r.exit_code != 0) return rows;
  // The JSON is flat apart from "ports"; no regex (GCC 12 + ASan warns inside <regex>).
  const auto text_after = [](const std::string& obj, const std::string& key) {
    const auto at = obj.find("\"" + key + "\":");
    return at == std::string::npos ? std::string() : obj.substr(at + key.size() + 3);
  };
  const auto str = [&](const std::string& obj, const std::string& key) {
    const std::string rest = text_after(obj, key);
    return rest.empty() ? rest : rest.substr(1, rest.find('"', 1) - 1);
  };
  const auto num = [&](const std::string& obj, const std::string& key) {
    const std::string rest = text_after(obj, key);
    return rest.empty() ? 0L : std::stol(rest);
  };
  for (size_t at = r.out.find("{\"index\":"); at != std::string::npos;
       at = r.out.find("{\"index\":", at + 1)) {
    const std::string obj = r.out.substr(at, r.out.find("}}", at) - at + 1);
    Row row;
    row.index = static_cast<uint32_t>(num(obj, "index"));
    row.pid = static_cast<pid_t>(num(obj, "pid"));
    row.state = str(obj, "state");
    row.role = str(obj, "role");
    row.restarts = static_cast<uint32_t>(num(obj, "restarts"));
    row.last_failure = str(obj, "last_failure");
    std::string ports = text_after(obj, "ports");
    ports = ports.substr(1, ports.find('}') - 1);
    for (size_t q = ports.find('"'); q != std::string::npos; q = ports.find('"', q)) {
      const size_t close = ports.find('"', q + 1);
      row.ports[ports.substr(q + 1, close - q - 1)] = std::stoi(ports.substr(close + 2));
      q = ports.find(',', close);
      if (q == std::string::npos) break;
    }
    if (row.pid > 0 && record_pids_) seen_pids_.insert(row.pid);
    rows.push_back(row);
  }
  return rows;
}

bool SupervisorTest::wait_status(const std::function<bool(const std::vector<Row>&)>& pred,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(status())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool SupervisorTest::wait_all_ready(size_t count, std::chrono::milliseconds timeout) {
  return wait_status(
      [count](const std::vector<Row>& rows) {
        if (rows.size() != count) return false;
        for (const auto& r : rows) {
          if (r.state != "ready") return false;
        }
        return true;
      },
      timeout);
}

bool pid_alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) return false;
  const auto close = text.rfind(')');
  return close == std::string::npos || text.substr(close + 2, 1) != "Z";
}

bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!fs::exists("/proc/" + std::to_string(pid))) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace nodus::test
