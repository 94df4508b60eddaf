// The `nodus` executable as operators use it: real processes, real plugins, real sockets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "cli/process.h"
#include "kernel/process/process_for_test.h"

namespace nodus::test {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kNodus = NODUS_BINARY;
const fs::path kTestPlugins = NODUS_TEST_PLUGIN_ROOT;
const fs::path kSource = NODUS_SOURCE_DIR;
const fs::path kPluginDir = NODUS_PLUGIN_DIR;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nodus-cli-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }

  // A one-instance profile using the test plugins, on a free block of ports.
  fs::path test_profile(const std::string& plugins_yaml, uint16_t base,
                        const std::string& plugin_dir = "good", int instances = 1) {
    return write("profile.yaml",
                 "profile: clitest\n"
                 "instances: " +
                     std::to_string(instances) +
                     "\n"
                     "ports: {base: " +
                     std::to_string(base) +
                     ", stride: 10, offsets: {health: 0, peer: 1}}\n"
                     "data_dir: " +
                     (dir_ / "data").string() +
                     "\n"
                     "plugin_dirs: [" +
                     (kTestPlugins / plugin_dir).string() +
                     "]\n"
                     "plugins:\n" +
                     plugins_yaml);
  }

  // Processes (nodus/services/processes.h)
  pid_t start_node_with_program(std::unique_ptr<Child>& node);

  fs::path dir_;
};

