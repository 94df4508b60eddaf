// Broken profiles: each asserts the exact first error line (file, line, column, key path).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kernel/config/profile.h"

#include "kernel/config/yaml_loader.h"

#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

// The first error of `text` loaded as "broken.yaml", with optional overrides.
std::string first_error(const std::string& text, const std::vector<ConfigOverride>& o = {}) {
  auto root = load_yaml_string(text, "broken.yaml");
  if (!root.ok()) return root.status().to_string();
  auto profile = parse_profile(*root, "broken.yaml", o);
  if (profile.ok()) return "OK";
  return profile.status().to_string();
}

// A YAML syntax error is reported with the parser's position.
TEST(ProfileErrorsTest, YamlSyntaxError) {
  EXPECT_EQ(first_error("profile: demo\nports: {base: 9003\ninstances: 2\n"),
            "INVALID_ARGUMENT: broken.yaml:3:10: yaml: end of map flow not found");
}

// A key written twice is an error at the second occurrence.
TEST(ProfileErrorsTest, DuplicateKey) {
  EXPECT_EQ(first_error("profile: demo\ninstances: 2\ninstances: 3\n"),
            "INVALID_ARGUMENT: broken.yaml:3:1: instances: duplicate key 'instances' (first "
            "defined at line 2)");
}

