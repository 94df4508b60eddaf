// Loader and composition tests against real shared objects, good and deliberately broken
// (built from tests/plugins/test_plugin.cc; see tests/CMakeLists.txt).
#include "kernel/loader/plugin_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "kernel/loader/sha256.h"
#include "kernel/runtime/temp_dir_for_test.h"
#include "nodus/harness/sim_cluster.h"
#include "nodus/harness/test_node.h"

namespace nodus::kernel {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kRoot = NODUS_TEST_PLUGIN_ROOT;

fs::path plugin(const std::string& dir, const std::string& variant) {
  return kRoot / dir / ("libnodus_test_" + variant + ".so");
}

// Opens `variant` from its own directory and returns the error (or OK).
Status open_error(const std::string& dir, const std::string& variant) {
  PluginLoader loader({kRoot / dir});
  auto loaded = loader.open(plugin(dir, variant));
  return loaded.ok() ? Status() : loaded.status();
}

// Runs a TestNode with the given plugin files and returns the first error of start().
Status start_error(const std::vector<fs::path>& files, const std::string& config = "") {
  nodus::testing::TestNode node;
  for (const auto& f : files)
    EXPECT_TRUE(node.add_plugin(f, config).ok());
  return node.start();
}

// Goal: semantic versions are recognised as semver.org defines them.
TEST(Loader, SemverRules) {
  for (const char* good :
       {"0.1.0", "1.2.3", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-2+b.7", "2.0.0+build.5"}) {
    EXPECT_TRUE(is_semver(good)) << good;
  }
  for (const char* bad : {"", "1", "1.0", "1.0.0.0", "01.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b",
                          "v1.0.0", "1.0.x", "1.0.0-ü"}) {
    EXPECT_FALSE(is_semver(bad)) << bad;
  }
}

// Goal: plugin names must be reverse-DNS with at least three labels.
TEST(Loader, ReverseDnsNameRules) {
  EXPECT_TRUE(is_reverse_dns_name("io.nodus.consensus.raft"));
  EXPECT_TRUE(is_reverse_dns_name("io.example.hello-2"));
  for (const char* bad : {"", "io.nodus", "Io.nodus.x", "io..nodus.x", "io.nodus.x.", ".io.x.y",
                          "io.nodus.x_y", "io nodus x"}) {
    EXPECT_FALSE(is_reverse_dns_name(bad)) << bad;
  }
}

// Goal: a good plugin's descriptor is read without constructing anything.
TEST(Loader, OpensGoodPluginAndReadsDescriptor) {
  PluginLoader loader({kRoot / "good"});
  auto loaded = loader.open(plugin("good", "good"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->name(), "io.nodus.test.good");
  EXPECT_EQ(loaded->descriptor->version, "1.0.0");
  EXPECT_THAT(loaded->descriptor->provides, ElementsAre("nodus.test.greeter/v1"));
  EXPECT_EQ(loaded->descriptor->config.size(), 2u);
}

// Goal: a text file named .so is refused as "not a shared object", naming the file.
TEST(BrokenPlugin, NotASharedObject) {
  Status st = open_error("not_elf", "text");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(),
              AllOf(HasSubstr("libnodus_test_text.so"), HasSubstr("not a shared object")));
}

// Goal: a shared object without NODUS_PLUGIN() is refused for its missing entry point.
TEST(BrokenPlugin, MissingEntryPoint) {
  Status st = open_error("no_entry", "no_entry");
  EXPECT_THAT(st.message(),
              AllOf(HasSubstr("libnodus_test_no_entry.so"), HasSubstr("no nodus entry point")));
}

// Goal: an ABI version other than the kernel's is refused before any C++ type is touched.
TEST(BrokenPlugin, AbiVersionMismatch) {
  Status st = open_error("abi_version", "abi_version");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_abi_version.so"),
                                  HasSubstr("ABI mismatch: plugin has ABI version 42")));
}