// Waits until GET path on port answers `code`, or the timeout passes.
bool wait_for_http(uint16_t port, const std::string& path, int code,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_get(port, path) == code) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Goal: `nodus version` prints the SDK version and the ABI fingerprint.
TEST_F(CliTest, VersionPrintsAbiFingerprint) {
  RunResult r = run({kNodus, "version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, AllOf(StartsWith("nodus 0."), HasSubstr("abi nodus-abi/1;")));
}

// Goal: an unknown verb and a bad flag are usage errors with exit code 2.
TEST_F(CliTest, BadVerbAndBadFlagExitTwo) {
  RunResult verb = run({kNodus, "frobnicate"});
  EXPECT_EQ(verb.exit_code, 2);
  EXPECT_THAT(verb.err, HasSubstr("unknown command 'frobnicate'"));
  RunResult flag = run({kNodus, "node", "--instnace", "1"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_THAT(flag.err, HasSubstr("instnace"));
}

// Goal: `plugins inspect` prints a descriptor for people and as JSON.
TEST_F(CliTest, PluginsInspectTextAndJson) {
  const std::string file = (kTestPlugins / "good" / "libnodus_test_good.so").string();
  RunResult text = run({kNodus, "plugins", "inspect", file});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out,
              AllOf(HasSubstr("name:         io.nodus.test.good"),
                    HasSubstr("provides:     nodus.test.greeter/v1"), HasSubstr("greeting")));
  RunResult json = run({kNodus, "plugins", "inspect", file, "-o", "json"});
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_THAT(json.out, AllOf(StartsWith("{\"name\":\"io.nodus.test.good\""),
                              HasSubstr("\"provides\":[\"nodus.test.greeter/v1\"]")));
}

// Goal: inspecting a broken plugin fails with one line naming the file.
TEST_F(CliTest, PluginsInspectBrokenPluginFails) {
  const std::string file = (kTestPlugins / "abi_version" / "libnodus_test_abi_version.so").string();
  RunResult r = run({kNodus, "plugins", "inspect", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(StartsWith(file + ": ABI mismatch"), MatchesRegex("[^\n]*\n")));
}

// Goal: `plugins inspect` names the descriptor's field as it is spelled (`needs`), in text
// and JSON.
TEST_F(CliTest, PluginsInspectPrintsNeeds) {
  const std::string file = (kTestPlugins / "good" / "libnodus_test_user.so").string();
  RunResult text = run({kNodus, "plugins", "inspect", file});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("needs:        nodus.test.greeter/v1"));
  EXPECT_THAT(text.out, Not(HasSubstr("requires")));
  RunResult json = run({kNodus, "plugins", "inspect", file, "-o", "json"});
  EXPECT_THAT(json.out, HasSubstr("\"needs\":[\"nodus.test.greeter/v1\"]"));
}

// Goal: inspecting a file that does not exist says why, in one line naming it.
TEST_F(CliTest, PluginsInspectMissingFileGivesReason) {
  const std::string file = (dir_ / "libnodus_nothing.so").string();
  RunResult r = run({kNodus, "plugins", "inspect", file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, file + ": cannot open plugin file: No such file or directory\n");
}

// Goal: `plugins list` also searches the directories of NODUS_PLUGIN_DIRS, as a node does.
TEST_F(CliTest, PluginsListHonoursPluginDirsEnvironment) {
  RunResult r = run({kNodus, "plugins", "list"},
                    {{"NODUS_PLUGIN_DIRS", "/nonexistent:" + (kTestPlugins / "good").string()}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("io.nodus.test.good"), HasSubstr("io.nodus.test.user")));
}

// Goal: `plugins list` shows every plugin of the given directories.
TEST_F(CliTest, PluginsListShowsDirectory) {
  RunResult r = run({kNodus, "plugins", "list", "--plugin-dir", (kTestPlugins / "good").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("io.nodus.test.good"), HasSubstr("io.nodus.test.user")));
}

// Goal: `plugins list -o markdown` renders the catalogue page: summary row and a section per
// plugin with status and config keys; a directory with a broken plugin fails instead.
TEST_F(CliTest, PluginsListMarkdown) {
  RunResult r = run({kNodus, "plugins", "list", "-o", "markdown", "--plugin-dir",
                     (kTestPlugins / "good").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out,
              AllOf(StartsWith("# Plugins\n"),
                    HasSubstr("| [io.nodus.test.good](#ionodustestgood) | 1.0.0 | test | "
                              "experimental | Test plugin io.nodus.test.good |"),
                    HasSubstr("## io.nodus.test.user\n"), HasSubstr("- status: experimental\n"),
                    HasSubstr("- file: `libnodus_test_good.so`\n"),
                    HasSubstr("- needs: `nodus.test.greeter/v1`\n"),
                    HasSubstr("| `limit` | integer | `10` | no | A number that must not be "
                              "negative |")));
  RunResult broken = run({kNodus, "plugins", "list", "-o", "markdown", "--plugin-dir",
                          (kTestPlugins / "bad_status").string()});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_THAT(broken.err, HasSubstr("libnodus_test_bad_status.so"));
}

// Goal: the shipped profiles validate against the built plugins.
TEST_F(CliTest, ShippedProfilesValidate) {
  for (const char* name : {"aurigraph", "ephemery", "stemedb", "arroyo"}) {
    const fs::path profile = kSource / "configs" / (std::string(name) + ".yaml");
    RunResult r = run({kNodus, "config", "validate", profile.string()});
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr(": ok (profile " + std::string(name)));
  }
}

// Goal: a typo in a plugin's config section is reported as FILE:LINE:COL: key.path and exit 2.
TEST_F(CliTest, ValidateReportsPluginKeyWithPosition) {
  fs::path p = test_profile(
      "  - name: io.nodus.test.good\n"
      "    config: {greeting: hi, limt: 3}\n",
      9000);
  RunResult r = run({kNodus, "config", "validate", p.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith(p.string() + ":8:28: plugins[0].config.limt: unknown key"));
}

// Goal: a profile naming a plugin that does not exist fails validation with exit 2.
TEST_F(CliTest, ValidateUnknownPlugin) {
  fs::path p = test_profile("  - name: io.nodus.test.nobody\n", 9000);
  RunResult r = run({kNodus, "config", "validate", p.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, StartsWith(p.string() + ":"));
  EXPECT_THAT(r.err, HasSubstr(": plugins[0]: plugin io.nodus.test.nobody not found"));
}

// Goal: precedence is file < NODUS_* environment < command-line flag, and a bad environment
// value is reported naming the variable.
TEST_F(CliTest, OverridePrecedence) {
  fs::path p = test_profile("  - name: io.nodus.test.good\n", 9000);
  RunResult env = run({kNodus, "config", "render", p.string()}, {{"NODUS_INSTANCES", "3"}});
  EXPECT_EQ(env.exit_code, 0) << env.err;
  EXPECT_THAT(env.out, HasSubstr("instances: 3"));
  RunResult flag =
      run({kNodus, "config", "render", p.string(), "--instances", "5"}, {{"NODUS_INSTANCES", "3"}});
  EXPECT_EQ(flag.exit_code, 0) << flag.err;
  EXPECT_THAT(flag.out, HasSubstr("instances: 5"));
  RunResult bad = run({kNodus, "config", "validate", p.string()}, {{"NODUS_INSTANCES", "many"}});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, StartsWith("NODUS_INSTANCES: instances: "));
}

// Goal: a node starts its plugins, serves liveness, readiness, status and metrics, and stops
// cleanly on SIGTERM with exit code 0.
TEST_F(CliTest, NodeServesHealthAndStopsOnSigterm) {
  const uint16_t base = free_port_block(2);
  fs::path p = test_profile(
      "  - name: io.nodus.test.good\n"
      "    config: {greeting: hi}\n",
      base);
  Child node({kNodus, "node", "--profile", p.string(), "--instance", "0"}, dir_ / "node.log");
  ASSERT_TRUE(wait_for_http(base, "/readyz", 200)) << read_file(dir_ / "node.log");
  EXPECT_EQ(http_get(base, "/livez"), 200);
  std::string status;
  EXPECT_EQ(http_get(base, "/status", &status), 200);
  EXPECT_THAT(status, AllOf(HasSubstr("\"role\":\"tester\""), HasSubstr("\"ready\":true"),
                            HasSubstr("\"name\":\"io.nodus.test.good\""),
                            HasSubstr("\"state\":\"running\"")));
  std::string metrics;
  EXPECT_EQ(http_get(base, "/metrics", &metrics), 200);
  EXPECT_THAT(metrics, HasSubstr("nodus_test_starts_total{instance=\"0\"} 1"));
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 0) << read_file(dir_ / "node.log");
  EXPECT_THAT(read_file(dir_ / "node.log"), HasSubstr("node stopped"));
}

// Processes (nodus/services/processes.h)
// Starts a node whose plugin runs `sleep 300` through ctx.processes(); returns the program's
// pid once the node is ready (0 when it never became ready).
pid_t CliTest::start_node_with_program(std::unique_ptr<Child>& node) {
  const uint16_t base = free_port_block(2);
  const fs::path profile = test_profile("  - name: io.nodus.test.process\n", base, "process");
  const fs::path pid_file = dir_ / "program.pid";
  node = std::make_unique<Child>(
      std::vector<std::string>{kNodus, "node", "--profile", profile.string(), "--instance", "0"},
      dir_ / "node.log",
      std::map<std::string, std::string>{{"NODUS_TEST_PROCESS_PID_FILE", pid_file.string()}});
  if (!wait_for_http(base, "/readyz", 200) || !fs::exists(pid_file)) return 0;
  return static_cast<pid_t>(std::stol(read_file(pid_file)));
}

// Goal: a plugin's program runs in the instance's cgroup as the instance's child, and stopping
// the node ends it (the plugin's stop() takes its programs with it).
TEST_F(CliTest, NodeStopEndsPluginProgram) {
  std::unique_ptr<Child> node;
  const pid_t program = start_node_with_program(node);
  ASSERT_GT(program, 0) << read_file(dir_ / "node.log");
  EXPECT_EQ(read_file("/proc/" + std::to_string(program) + "/cgroup"),
            read_file("/proc/" + std::to_string(node->pid()) + "/cgroup"));
  EXPECT_THAT(read_file("/proc/" + std::to_string(program) + "/stat"),
              HasSubstr(") S " + std::to_string(node->pid()) + " "));
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(std::chrono::seconds(20)), 0) << read_file(dir_ / "node.log");
  EXPECT_EQ(kernel::proc_state(program), '?') << "the program outlived the node's stop";
  EXPECT_THAT(read_file(dir_ / "node.log"), HasSubstr("process 'sleeper' started"));
}

// Goal: a node killed with SIGKILL (no stop, no destructor) leaves no program of its plugins.
TEST_F(CliTest, NodeKilledLeavesNoPluginProgram) {
  std::unique_ptr<Child> node;
  const pid_t program = start_node_with_program(node);
  ASSERT_GT(program, 0) << read_file(dir_ / "node.log");
  ASSERT_NE(kernel::proc_state(program), '?');
  node->signal(SIGKILL);
  node->wait(std::chrono::seconds(10));
  EXPECT_TRUE(kernel::gone_within(program, std::chrono::seconds(30)))
      << "program " << program << " outlived its instance";
}

// Goal: a plugin's HTTP route and the kernel's own endpoints are served by one server on one
// port of a real node (nodus/services/http.h), and a plugin cannot take a kernel path.
TEST_F(CliTest, NodeServesKernelAndPluginRoutesOnOnePort) {
  const uint16_t base = free_port_block(2);
  fs::path p = test_profile(
      "  - name: io.nodus.test.http-a\n"
      "    config: {port: health, path: '/v1/hello/{id}', reply: shared}\n",
      base, "http");
  Child node({kNodus, "node", "--profile", p.string(), "--instance", "0"}, dir_ / "node.log");
  ASSERT_TRUE(wait_for_http(base, "/readyz", 200)) << read_file(dir_ / "node.log");
  std::string body;
  EXPECT_EQ(http_get(base, "/v1/hello/7", &body), 200);
  EXPECT_THAT(body, AllOf(HasSubstr("\"reply\":\"shared\""), HasSubstr("\"id\":\"7\"")));
  EXPECT_EQ(http_get(base, "/livez"), 200);
  EXPECT_EQ(http_get(base, "/metrics"), 200);
  EXPECT_EQ(http_get(base, "/v1/other"), 404);
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 0) << read_file(dir_ / "node.log");

  fs::path clash = test_profile(
      "  - name: io.nodus.test.http-a\n"
      "    config: {port: health, path: /status}\n",
      base, "http");
  Child refused({kNodus, "node", "--profile", clash.string(), "--instance", "0"},
                dir_ / "clash.log");
  EXPECT_NE(refused.wait(std::chrono::seconds(10)), 0);
  EXPECT_THAT(read_file(dir_ / "clash.log"),
              HasSubstr("route GET /status is already registered (as GET /status by kernel)"));
}

// Goal: SIGINT stops a node like SIGTERM does.
TEST_F(CliTest, NodeStopsOnSigint) {
  const uint16_t base = free_port_block(2);
  fs::path p = test_profile("  - name: io.nodus.test.good\n", base);
  Child node({kNodus, "node", "--profile", p.string()}, dir_ / "node.log");
  ASSERT_TRUE(wait_for_http(base, "/readyz", 200)) << read_file(dir_ / "node.log");
  node.signal(SIGINT);
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 0) << read_file(dir_ / "node.log");
}

// Goal: a plugin stuck in stop() cannot hold the node: it exits 1 soon after the stop bound.
TEST_F(CliTest, NodeStopIsBoundedWhenAPluginHangs) {
  const uint16_t base = free_port_block(2);
  fs::path p = test_profile("  - name: io.nodus.test.stop-hangs\n", base, "stop_hangs");
  Child node({kNodus, "node", "--profile", p.string(), "--stop-timeout-ms", "300"},
             dir_ / "node.log");
  ASSERT_TRUE(wait_for_http(base, "/readyz", 200)) << read_file(dir_ / "node.log");
  node.signal(SIGTERM);
  // The plugin sleeps 60 s in stop(); only a bounded stop exits within the wait.
  EXPECT_EQ(node.wait(std::chrono::seconds(10)), 1);
  EXPECT_THAT(read_file(dir_ / "node.log"), HasSubstr("plugins did not stop within 300 ms"));
}

// Goal: a plugin whose start() fails makes `nodus node` exit 1 naming the plugin file, and
// nothing keeps listening.
TEST_F(CliTest, NodeExitsWhenPluginStartFails) {
  const uint16_t base = free_port_block(2);
  fs::path p = test_profile("  - name: io.nodus.test.start-fails\n", base, "start_fails");
  RunResult r = run({kNodus, "node", "--profile", p.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("libnodus_test_start_fails.so"),
                           HasSubstr("backing service is down")));
  EXPECT_EQ(http_get(base, "/livez"), 0);
}

// Goal: a health port already taken is a clear error naming the port, exit 1.
TEST_F(CliTest, NodeReportsPortInUse) {
  const uint16_t base = free_port_block(2);
  fs::path p = test_profile("  - name: io.nodus.test.good\n", base);
  Child first({kNodus, "node", "--profile", p.string()}, dir_ / "first.log");
  ASSERT_TRUE(wait_for_http(base, "/readyz", 200)) << read_file(dir_ / "first.log");
  RunResult second =
      run({kNodus, "node", "--profile", p.string(), "--data-dir", (dir_ / "data2").string()});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_THAT(second.err, HasSubstr(std::to_string(base)));
}

// Goal: a data directory that cannot be created is reported naming it, exit 1.
TEST_F(CliTest, NodeReportsUnwritableDataDir) {
  const uint16_t base = free_port_block(2);
  write("not-a-dir", "a file where a directory should be\n");
  fs::path p = test_profile("  - name: io.nodus.test.good\n", base);
  RunResult r = run({kNodus, "node", "--profile", p.string(), "--data-dir",
                     (dir_ / "not-a-dir" / "data").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("data directory " + (dir_ / "not-a-dir" / "data").string()));
}

// Goal: two real nodes with the peerping plugin reach each other over gRPC.
TEST_F(CliTest, TwoNodesPingEachOtherOverGrpc) {
  const uint16_t base = free_port_block(12);
  fs::path p = write("ping.yaml",
                     "profile: pingtest\n"
                     "instances: 2\n"
                     "ports: {base: " +
                         std::to_string(base) +
                         ", stride: 10, offsets: {health: 0, peer: 1}}\n"
                         "data_dir: " +
                         (dir_ / "data").string() +
                         "\n"
                         "plugin_dirs: [" +
                         kPluginDir.string() +
                         "]\n"
                         "plugins:\n"
                         "  - name: io.nodus.diag.peerping\n"
                         "    config: {interval_ms: 50, timeout_ms: 500}\n");
  Child n0({kNodus, "node", "--profile", p.string(), "--instance", "0"}, dir_ / "n0.log");
  Child n1({kNodus, "node", "--profile", p.string(), "--instance", "1"}, dir_ / "n1.log");
  // The reachable gauge itself reads 1 (the same condition as the assertion below).
  const auto reachable = [](const std::string& text) {
    const size_t at = text.find("\nnodus_peerping_peers_reachable{");
    if (at == std::string::npos) return false;
    const size_t close = text.find('}', at);
    return close != std::string::npos && text.compare(close, 4, "} 1\n") == 0;
  };
  for (uint16_t port : {base, static_cast<uint16_t>(base + 10)}) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    std::string metrics;
    while (std::chrono::steady_clock::now() < deadline) {
      http_get(port, "/metrics", &metrics);
      // A "} 1" anywhere after the gauge, such as a histogram bucket, does not count.
      if (reachable(metrics)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_THAT(metrics, HasSubstr("nodus_peerping_rtt_seconds_count"))
        << read_file(dir_ / "n0.log") << read_file(dir_ / "n1.log");
    EXPECT_THAT(metrics,
                MatchesRegex("(.|\n)*nodus_peerping_peers_reachable\\{[^}]*\\} 1\n(.|\n)*"));
  }
  n0.signal(SIGTERM);
  n1.signal(SIGTERM);
  EXPECT_EQ(n0.wait(std::chrono::seconds(10)), 0);
  EXPECT_EQ(n1.wait(std::chrono::seconds(10)), 0);
}

// Goal: `config validate` configures every instance, not only instance 0: an isolation
// section that only instance 1 cannot honour fails, naming instance 1 at the key's position.
TEST_F(CliTest, ValidateChecksEveryInstance) {
  fs::path p = test_profile(
      "  - name: io.nodus.isolation.linux\n"
      "    config: {cpus: ['0', '4000'], strict: true}\n",
      9000, kPluginDir.string(), 2);
  RunResult r = run({kNodus, "config", "validate", p.string()});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_THAT(r.err, AllOf(StartsWith(p.string() + ":8:14: plugins[0].config.cpus: instance 1 "
                                                   "asks for CPUs 4000 but only "),
                           MatchesRegex("[^\n]*\n")));
}

// Goal: a profile's plugin_dirs are searched before the built-in plugin directory, not instead
// of it: a plugin of the profile's directory and a built-in one compose one node.
TEST_F(CliTest, ProfilePluginDirsKeepBuiltInPlugins) {
  fs::path p =
      test_profile("  - name: io.nodus.test.good\n  - name: io.nodus.diag.peerping\n", 9000);
  RunResult r = run({kNodus, "config", "validate", p.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(": ok (profile clitest, 1 instances, 2 plugins)"));
}

// Goal: a plugin of the same name in the profile's directory and the built-in one is no
// error; the profile's file is the one loaded, and `plugins list --profile` shows which file
// loads and which one it shadows.
TEST_F(CliTest, ProfilePluginDirShadowsBuiltInPlugin) {
  const fs::path extra = dir_ / "extra";
  fs::create_directories(extra);
  const fs::path builtin = fs::canonical(kPluginDir / "libnodus_diag_peerping.so");
  fs::copy_file(builtin, extra / builtin.filename());
  const fs::path copy = fs::canonical(extra / builtin.filename());
  fs::path p = write("profile.yaml",
                     "profile: clitest\n"
                     "data_dir: " +
                         (dir_ / "data").string() +
                         "\n"
                         "plugin_dirs: [extra]\n"
                         "plugins:\n"
                         "  - name: io.nodus.diag.peerping\n");
  RunResult validate = run({kNodus, "config", "validate", p.string()});
  EXPECT_EQ(validate.exit_code, 0) << validate.err;
  RunResult list = run({kNodus, "plugins", "list", "--profile", p.string()});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  std::string loaded_line, shadowed_line;
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" " + builtin.string()) != std::string::npos) {
      shadowed_line = line;
    } else if (line.find(" " + copy.string()) != std::string::npos) {
      loaded_line = line;
    }
  }
  EXPECT_THAT(loaded_line, AllOf(StartsWith("io.nodus.diag.peerping "), Not(HasSubstr("shadowed"))))
      << list.out;
  EXPECT_THAT(shadowed_line, HasSubstr(builtin.string() + " (shadowed by " + copy.string() + ")"))
      << list.out;
  RunResult json = run({kNodus, "plugins", "list", "--profile", p.string(), "-o", "json"});
  EXPECT_THAT(json.out, HasSubstr("\"shadowed_by\":\"" + copy.string() + "\""));
  // Without the profile only the built-in file is found, and it shadows nothing.
  RunResult plain = run({kNodus, "plugins", "list"});
  EXPECT_THAT(plain.out, AllOf(HasSubstr(builtin.string()), Not(HasSubstr("shadowed"))));
}

}  // namespace
}  // namespace nodus::test