// A misspelt top-level key lists the known keys and suggests the closest.
TEST(ProfileErrorsTest, UnknownTopLevelKeyWithSuggestion) {
  EXPECT_EQ(first_error("profile: demo\ninstanses: 2\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: instanses: unknown key 'instanses' (known keys: "
            "profile, description, instances, bind, ports, hosts, placement, data_dir, run_dir, "
            "plugin_dirs, log, "
            "supervisor, tls, plugins); did you mean 'instances'?");
}

// instances must be an integer.
TEST(ProfileErrorsTest, InstancesWrongType) {
  EXPECT_EQ(first_error("profile: demo\ninstances: four\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: instances: expected an integer, got 'four'");
}

// instances must be within 1..64.
TEST(ProfileErrorsTest, InstancesOutOfRange) {
  EXPECT_EQ(first_error("profile: demo\ninstances: 65\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: instances: must be between 1 and 64, got 65");
  EXPECT_EQ(first_error("profile: demo\ninstances: 0\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: instances: must be between 1 and 64, got 0");
}

// The highest port of the last instance must fit in 16 bits.
TEST(ProfileErrorsTest, PortOverflow) {
  EXPECT_EQ(first_error("profile: demo\ninstances: 4\nports: {base: 65520, stride: 10}\n"),
            "INVALID_ARGUMENT: broken.yaml:3:9: ports.base: with 4 instances the highest port is "
            "65553 (instance 3, port 'metrics'), above 65535");
}

// Each offset must be below the stride, or instances would share ports.
TEST(ProfileErrorsTest, OffsetNotBelowStride) {
  EXPECT_EQ(first_error("profile: demo\nports:\n  stride: 4\n  offsets: {api: 0, peer: 4}\n"),
            "INVALID_ARGUMENT: broken.yaml:4:21: ports.offsets.peer: offset 4 must be less than "
            "the stride (4)");
}

// Two ports of one instance may not share an offset.
TEST(ProfileErrorsTest, DuplicateOffset) {
  EXPECT_EQ(first_error("profile: demo\nports:\n  offsets: {api: 0, peer: 1, swim: 1}\n"),
            "INVALID_ARGUMENT: broken.yaml:3:30: ports.offsets.swim: offset 1 is already used by "
            "port 'peer'");
}

// A stride too small for the default ports is reported at the stride.
TEST(ProfileErrorsTest, StrideTooSmallForDefaults) {
  EXPECT_EQ(first_error("profile: demo\nports:\n  stride: 3\n"),
            "INVALID_ARGUMENT: broken.yaml:3:3: ports.stride: stride 3 is too small for the "
            "default ports (api, peer, health, metrics need 4); raise it or set ports.offsets");
}

// A plugin may be listed only once; the second listing is the error.
TEST(ProfileErrorsTest, DuplicatePluginName) {
  EXPECT_EQ(first_error("profile: demo\n"
                        "plugins:\n"
                        "  - name: io.nodus.diag.peerping\n"
                        "  - name: io.nodus.diag.peerping\n"),
            "INVALID_ARGUMENT: broken.yaml:4:5: plugins[1].name: duplicate plugin "
            "'io.nodus.diag.peerping' (already listed at plugins[0], line 3)");
}

// Plugin names are reverse-DNS with at least three lowercase labels.
TEST(ProfileErrorsTest, BadPluginName) {
  EXPECT_EQ(first_error("profile: demo\nplugins:\n  - name: Diag.PeerPing\n"),
            "INVALID_ARGUMENT: broken.yaml:3:5: plugins[0].name: must be a reverse-DNS name of "
            "at least 3 labels of [a-z0-9-] (e.g. io.nodus.diag.peerping), got 'Diag.PeerPing'");
  EXPECT_EQ(first_error("profile: demo\nplugins:\n  - name: io..peerping\n"),
            "INVALID_ARGUMENT: broken.yaml:3:5: plugins[0].name: must be a reverse-DNS name of "
            "at least 3 labels of [a-z0-9-] (e.g. io.nodus.diag.peerping), got 'io..peerping'");
}

// sha256 must be 64 lowercase hex digits.
TEST(ProfileErrorsTest, BadSha256) {
  EXPECT_EQ(first_error("profile: demo\n"
                        "plugins:\n"
                        "  - name: io.nodus.diag.peerping\n"
                        "    sha256: ABCDEF\n"),
            "INVALID_ARGUMENT: broken.yaml:4:5: plugins[0].sha256: must be 64 lowercase hex "
            "digits (a SHA-256), got 'ABCDEF'");
}

// file must be a bare .so file name.
TEST(ProfileErrorsTest, BadPluginFile) {
  EXPECT_EQ(first_error("profile: demo\n"
                        "plugins:\n"
                        "  - {name: io.nodus.diag.peerping, file: ../evil.so}\n"),
            "INVALID_ARGUMENT: broken.yaml:3:36: plugins[0].file: must be a plain file name "
            "ending in .so (no '/'), got '../evil.so'");
}

// A plugin's config section must be a map.
TEST(ProfileErrorsTest, PluginConfigNotAMap) {
  EXPECT_EQ(first_error("profile: demo\n"
                        "plugins:\n"
                        "  - name: io.nodus.diag.peerping\n"
                        "    config: [1000, 500]\n"),
            "INVALID_ARGUMENT: broken.yaml:4:5: plugins[0].config: expected a map, got a list");
}

// A plugin entry needs a name.
TEST(ProfileErrorsTest, PluginWithoutName) {
  EXPECT_EQ(first_error("profile: demo\nplugins:\n  - config: {interval_ms: 5}\n"),
            "INVALID_ARGUMENT: broken.yaml:3:5: plugins[0]: missing required key 'name'");
}

// Supervisor keys are checked, with a suggestion for typos.
TEST(ProfileErrorsTest, UnknownSupervisorKey) {
  EXPECT_EQ(first_error("profile: demo\nsupervisor:\n  restrat: always\n"),
            "INVALID_ARGUMENT: broken.yaml:3:3: supervisor.restrat: unknown key 'restrat' (known "
            "keys: restart, backoff_ms, stop_timeout_ms, heartbeat_ms, heartbeat_timeout_ms, "
            "hang_timeout_ms, crash_loop, essential, metrics_port); "
            "did you mean 'restart'?");
}

// Supervisor values are range-checked and backoff must not shrink.
TEST(ProfileErrorsTest, SupervisorValues) {
  EXPECT_EQ(first_error("profile: demo\nsupervisor: {restart: sometimes}\n"),
            "INVALID_ARGUMENT: broken.yaml:2:14: supervisor.restart: must be one of always, "
            "on-failure, never, got 'sometimes'");
  EXPECT_EQ(first_error("profile: demo\nsupervisor:\n  backoff_ms: {initial: 900, max: 100}\n"),
            "INVALID_ARGUMENT: broken.yaml:3:30: supervisor.backoff_ms.max: must be at least "
            "backoff_ms.initial (900)");
  EXPECT_EQ(first_error("profile: demo\nsupervisor:\n  essential: maybe\n"),
            "INVALID_ARGUMENT: broken.yaml:3:3: supervisor.essential: expected a boolean "
            "(true/false, yes/no, on/off), got 'maybe'");
}

// log.level is one of the four levels.
TEST(ProfileErrorsTest, BadLogLevel) {
  EXPECT_EQ(first_error("profile: demo\nlog:\n  level: verbose\n"),
            "INVALID_ARGUMENT: broken.yaml:3:3: log.level: must be one of debug, info, warn, "
            "error, got 'verbose'");
}

// bind must be an IP literal or localhost.
TEST(ProfileErrorsTest, BadBind) {
  EXPECT_EQ(first_error("profile: demo\nbind: example.com\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: bind: must be an IPv4 or IPv6 address or "
            "'localhost', got 'example.com'");
}

// A bad environment override names the variable instead of a file position.
TEST(ProfileErrorsTest, EnvOverrideBadValue) {
  EXPECT_EQ(first_error("profile: demo\nports: {base: 9003}\n",
                        {{"ports.base", "70000", "NODUS_PORTS_BASE"}}),
            "INVALID_ARGUMENT: NODUS_PORTS_BASE: ports.base: must be between 1 and 65535, got "
            "70000");
  EXPECT_EQ(first_error("profile: demo\n", {{"instances", "many", "NODUS_INSTANCES"}}),
            "INVALID_ARGUMENT: NODUS_INSTANCES: instances: expected an integer, got 'many'");
}

// An override of an unknown key is the usual unknown-key error, at the override's source.
TEST(ProfileErrorsTest, OverrideUnknownKey) {
  EXPECT_EQ(
      first_error("profile: demo\n", {{"instanse", "3", "--set"}}),
      "INVALID_ARGUMENT: --set: instanse: unknown key 'instanse' (known keys: profile, "
      "description, instances, bind, ports, hosts, placement, data_dir, run_dir, plugin_dirs, "
      "log, "
      "supervisor, tls, plugins); did you mean 'instances'?");
}

// A plugin override must name a listed plugin; a value that is not YAML is refused.
TEST(ProfileErrorsTest, OverrideBadPluginOrValue) {
  EXPECT_EQ(first_error("profile: demo\nplugins: [{name: io.nodus.diag.peerping}]\n",
                        {{"plugins.io.nodus.other.config.x", "1", "--set"}}),
            "INVALID_ARGUMENT: --set: plugins.io.nodus.other.config.x: no plugin in the profile "
            "matches this path (plugins: io.nodus.diag.peerping)");
  EXPECT_EQ(first_error("profile: demo\n", {{"plugin_dirs", "[a,", "NODUS_PLUGIN_DIRS"}}),
            "INVALID_ARGUMENT: NODUS_PLUGIN_DIRS: plugin_dirs: cannot parse value '[a,' as YAML: "
            "end of sequence flow not found");
  EXPECT_EQ(first_error("profile: demo\ninstances: 2\n", {{"instances.x", "1", "--set"}}),
            "INVALID_ARGUMENT: --set: instances.x: cannot set this key: 'instances' is a scalar, "
            "not a map");
}

// `profile` is required, and well-formed.
TEST(ProfileErrorsTest, MissingOrBadProfileName) {
  EXPECT_EQ(first_error("instances: 2\n"),
            "INVALID_ARGUMENT: broken.yaml:1:1: missing required key 'profile'");
  EXPECT_EQ(first_error(""), "INVALID_ARGUMENT: broken.yaml:1:1: missing required key 'profile'");
  EXPECT_EQ(first_error("profile: Auri_graph\n"),
            "INVALID_ARGUMENT: broken.yaml:1:1: profile: must be 1-63 characters of [a-z0-9-], "
            "not starting with '-', got 'Auri_graph'");
}

// The profile must be a map, and plugins a list of maps.
TEST(ProfileErrorsTest, WrongShapes) {
  EXPECT_EQ(first_error("- a\n- b\n"),
            "INVALID_ARGUMENT: broken.yaml:1:1: expected a map, got a list");
  EXPECT_EQ(first_error("profile: demo\nplugins: io.nodus.diag.peerping\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: plugins: expected a list, got a scalar");
  EXPECT_EQ(first_error("profile: demo\nplugins:\n  - io.nodus.diag.peerping\n"),
            "INVALID_ARGUMENT: broken.yaml:3:5: plugins[0]: expected a map with a 'name' key");
}

class ProfileFileErrorsTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  TempDir temp_;
  const std::filesystem::path dir_ = temp_.path();
};

// A missing profile file is NOT_FOUND naming the path.
TEST_F(ProfileFileErrorsTest, FileNotFound) {
  auto r = load_profile(dir_ / "missing.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().to_string(), "NOT_FOUND: " + (dir_ / "missing.yaml").string() +
                                        ": cannot open: No such file or directory");
}

// Errors in a real file name that file.
TEST_F(ProfileFileErrorsTest, ErrorsNameTheFile) {
  auto dup = write("dup.yaml", "profile: demo\nports:\n  base: 1\n  base: 2\n");
  EXPECT_EQ(load_profile(dup).status().to_string(),
            "INVALID_ARGUMENT: " + dup.string() +
                ":4:3: ports.base: duplicate key 'base' (first defined at line 3)");
  auto typo = write("typo.yaml", "profile: demo\nlog:\n  levle: debug\n");
  EXPECT_EQ(load_profile(typo).status().to_string(),
            "INVALID_ARGUMENT: " + typo.string() +
                ":3:3: log.levle: unknown key 'levle' (known keys: level, format); did you mean "
                "'level'?");
}

const char kTwoHosts[] =
    "profile: demo\ninstances: 2\nhosts:\n  - {name: a, address: 10.231.0.1}\n"
    "  - {name: b, address: 10.231.0.2}\n";

// placement may name only hosts of the list.
TEST(ProfileHostsErrorsTest, UnknownHost) {
  EXPECT_EQ(first_error(std::string(kTwoHosts) + "placement: [a, c]\n"),
            "INVALID_ARGUMENT: broken.yaml:6:16: placement[1]: unknown host 'c' (hosts: a, b)");
}

// Every instance needs a host: a placement shorter than the instance count is an error.
TEST(ProfileHostsErrorsTest, InstanceOnNoHost) {
  EXPECT_EQ(first_error(std::string(kTwoHosts) + "placement: [a]\n"),
            "INVALID_ARGUMENT: broken.yaml:6:1: placement: instance 1 is on no host: placement "
            "lists 1 of 2 instances");
}

// Two hosts at one address would give two instances the same address:port.
TEST(ProfileHostsErrorsTest, DuplicatedAddressPort) {
  EXPECT_EQ(first_error("profile: demo\ninstances: 2\nhosts:\n"
                        "  - {name: a, address: 10.231.0.1}\n"
                        "  - {name: b, address: 10.231.0.1}\n"),
            "INVALID_ARGUMENT: broken.yaml:5:15: hosts[1].address: address 10.231.0.1:9003 "
            "(instance 1 port 'api') is already used by instance 0 port 'api' of host 'a'");
}

// Host names are unique, addresses are IP literals, and `bind:` does not mix with hosts.
TEST(ProfileHostsErrorsTest, BadHostEntries) {
  EXPECT_EQ(first_error("profile: demo\nhosts:\n  - {name: a, address: 10.231.0.1}\n"
                        "  - {name: a, address: 10.231.0.2}\n"),
            "INVALID_ARGUMENT: broken.yaml:4:6: hosts[1].name: duplicate host 'a' (already "
            "listed at line 3)");
  EXPECT_EQ(first_error("profile: demo\nhosts:\n  - {name: a, address: node-a.example}\n"),
            "INVALID_ARGUMENT: broken.yaml:3:15: hosts[0].address: must be an IPv4 or IPv6 "
            "address, got 'node-a.example'");
  EXPECT_EQ(first_error("profile: demo\nbind: 0.0.0.0\nhosts:\n  - {name: a, address: 10.0.0.1}\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: bind: cannot be combined with 'hosts:'; each "
            "instance binds its host's address");
  EXPECT_EQ(first_error("profile: demo\nplacement: [a]\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: placement: needs a 'hosts:' list to place "
            "instances on");
  EXPECT_EQ(first_error("profile: demo\nhosts: []\n"),
            "INVALID_ARGUMENT: broken.yaml:2:1: hosts: must list at least one host");
}

}  // namespace
}  // namespace nodus::kernel
