// Valid profiles: defaults, the port formula, overrides, rendering and the shipped configs.
#include "kernel/config/profile.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "kernel/config/yaml_loader.h"

namespace nodus::kernel {
namespace {

Profile parse(const std::string& text, const std::vector<ConfigOverride>& o = {},
              const std::filesystem::path& source = "conf/test.yaml") {
  auto root = load_yaml_string(text, source.string());
  EXPECT_TRUE(root.ok()) << root.status().to_string();
  if (!root.ok()) return {};
  auto p = parse_profile(*root, source, o);
  EXPECT_TRUE(p.ok()) << p.status().to_string();
  return p.ok() ? *p : Profile{};
}

// Structural equality of two trees (kinds, scalars, keys in order), ignoring positions.
bool same_tree(const ConfigNode& a, const ConfigNode& b) {
  if (a.kind() != b.kind() || a.scalar() != b.scalar()) return false;
  if (a.items().size() != b.items().size() || a.entries().size() != b.entries().size()) {
    return false;
  }
  for (size_t i = 0; i < a.items().size(); ++i) {
    if (!same_tree(a.items()[i], b.items()[i])) return false;
  }
  for (size_t i = 0; i < a.entries().size(); ++i) {
    if (a.entries()[i].first != b.entries()[i].first) return false;
    if (!same_tree(a.entries()[i].second, b.entries()[i].second)) return false;
  }
  return true;
}

// A profile with only a name gets every documented default.
TEST(ProfileTest, Defaults) {
  Profile p = parse("profile: demo\n");
  EXPECT_EQ(p.name, "demo");
  EXPECT_EQ(p.description, "");
  EXPECT_EQ(p.instances, 1u);
  EXPECT_EQ(p.bind_host, "127.0.0.1");
  EXPECT_EQ(p.ports.base, 9003);
  EXPECT_EQ(p.ports.stride, 10);
  const std::map<std::string, uint16_t> offsets = {
      {"api", 0}, {"peer", 1}, {"health", 2}, {"metrics", 3}};
  EXPECT_EQ(p.ports.offsets, offsets);
  EXPECT_EQ(p.data_dir, std::filesystem::path(".nodus/demo/data"));
  EXPECT_EQ(p.run_dir, std::filesystem::path(".nodus/demo/run"));
  EXPECT_TRUE(p.plugin_dirs.empty());
  EXPECT_EQ(p.log.level, LogLevel::kInfo);
  EXPECT_FALSE(p.log.json);
  EXPECT_TRUE(p.supervisor.is_null());
  EXPECT_EQ(p.supervisor.path(), "supervisor");
  EXPECT_TRUE(p.plugins.empty());
  EXPECT_EQ(p.source, std::filesystem::path("conf/test.yaml"));
}

// Every key is read: directories, bind, logging, plugins and their config sections.
TEST(ProfileTest, ReadsAllKeys) {
  Profile p = parse(
      "profile: full\n"
      "description: everything set\n"
      "instances: 3\n"
      "bind: '::1'\n"
      "ports: {base: 20000, stride: 8, offsets: {api: 0, gossip: 7}}\n"
      "data_dir: /var/lib/nodus\n"
      "run_dir: run\n"
      "plugin_dirs: [plugins, /opt/nodus/plugins]\n"
      "log: {level: debug, format: json}\n"
      "supervisor: {restart: always, essential: yes, crash_loop: {deaths: 3, window_s: 30}}\n"
      "plugins:\n"
      "  - name: io.nodus.diag.peerping\n"
      "    file: libnodus_diag_peerping.so\n"
      "    sha256: " +
      std::string(64, 'a') +
      "\n"
      "    config: {interval_ms: 250}\n"
      "  - name: io.nodus.metrics.prometheus\n");
  EXPECT_EQ(p.description, "everything set");
  EXPECT_EQ(p.instances, 3u);
  EXPECT_EQ(p.bind_host, "::1");
  EXPECT_EQ(p.ports.base, 20000);
  EXPECT_EQ(p.ports.offsets.size(), 2u);
  EXPECT_EQ(p.ports_for(2).at("gossip"), 20000 + 16 + 7);
  EXPECT_EQ(p.data_dir, std::filesystem::path("/var/lib/nodus"));
  EXPECT_EQ(p.run_dir, std::filesystem::path("run"));
  ASSERT_EQ(p.plugin_dirs.size(), 2u);
  EXPECT_EQ(p.plugin_dirs[0], std::filesystem::path("conf/plugins"));  // beside the profile
  EXPECT_EQ(p.plugin_dirs[1], std::filesystem::path("/opt/nodus/plugins"));
  EXPECT_EQ(p.log.level, LogLevel::kDebug);
  EXPECT_TRUE(p.log.json);
  EXPECT_EQ(*p.supervisor.get_string("restart", ""), "always");
  ASSERT_EQ(p.plugins.size(), 2u);
  EXPECT_EQ(p.plugins[0].file, "libnodus_diag_peerping.so");
  EXPECT_EQ(p.plugins[0].sha256, std::string(64, 'a'));
  EXPECT_EQ(*p.plugins[0].config.get_int("interval_ms", 0), 250);
  EXPECT_EQ(p.plugins[0].node.path(), "plugins[0]");
  EXPECT_TRUE(p.plugins[1].config.is_null());
  EXPECT_EQ(p.plugins[1].config.path(), "plugins[1].config");
  EXPECT_EQ(p.plugins[1].config.mark().to_string(), "conf/test.yaml:16:5");
}

// Instance i's port is base + i * stride + offset (instance 2 of 9003/10: api 9023, peer 9024).
TEST(ProfileTest, PortsForFormula) {
  Profile p = parse("profile: demo\ninstances: 4\nports: {base: 9003, stride: 10}\n");
  const std::map<std::string, uint16_t> expected = {
      {"api", 9023}, {"peer", 9024}, {"health", 9025}, {"metrics", 9026}};
  EXPECT_EQ(p.ports_for(2), expected);
  EXPECT_EQ(p.ports_for(0).at("api"), 9003);
  EXPECT_EQ(p.ports_for(3).at("metrics"), 9036);
}

// The last instance may end exactly at port 65535.
TEST(ProfileTest, HighestPortAllowed) {
  Profile p = parse("profile: demo\ninstances: 2\nports: {base: 65522, stride: 10}\n");
  EXPECT_EQ(p.ports_for(1).at("metrics"), 65535);
}

// Overrides beat the file, later overrides beat earlier ones, and carry their source.
TEST(ProfileTest, OverridePrecedence) {
  const std::string text = "profile: demo\ninstances: 4\nlog: {level: warn}\n";
  EXPECT_EQ(parse(text).instances, 4u);
  EXPECT_EQ(parse(text, {{"instances", "2", "NODUS_INSTANCES"}}).instances, 2u);
  Profile p = parse(text, {{"instances", "2", "NODUS_INSTANCES"},
                           {"instances", "3", "--instances"},
                           {"log.level", "debug", "--set"}});
  EXPECT_EQ(p.instances, 3u);
  EXPECT_EQ(p.log.level, LogLevel::kDebug);
  EXPECT_EQ(p.root.at("instances").mark().to_string(), "--instances");
  EXPECT_EQ(p.root.at("instances").path(), "instances");
  // Untouched keys keep their file positions.
  EXPECT_EQ(p.root.at("profile").mark().to_string(), "conf/test.yaml:1:1");
}

// Overriding a path whose parents are absent creates them; list values parse as YAML.
TEST(ProfileTest, OverrideCreatesParentsAndParsesYaml) {
  Profile p = parse("profile: demo\n", {{"supervisor.backoff_ms.max", "9000", "--set"},
                                        {"plugin_dirs", "[a, /b]", "--set"}});
  EXPECT_EQ(*p.supervisor.at("backoff_ms").get_int("max", 0), 9000);
  EXPECT_EQ(p.supervisor.at("backoff_ms").at("max").path(), "supervisor.backoff_ms.max");
  ASSERT_EQ(p.plugin_dirs.size(), 2u);
  EXPECT_EQ(p.plugin_dirs[0], std::filesystem::path("conf/a"));
  EXPECT_EQ(p.plugin_dirs[1], std::filesystem::path("/b"));
}

// A plugin's config is overridden by plugin name, choosing the longest matching name.
TEST(ProfileTest, PluginOverrideByName) {
  Profile p = parse(
      "profile: demo\n"
      "plugins:\n"
      "  - name: io.nodus.diag\n"
      "  - name: io.nodus.diag.peerping\n"
      "    config: {interval_ms: 1000, timeout_ms: 500}\n",
      {{"plugins.io.nodus.diag.peerping.config.interval_ms", "250", "--set"},
       {"plugins.io.nodus.diag.config.level", "3", "--set"}});
  ASSERT_EQ(p.plugins.size(), 2u);
  const ConfigNode interval = p.plugins[1].config.at("interval_ms");
  EXPECT_EQ(interval.scalar(), "250");
  EXPECT_EQ(interval.path(), "plugins[1].config.interval_ms");
  EXPECT_EQ(interval.mark().to_string(), "--set");
  EXPECT_EQ(p.plugins[1].config.at("timeout_ms").scalar(), "500");
  EXPECT_EQ(*p.plugins[0].config.get_int("level", 0), 3);
  EXPECT_EQ(p.plugins[0].config.path(), "plugins[0].config");
}

// NODUS_* variables map onto kernel keys in a fixed order; empty ones are ignored.
TEST(ProfileTest, OverridesFromEnv) {
  const std::map<std::string, std::string> env = {{"NODUS_LOG_LEVEL", "debug"},
                                                  {"NODUS_INSTANCES", "5"},
                                                  {"NODUS_BIND", ""},
                                                  {"NODUS_PLUGIN_DIRS", "/a:b c::/d"},
                                                  {"NODUS_UNRELATED", "x"}};
  auto o = overrides_from_env([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[0].path, "instances");
  EXPECT_EQ(o[0].source, "NODUS_INSTANCES");
  EXPECT_EQ(o[1].path, "plugin_dirs");
  EXPECT_EQ(o[1].value, "[\"/a\", \"b c\", \"/d\"]");
  EXPECT_EQ(o[2].path, "log.level");
  Profile p = parse("profile: demo\n", o);
  EXPECT_EQ(p.instances, 5u);
  EXPECT_EQ(p.plugin_dirs.at(1), std::filesystem::path("conf/b c"));
}

// --set PATH=VALUE splits at the first '='.
TEST(ProfileTest, ParseSetFlag) {
  auto o = parse_set_flag("plugins.io.nodus.diag.peerping.config.payload_bytes=a=b");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->path, "plugins.io.nodus.diag.peerping.config.payload_bytes");
  EXPECT_EQ(o->value, "a=b");
  EXPECT_EQ(o->source, "--set");
  EXPECT_EQ(parse_set_flag("novalue").status().message(),
            "--set: expected PATH=VALUE, got 'novalue'");
}

std::filesystem::path configs_dir() {
  return NODUS_CONFIGS_DIR;
}

// Every shipped profile loads and has the port layout its README promises.
TEST(ShippedProfilesTest, AllLoad) {
  for (const char* name : {"aurigraph", "ephemery", "stemedb", "arroyo"}) {
    auto p = load_profile(configs_dir() / (std::string(name) + ".yaml"));
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    EXPECT_EQ(p->name, name);
    // Every profile runs the peer diagnostics and exports Prometheus metrics.
    bool peerping = false;
    bool prometheus = false;
    for (const auto& plugin : p->plugins) {
      if (plugin.name == "io.nodus.diag.peerping") {
        peerping = true;
        EXPECT_EQ(*plugin.config.get_int("interval_ms", 0), 1000) << name;
      }
      prometheus = prometheus || plugin.name == "io.nodus.metrics.prometheus";
    }
    EXPECT_TRUE(peerping) << name;
    EXPECT_TRUE(prometheus) << name;
  }
  auto auri = load_profile(configs_dir() / "aurigraph.yaml");
  ASSERT_TRUE(auri.ok());
  EXPECT_EQ(auri->instances, 4u);
  // Isolation is listed first so that it starts before every other plugin.
  ASSERT_FALSE(auri->plugins.empty());
  EXPECT_EQ(auri->plugins[0].name, "io.nodus.isolation.linux");
  // The Aurigraph design's layout: node i serves HTTP on 9003+10i, gRPC on 9004+10i and
  // metrics on 9005+10i.
  const std::map<std::string, uint16_t> auri1 = {
      {"http", 9013}, {"grpc", 9014}, {"metrics", 9015}, {"peer", 9016}, {"health", 9017}};
  EXPECT_EQ(auri->ports_for(1), auri1);
  EXPECT_EQ(*auri->supervisor.get_string("restart", ""), "on-failure");
  auto steme = load_profile(configs_dir() / "stemedb.yaml");
  ASSERT_TRUE(steme.ok());
  EXPECT_EQ(steme->instances, 3u);
  const std::map<std::string, uint16_t> steme2 = {{"api", 18200},    {"gateway", 18201},
                                                  {"peer", 18202},   {"swim", 18203},
                                                  {"health", 18204}, {"metrics", 18205}};
  EXPECT_EQ(steme->ports_for(2), steme2);
}

// to_yaml renders a tree that reads back to the same tree and the same profile.
TEST(ShippedProfilesTest, ToYamlRoundTrip) {
  for (const char* name : {"aurigraph", "ephemery", "stemedb", "arroyo"}) {
    auto p = load_profile(configs_dir() / (std::string(name) + ".yaml"),
                          {{"description", "'a: \"quoted\" # not a comment'", "--set"}});
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    const std::string text = p->root.to_yaml();
    auto again = load_yaml_string(text, "rendered.yaml");
    ASSERT_TRUE(again.ok()) << again.status().to_string() << "\n" << text;
    EXPECT_TRUE(same_tree(p->root, *again)) << text;
    auto reparsed = parse_profile(*again, "rendered.yaml");
    ASSERT_TRUE(reparsed.ok()) << reparsed.status().to_string();
    EXPECT_EQ(reparsed->ports_for(0), p->ports_for(0));
    EXPECT_EQ(reparsed->description, "a: \"quoted\" # not a comment");
  }
}

// Goal: the tls section resolves files against the profile and rejects a partial section.
TEST(ProfileTest, TlsSection) {
  const Profile p =
      parse("profile: t\ntls: {ca_file: pki/ca.pem, cert_file: /etc/n.pem, key_file: pki/n.key}\n");
  EXPECT_TRUE(p.tls.enabled());
  EXPECT_EQ(p.tls.ca_file, std::filesystem::path("conf/pki/ca.pem"));
  EXPECT_EQ(p.tls.cert_file, std::filesystem::path("/etc/n.pem"));
  EXPECT_TRUE(p.tls.require_client_cert);
  EXPECT_FALSE(parse("profile: t\n").tls.enabled());

  auto root = load_yaml_string("profile: t\ntls: {ca_file: a.pem}\n", "x.yaml");
  ASSERT_TRUE(root.ok());
  auto bad = parse_profile(*root, "x.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cert_file"), std::string::npos)
      << bad.status().to_string();
}

// Without `hosts:` there is one implicit host at `bind:`, and ports stride on it as before.
TEST(ProfileHostsTest, ImplicitSingleHost) {
  Profile p = parse("profile: demo\ninstances: 3\nbind: 127.0.0.2\n");
  ASSERT_EQ(p.hosts.size(), 1u);
  EXPECT_FALSE(p.multi_host());
  EXPECT_EQ(p.hosts[0].name, "local");
  EXPECT_EQ(p.address_of(2), "127.0.0.2");
  EXPECT_EQ(p.ports_for(2).at("peer"), 9024);
  EXPECT_EQ(p.instances_on("local"), (std::vector<uint32_t>{0, 1, 2}));
}

// One instance per host (the stemedb layout): every host uses the same ports at its address.
TEST(ProfileHostsTest, SamePortsOnEveryHost) {
  Profile p = parse(
      "profile: demo\ninstances: 3\nports: {base: 18180}\nhosts:\n"
      "  - {name: a, address: 10.231.0.1}\n  - {name: b, address: 10.231.0.2}\n"
      "  - {name: c, address: 10.231.0.3}\n");
  EXPECT_TRUE(p.multi_host());
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.address_of(i), "10.231.0." + std::to_string(i + 1));
    EXPECT_EQ(p.ports_for(i).at("api"), 18180);
    EXPECT_EQ(p.ports_for(i).at("metrics"), 18183);
  }
  EXPECT_EQ(p.instances_on("b"), (std::vector<uint32_t>{1}));
  EXPECT_TRUE(p.instances_on("nope").empty());
}