// Goal: a plugin built with another compiler/stdlib/SDK (fingerprint) is refused.
TEST(BrokenPlugin, AbiFingerprintMismatch) {
  Status st = open_error("abi_fingerprint", "abi_fingerprint");
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(),
              AllOf(HasSubstr("libnodus_test_abi_fingerprint.so"),
                    HasSubstr("ABI mismatch: plugin fingerprint"), HasSubstr("gcc-4")));
}

// Goal: two files providing the same plugin name make a request for it fail, naming both.
TEST(BrokenPlugin, DuplicateName) {
  PluginLoader loader({kRoot / "dup"});
  auto resolved = loader.resolve({{"io.nodus.test.dup", "", ""}});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(resolved.status().message(),
              AllOf(HasSubstr("duplicate plugin name io.nodus.test.dup"),
                    HasSubstr("libnodus_test_dup_a.so"), HasSubstr("libnodus_test_dup_b.so")));
}

// Goal: one plugin name in two directories is no error: the directory searched first wins
// (a profile's plugin_dirs before the built-in one), by name and by file, in either order.
TEST(Loader, EarlierDirectoryShadowsSameName) {
  TempDir tmp;
  const fs::path a = tmp.path() / "a";
  const fs::path b = tmp.path() / "b";
  fs::create_directories(a);
  fs::create_directories(b);
  fs::copy_file(plugin("dup", "dup_a"), a / "libnodus_test_dup.so");
  fs::copy_file(plugin("dup", "dup_b"), b / "libnodus_test_dup.so");
  for (const auto& [first, second] : {std::pair{a, b}, std::pair{b, a}}) {
    PluginLoader loader({first, second});
    const fs::path want = fs::canonical(first / "libnodus_test_dup.so");
    auto by_name = loader.resolve({{"io.nodus.test.dup", "", ""}});
    ASSERT_TRUE(by_name.ok()) << by_name.status().to_string();
    EXPECT_EQ(by_name->front().file, want);
    auto by_file = loader.resolve({{"io.nodus.test.dup", "libnodus_test_dup.so", ""}});
    ASSERT_TRUE(by_file.ok()) << by_file.status().to_string();
    EXPECT_EQ(by_file->front().file, want);
  }
}

// Goal: a directory named twice is searched once, so its plugins do not look duplicated.
TEST(Loader, DirectoryNamedTwiceIsSearchedOnce) {
  PluginLoader loader({kRoot / "good", kRoot / "dup" / ".." / "good"});
  EXPECT_EQ(loader.plugin_dirs().size(), 1u);
  auto resolved = loader.resolve({{"io.nodus.test.good", "", ""}});
  EXPECT_TRUE(resolved.ok()) << resolved.status().to_string();
}

// Goal: a required capability nobody provides fails composition, naming the file.
TEST(BrokenPlugin, MissingRequiredCapability) {
  Status st = start_error({plugin("missing_cap", "missing_cap")});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_missing_cap.so"),
                                  HasSubstr("requires capability 'nodus.test.absent/v1'")));
}

// Goal: two plugins that require each other are a dependency cycle, naming both files.
TEST(BrokenPlugin, DependencyCycle) {
  Status st = start_error({plugin("cycle", "cycle_a"), plugin("cycle", "cycle_b")});
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(st.message(),
              AllOf(StartsWith("dependency cycle: "), HasSubstr("libnodus_test_cycle_a.so"),
                    HasSubstr("libnodus_test_cycle_b.so")));
}

// Goal: a plugin rejecting its config yields FILE:LINE:COL: path: message, naming the plugin.
TEST(BrokenPlugin, ConfigRejectedByPlugin) {
  Status st = start_error({plugin("reject_config", "reject_config")}, "greeting: hi\n");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(),
              AllOf(StartsWith("test-config[0]:1:1: "), HasSubstr("rejects every config")));
}