// Without placement instances go round-robin over the hosts and stride within a host.
TEST(ProfileHostsTest, RoundRobinStridesWithinAHost) {
  Profile p = parse(
      "profile: demo\ninstances: 4\nhosts:\n"
      "  - {name: a, address: 10.231.0.1}\n  - {name: b, address: 10.231.0.2}\n");
  EXPECT_EQ(p.instances_on("a"), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(p.ports_for(0).at("api"), 9003);
  EXPECT_EQ(p.ports_for(1).at("api"), 9003);
  EXPECT_EQ(p.ports_for(2).at("api"), 9013);
  EXPECT_EQ(p.ports_for(3).at("api"), 9013);
}

// An explicit placement names each instance's host; ports stride per host in index order.
TEST(ProfileHostsTest, ExplicitPlacement) {
  Profile p = parse(
      "profile: demo\ninstances: 3\nhosts:\n"
      "  - {name: a, address: 10.231.0.1}\n  - {name: b, address: 'fd00::2'}\n"
      "placement: [b, a, b]\n");
  EXPECT_EQ(p.host_of(0).name, "b");
  EXPECT_EQ(p.address_of(1), "10.231.0.1");
  EXPECT_EQ(p.ports_for(0).at("peer"), 9004);
  EXPECT_EQ(p.ports_for(1).at("peer"), 9004);
  EXPECT_EQ(p.ports_for(2).at("peer"), 9014);
  EXPECT_EQ(p.instances_on("b"), (std::vector<uint32_t>{0, 2}));
}

}  // namespace
}  // namespace nodus::kernel