// Goal: a value the plugin's own validation refuses is reported at that key's position.
TEST(BrokenPlugin, ConfigValueRejectedAtItsKey) {
  Status st = start_error({plugin("good", "good")}, "greeting: hi\nlimit: -3\n");
  EXPECT_EQ(st.message(), "test-config[0]:2:1: limit: must not be negative");
}

// Goal: an undeclared config key is refused before the plugin's code runs.
TEST(BrokenPlugin, UnknownConfigKey) {
  Status st = start_error({plugin("good", "good")}, "greting: hi\n");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), AllOf(StartsWith("test-config[0]:1:1: greting: unknown key"),
                                  HasSubstr("did you mean 'greeting'")));
}

// Goal: start() returning an error fails the node and names the plugin file.
TEST(BrokenPlugin, StartFails) {
  Status st = start_error({plugin("start_fails", "start_fails")});
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_start_fails.so"),
                                  HasSubstr("start() failed: backing service is down")));
}

// Goal: an exception thrown by start() is contained and reported, never propagated.
TEST(BrokenPlugin, StartThrows) {
  Status st = start_error({plugin("start_throws", "start_throws")});
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_start_throws.so"),
                                  HasSubstr("start() threw: start exploded")));
}

// Goal: an exception thrown by the factory is contained and reported.
TEST(BrokenPlugin, FactoryThrows) {
  Status st = start_error({plugin("factory_throws", "factory_throws")});
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_factory_throws.so"),
                                  HasSubstr("factory threw: factory exploded")));
}

// Goal: an exception thrown by configure() is contained and reported.
TEST(BrokenPlugin, ConfigureThrows) {
  Status st = start_error({plugin("configure_throws", "configure_throws")});
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_configure_throws.so"),
                                  HasSubstr("configure() threw: configure exploded")));
}

// Goal: an exception while building the descriptor is caught inside the plugin and reported.
TEST(BrokenPlugin, DescriptorThrows) {
  Status st = open_error("describe_throws", "describe_throws");
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_describe_throws.so"),
                                  HasSubstr("building the plugin descriptor failed: "
                                            "describe exploded")));
}

// Goal: a name that is not reverse-DNS is refused.
TEST(BrokenPlugin, BadName) {
  Status st = open_error("bad_name", "bad_name");
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_bad_name.so"),
                                  HasSubstr("'NotReverseDns' is not a reverse-DNS name")));
}

// Goal: a version that is not semantic versioning is refused.
TEST(BrokenPlugin, BadVersion) {
  Status st = open_error("bad_version", "bad_version");
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_bad_version.so"),
                                  HasSubstr("version '1.0' is not a semantic version")));
}

// Goal: a descriptor without a factory is refused.
TEST(BrokenPlugin, NoFactory) {
  Status st = open_error("no_factory", "no_factory");
  EXPECT_THAT(st.message(), HasSubstr("descriptor has no factory"));
}

// Goal: a status outside the enum (neither stable nor experimental) is refused, naming the file.
TEST(BrokenPlugin, BadStatus) {
  Status st = open_error("bad_status", "bad_status");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_bad_status.so"),
                                  HasSubstr("status 7 is neither stable nor experimental")));
}

// Goal: a plugin that does not set a status is experimental, and the status is read as set.
TEST(PluginStatus, DefaultIsExperimental) {
  nodus::PluginDescriptor d;
  EXPECT_EQ(d.status, nodus::PluginStatus::kExperimental);
  EXPECT_EQ(nodus::plugin_status_name(nodus::PluginStatus::kStable), "stable");
  EXPECT_EQ(nodus::plugin_status_name(nodus::PluginStatus::kExperimental), "experimental");
}

// Goal: unresolved symbols fail at load time (RTLD_NOW) with the dynamic linker's reason.
TEST(BrokenPlugin, UnresolvedSymbol) {
  Status st = open_error("unresolved", "unresolved");
  EXPECT_THAT(st.message(), AllOf(HasSubstr("libnodus_test_unresolved.so"),
                                  HasSubstr("cannot load shared object"),
                                  HasSubstr("nodus_test_symbol_that_does_not_exist")));
}

// Goal: a file outside the configured plugin directories is never loaded.
TEST(BrokenPlugin, OutsidePluginDirectories) {
  PluginLoader loader({kRoot / "good"});
  auto loaded = loader.open(plugin("start_fails", "start_fails"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("refusing to load a plugin from outside the plugin directories"));
}

// Goal: a SHA-256 pin that does not match the file refuses the plugin; a matching one loads.
TEST(BrokenPlugin, Sha256PinMismatch) {
  PluginLoader loader({kRoot / "good"});
  auto bad = loader.resolve({{"io.nodus.test.good", "", std::string(64, '0')}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(bad.status().message(),
              AllOf(HasSubstr("libnodus_test_good.so"), HasSubstr("SHA-256 mismatch")));
  auto digest = sha256_file(plugin("good", "good"));
  ASSERT_TRUE(digest.ok());
  auto good = loader.resolve({{"io.nodus.test.good", "", *digest}});
  EXPECT_TRUE(good.ok()) << good.status().to_string();
}

// A private plugin directory with copies of test plugins, and the marker plugin's file.
class PinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    dir_ = tmp_.path() / "plugins";
    fs::create_directories(dir_);
    marker_ = tmp_.path() / "marker.txt";
    ::setenv("NODUS_TEST_MARKER_FILE", marker_.c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("NODUS_TEST_MARKER_FILE");
    set_pin_check_hook_for_test(nullptr);
  }
  // Copies test plugin `variant` (from its directory `from`) into the private directory.
  fs::path copy(const std::string& from, const std::string& variant, std::string as = "") {
    if (as.empty()) as = "libnodus_test_" + variant + ".so";
    const fs::path to = dir_ / as;
    fs::copy_file(plugin(from, variant), to, fs::copy_options::overwrite_existing);
    return to;
  }
  // The pids that ran the marker plugin's static constructor.
  std::vector<pid_t> marker_pids() const {
    std::ifstream in(marker_);
    std::vector<pid_t> pids;
    for (pid_t pid = 0; in >> pid;)
      pids.push_back(pid);
    return pids;
  }
  bool marker_ran_here() const {
    const auto pids = marker_pids();
    return std::find(pids.begin(), pids.end(), ::getpid()) != pids.end();
  }

  TempDir tmp_;
  fs::path dir_;
  fs::path marker_;
};

// Goal: a pin that does not match refuses the file before any of its code runs anywhere.
TEST_F(PinTest, MismatchedPinRunsNoPluginCode) {
  copy("marker", "marker");
  PluginLoader loader({dir_});
  auto r =
      loader.resolve({{"io.nodus.test.marker", "libnodus_test_marker.so", std::string(64, 'a')}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(),
              AllOf(HasSubstr("libnodus_test_marker.so"), HasSubstr("SHA-256 mismatch")));
  EXPECT_FALSE(fs::exists(marker_)) << "the plugin's static constructor ran";
}

// Goal: found by name (a directory scan), a pinned plugin whose pin does not match never runs
// code in this process; neither do the other files of the directory.
TEST_F(PinTest, ScanRunsNoPluginCodeInTheKernelProcess) {
  copy("marker", "marker");
  copy("good", "good");
  PluginLoader loader({dir_});
  auto bad = loader.resolve({{"io.nodus.test.marker", "", std::string(64, 'a')}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(bad.status().message(), HasSubstr("SHA-256 mismatch"));
  EXPECT_FALSE(marker_ran_here());
  // Another plugin found by name in the same directory: the marker file is read, not loaded.
  auto good = loader.resolve({{"io.nodus.test.good", "", ""}});
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  EXPECT_FALSE(marker_ran_here());
  EXPECT_FALSE(marker_pids().empty()) << "the scan did not read the marker plugin at all";
}

// Goal: the file that was hashed is the file that is loaded: swapping in another file after
// the pin check cannot get that other file loaded.
TEST_F(PinTest, FileSwappedAfterThePinCheckIsNotLoaded) {
  const auto good_digest = sha256_file(plugin("good", "good"));
  ASSERT_TRUE(good_digest.ok());
  const PluginRequest request{"io.nodus.test.good", "libnodus_test_good.so", *good_digest};
  PluginLoader loader({dir_});
  // The pinned file is in place when checked; the marker plugin replaces it right after.
  const fs::path target = copy("good", "good");
  set_pin_check_hook_for_test([&](const fs::path&) {
    const fs::path other = copy("marker", "marker", "swap.tmp");
    fs::rename(other, target);
  });
  auto swapped_in = loader.resolve({request});
  ASSERT_TRUE(swapped_in.ok()) << swapped_in.status().to_string();
  EXPECT_EQ(swapped_in->front().name(), "io.nodus.test.good");
  EXPECT_FALSE(fs::exists(marker_)) << "the file swapped in was loaded";
  // The other way round: an unpinned file is in place when checked, the pinned one after.
  copy("marker", "marker", "libnodus_test_good.so");
  set_pin_check_hook_for_test([&](const fs::path&) {
    const fs::path other = copy("good", "good", "swap.tmp");
    fs::rename(other, target);
  });
  auto swapped_out = loader.resolve({request});
  EXPECT_FALSE(swapped_out.ok());
  EXPECT_FALSE(fs::exists(marker_)) << "the file that failed its pin was loaded";
}

// Goal: a plugin file that others could rewrite (group- or world-writable) is refused.
TEST_F(PinTest, WritableByOthersIsRefused) {
  const fs::path file = copy("good", "good");
  ASSERT_EQ(::chmod(file.c_str(), 0666), 0);
  PluginLoader loader({dir_});
  auto r = loader.resolve({{"io.nodus.test.good", "libnodus_test_good.so", ""}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(r.status().message(),
              AllOf(HasSubstr("libnodus_test_good.so"), HasSubstr("group- or world-writable")));
}

// Goal: a symbolic link as the plugin file itself is not followed at open time.
TEST_F(PinTest, SymlinkOutsideTheDirectoryIsRefused) {
  fs::create_symlink(plugin("good", "good"), dir_ / "libnodus_test_good.so");
  PluginLoader loader({dir_});
  auto r = loader.resolve({{"io.nodus.test.good", "libnodus_test_good.so", ""}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
}

// Goal: a name that no plugin directory provides is NOT_FOUND, listing the directories.
TEST(BrokenPlugin, UnknownPluginName) {
  PluginLoader loader({kRoot / "good"});
  auto resolved = loader.resolve({{"io.nodus.test.nobody", "", ""}});
  ASSERT_FALSE(resolved.ok());
  EXPECT_EQ(resolved.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(resolved.status().message(),
              AllOf(HasSubstr("io.nodus.test.nobody not found"), HasSubstr("test-plugins/good")));
}

// Goal: scanning a directory reports broken files without failing the good ones.
TEST(Loader, ScanReportsProblemsAndKeepsGoodPlugins) {
  PluginLoader loader({kRoot / "good", kRoot / "not_elf"});
  ScanResult scan = loader.scan();
  ASSERT_EQ(scan.plugins.size(), 2u);
  EXPECT_EQ(scan.plugins[0].name(), "io.nodus.test.good");
  EXPECT_EQ(scan.plugins[1].name(), "io.nodus.test.user");
  ASSERT_EQ(scan.problems.size(), 1u);
  EXPECT_THAT(scan.problems[0].status.message(), HasSubstr("not a shared object"));
}

// Goal: plugins start after the providers they require and stop in reverse order, and a
// dependent finds its provider's capability object.
TEST(Composition, StartsInDependencyOrderAndStopsInReverse) {
  nodus::testing::TestNode node;
  std::vector<std::string> events;
  node.events().subscribe("test.lifecycle",
                          [&](std::string_view, const std::string& e) { events.push_back(e); });
  // The dependent is listed first; the host must still start its provider first.
  ASSERT_TRUE(node.add_plugin(plugin("good", "user")).ok());
  ASSERT_TRUE(node.add_plugin(plugin("good", "good"), "greeting: bonjour").ok());
  ASSERT_TRUE(node.start().ok());
  EXPECT_TRUE(node.ready());
  EXPECT_EQ(node.role(), "tester");
  EXPECT_TRUE(node.logs().contains("io.nodus.test.user: found greeter says=bonjour"));
  EXPECT_EQ(node.metric_value("nodus_test_starts_total"), 2);
  ASSERT_TRUE(node.stop().ok());
  EXPECT_THAT(events, ElementsAre("io.nodus.test.good:configure", "io.nodus.test.user:configure",
                                  "io.nodus.test.good:start", "io.nodus.test.user:start",
                                  "io.nodus.test.user:stop", "io.nodus.test.good:stop"));
}

// Goal: a consumer built against another revision of a capability header does not get the
// provider's object (its vtable would not match): find<>() is nullptr and need<>() fails the
// consumer's start with one line naming the capability and both revisions.
TEST(Composition, CapabilityOfAnotherRevisionIsNotHandedOut) {
  nodus::testing::TestNode node;
  ASSERT_TRUE(node.add_plugin(plugin("revision", "user_rev2")).ok());
  ASSERT_TRUE(node.add_plugin(plugin("good", "good")).ok());
  Status st = node.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.to_string();
  EXPECT_THAT(st.message(), HasSubstr("io.nodus.test.user-rev2"));
  EXPECT_THAT(st.message(), HasSubstr("capability nodus.test.greeter/v1: the provider was built "
                                      "against revision 1 of its header and this plugin against "
                                      "revision 2"));
  EXPECT_EQ(st.message().find('\n'), std::string::npos) << st.message();
}

// Goal: when a later plugin fails to start, the ones already started are stopped again.
TEST(Composition, FailedStartUnwindsStartedPlugins) {
  nodus::testing::TestNode node;
  std::vector<std::string> events;
  node.events().subscribe("test.lifecycle",
                          [&](std::string_view, const std::string& e) { events.push_back(e); });
  ASSERT_TRUE(node.add_plugin(plugin("good", "good")).ok());
  ASSERT_TRUE(node.add_plugin(plugin("start_fails", "start_fails")).ok());
  EXPECT_FALSE(node.start().ok());
  EXPECT_FALSE(node.ready());
  EXPECT_THAT(events, ElementsAre("io.nodus.test.good:configure",
                                  "io.nodus.test.start-fails:configure", "io.nodus.test.good:start",
                                  "io.nodus.test.start-fails:start", "io.nodus.test.good:stop"));
}

// Goal: the library handle outlives the plugin object: objects are destroyed, then the handle
// is released, with no crash when the last handle goes (checked under ASan in CI).
TEST(Composition, LibraryOutlivesPluginObjects) {
  std::weak_ptr<boost::dll::shared_library> weak;
  {
    PluginLoader loader({kRoot / "good"});
    auto loaded = loader.open(plugin("good", "good"));
    ASSERT_TRUE(loaded.ok());
    weak = loaded->library;
    nodus::testing::TestNode node;
    ASSERT_TRUE(node.add_plugin(plugin("good", "good")).ok());
    ASSERT_TRUE(node.start().ok());
    EXPECT_FALSE(weak.expired());
  }
  EXPECT_TRUE(weak.expired());
}

// Goal: a plugin stays mapped after its last handle is released, so loading it again does not
// run its static initialisers a second time (a plugin's generated protobuf code registers its
// .proto in a process-wide pool at load; a second registration aborts the process).
TEST(Composition, PluginIsNeverUnloaded) {
  const fs::path file = plugin("good", "good");
  {
    PluginLoader loader({kRoot / "good"});
    auto loaded = loader.open(file);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  }
  void* still = ::dlopen(file.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(still, nullptr) << file << " was unloaded after its last handle went";
  if (still != nullptr) ::dlclose(still);
}

// HTTP client (nodus/services/http_client.h)
// Goal: a plugin's ctx.http_client() is the TestNode's fake: a scripted answer reaches the
// plugin's callback on the executor, and the request is recorded with its URL.
TEST(Composition, PluginHttpClientIsTheTestNodeFake) {
  nodus::testing::TestNode node;
  node.http_client("io.nodus.test.http")
      .on("GET", "http://10.9.9.9:8080/health", nodus::HttpClientResponse{200, {}, "ok"});
  ASSERT_TRUE(node.add_plugin(plugin("http", "http")).ok());
  ASSERT_TRUE(node.start().ok());
  node.executor().run_until_idle();
  EXPECT_EQ(node.metric_value("nodus_test_http_callbacks_total"), 1);
  EXPECT_TRUE(node.logs().contains("io.nodus.test.http: http outcome=200 ok"));
  ASSERT_EQ(node.http_client("io.nodus.test.http").requests().size(), 1u);
}

// Goal: a request still in flight when its plugin stops never calls back, even past its
// deadline (plugin code does not run after stop()).
TEST(Composition, PluginHttpRequestsEndWithStop) {
  nodus::testing::TestNode node;
  ASSERT_TRUE(node.add_plugin(plugin("http", "http")).ok());
  ASSERT_TRUE(node.start().ok());
  ASSERT_EQ(node.http_client("io.nodus.test.http").in_flight(), 1u);
  ASSERT_TRUE(node.stop().ok());
  node.executor().advance(std::chrono::seconds(5));
  EXPECT_EQ(node.metric_value("nodus_test_http_callbacks_total"), -1);  // never created
  EXPECT_EQ(node.http_client("io.nodus.test.http").in_flight(), 0u);
}

// Goal: once a plugin's stop() returned, nothing it handed its context runs again: a message
// queued before the stop or sent after it, a call to its method, the answer to its own call,
// its periodic timer, an event it subscribed to, and a task its stop() posted.
TEST(Composition, CallbacksEndWithStop) {
  nodus::testing::TestNode node({.instances = 2});
  ASSERT_TRUE(node.add_plugin(plugin("callbacks", "callbacks")).ok());
  ASSERT_TRUE(node.start().ok());
  ASSERT_TRUE(node.transport().deliver(1, "test.ping", "a").ok());
  auto reply = node.transport().invoke(1, "test.echo", "b");
  ASSERT_TRUE(reply.has_value() && reply->ok());
  node.events().publish("test.poke", "c");
  node.executor().advance(std::chrono::milliseconds(100));
  ASSERT_EQ(node.metric_value("nodus_test_message_runs_total"), 1);
  ASSERT_EQ(node.metric_value("nodus_test_call_runs_total"), 1);
  ASSERT_EQ(node.metric_value("nodus_test_event_runs_total"), 1);
  ASSERT_EQ(node.metric_value("nodus_test_timer_runs_total"), 1);
  ASSERT_EQ(node.transport().calls().size(), 1u);

  ASSERT_TRUE(node.transport().deliver(1, "test.ping", "queued before stop").ok());
  ASSERT_TRUE(node.stop().ok());
  ASSERT_TRUE(node.transport().deliver(1, "test.ping", "after stop").ok());
  node.transport().complete_call(0, std::string("late answer"));
  node.events().publish("test.poke", "d");
  reply = node.transport().invoke(1, "test.echo", "e");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), StatusCode::kUnavailable);
  node.executor().advance(std::chrono::seconds(10));  // 100 periods of the timer
  EXPECT_EQ(node.metric_value("nodus_test_message_runs_total"), 1);
  EXPECT_EQ(node.metric_value("nodus_test_call_runs_total"), 1);
  EXPECT_EQ(node.metric_value("nodus_test_event_runs_total"), 1);
  EXPECT_EQ(node.metric_value("nodus_test_timer_runs_total"), 1);
  EXPECT_EQ(node.metric_value("nodus_test_answer_runs_total"), -1);  // never created
  EXPECT_EQ(node.metric_value("nodus_test_post_runs_total"), -1);
}

// Goal: a plugin whose start() fails after registering handlers, a call and a timer gets none
// of them run: the kernel ends them as it does at stop().
TEST(Composition, CallbacksEndWithFailedStart) {
  nodus::testing::TestNode node({.instances = 2});
  ASSERT_TRUE(node.add_plugin(plugin("callbacks_fail", "callbacks_fail")).ok());
  ASSERT_FALSE(node.start().ok());
  ASSERT_TRUE(node.transport().has_handler("test.echo"));  // it did register
  ASSERT_TRUE(node.transport().deliver(1, "test.ping", "x").ok());
  node.transport().complete_call(0, std::string("answer"));
  node.events().publish("test.poke", "y");
  auto reply = node.transport().invoke(1, "test.echo", "z");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status().code(), StatusCode::kUnavailable);
  node.executor().advance(std::chrono::seconds(10));
  for (const char* kind : {"message", "call", "answer", "event", "timer", "post"}) {
    EXPECT_EQ(node.metric_value(std::string("nodus_test_") + kind + "_runs_total"), -1) << kind;
  }
}

// Goal: in SimCluster a plugin's request crosses the simulated network to an endpoint
// registered by address, and a partition from the outside ends it at its deadline.
TEST(Composition, SimClusterHttpClientReachesRegisteredEndpoint) {
  nodus::testing::SimOptions options;
  options.seed = 3;
  options.nodes = 2;
  nodus::testing::SimCluster sim(options);
  ASSERT_TRUE(sim.http_endpoints()
                  .add("10.9.9.9:8080", nodus::testing::kWorldNode,
                       [](const nodus::HttpClientRequest& r, nodus::testing::SimHttpReply reply) {
                         reply(nodus::HttpClientResponse{200, {}, "up " + r.target});
                       })
                  .ok());
  sim.http_endpoints().cut_from_external.insert(1);
  ASSERT_TRUE(sim.add_plugin(plugin("http", "http")).ok());
  ASSERT_TRUE(sim.start().ok());
  sim.run_for(std::chrono::seconds(2));
  EXPECT_EQ(sim.metric_value(0, "nodus_test_http_callbacks_total"), 1);
  EXPECT_TRUE(sim.logs(0).contains("io.nodus.test.http: http outcome=200 up /health"));
  EXPECT_EQ(sim.metric_value(1, "nodus_test_http_callbacks_total"), 1);
  EXPECT_TRUE(sim.logs(1).contains("io.nodus.test.http: http outcome=DEADLINE_EXCEEDED"));
}

// Processes (nodus/services/processes.h)
// Goal: under TestNode a plugin's ctx.processes() is the fake: its start is recorded, and the
// plugin's stop shuts down what still runs (no callback after it).
TEST(Composition, TestNodeGivesPluginsFakeProcesses) {
  nodus::testing::TestNode node;
  ASSERT_TRUE(node.add_plugin(plugin("process", "process")).ok());
  ASSERT_TRUE(node.start().ok());
  nodus::testing::FakeProcesses& procs = node.processes("io.nodus.test.process");
  ASSERT_EQ(procs.starts().size(), 1u);
  EXPECT_EQ(procs.starts()[0].spec.name, "sleeper");
  EXPECT_EQ(procs.starts()[0].spec.argv, (std::vector<std::string>{"sleep", "300"}));
  ASSERT_TRUE(node.stop().ok());
  EXPECT_EQ(procs.stopped_at_shutdown(), std::vector<ProcessId>{procs.starts()[0].id});
  EXPECT_TRUE(procs.list().empty());
}

}  // namespace
}  // namespace nodus::kernel
