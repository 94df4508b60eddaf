// A tiny plugin whose behaviour is chosen at compile time, so that the loader and host tests
// load real shared objects, including deliberately broken ones. See CMakeLists.txt for the
// variants. Every lifecycle call is published on the event bus as "test.lifecycle" with the
// payload "<name>:<call>", so tests can check the order across plugins.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "nodus/nodus.h"
#include "nodus/services/http_client.h"
#include "nodus/services/processes.h"

#ifndef TEST_PLUGIN_NAME
#define TEST_PLUGIN_NAME "io.nodus.test.good"
#endif
#ifndef TEST_PLUGIN_VERSION
#define TEST_PLUGIN_VERSION "1.0.0"
#endif
#ifndef TEST_PLUGIN_PROVIDES
#define TEST_PLUGIN_PROVIDES ""
#endif
#ifndef TEST_PLUGIN_REQUIRES
#define TEST_PLUGIN_REQUIRES ""
#endif

namespace {

#ifdef TEST_PLUGIN_MARKER
// Runs when the library is loaded, before any entry point: appends this process's pid to
// $NODUS_TEST_MARKER_FILE, so a test can tell whether (and in which process) the loader ran
// the plugin's code.
[[maybe_unused]] const bool kMarkerWritten = [] {
  const char* file = std::getenv("NODUS_TEST_MARKER_FILE");
  if (file != nullptr) std::ofstream(file, std::ios::app) << ::getpid() << "\n";
  return true;
}();
#endif

#ifndef TEST_PLUGIN_GREETER_REVISION
#define TEST_PLUGIN_GREETER_REVISION 1
#endif

// The capability interface this test plugin can provide. A variant built with another
// TEST_PLUGIN_GREETER_REVISION stands for a plugin built against another revision of it.
struct Greeter {
  static constexpr const char* kCapability = "nodus.test.greeter/v1";
  static constexpr uint32_t kRevision = TEST_PLUGIN_GREETER_REVISION;
  virtual ~Greeter() = default;
  virtual std::string greet() const = 0;
};

class TestPlugin final : public nodus::Plugin, public Greeter {
 public:
  explicit TestPlugin(nodus::PluginContext& ctx) : ctx_(ctx) {
#ifdef TEST_PLUGIN_FACTORY_THROWS
    throw std::runtime_error("factory exploded");
#endif
  }

  nodus::Status configure(const nodus::ConfigNode& config) override {
    note("configure");
#ifdef TEST_PLUGIN_CONFIGURE_THROWS
    throw std::logic_error("configure exploded");
#endif
    NODUS_ASSIGN_OR_RETURN(greeting_, config.get_string("greeting", "hello"));
    NODUS_ASSIGN_OR_RETURN(limit_, config.get_int("limit", 10));
    if (limit_ < 0) return config.at("limit").error("must not be negative");
#ifdef TEST_PLUGIN_REJECT_CONFIG
    return config.error("this plugin rejects every config");
#endif
    return {};
  }

  nodus::Status start() override {
    note("start");
#ifdef TEST_PLUGIN_CALLBACKS
    // Everything that calls back later, each counting its runs in its own counter
    // (nodus_test_<kind>_runs_total): none of them may run once stop() returned or start()
    // failed, although nothing here guards against that itself.
    NODUS_RETURN_IF_ERROR(ctx_.transport().on_message(
        "test.ping", [this](nodus::PeerId, std::string) { count("message"); }));
    NODUS_RETURN_IF_ERROR(ctx_.transport().on_call(
        "test.echo", [this](nodus::PeerId, std::string request, nodus::CallReply reply) {
          count("call");
          reply(std::move(request));
        }));
    ctx_.transport().call(1, "test.remote", "q", std::chrono::seconds(60),
                          [this](const nodus::Result<std::string>&) { count("answer"); });
    ctx_.events().subscribe("test.poke",
                            [this](std::string_view, const std::string&) { count("event"); });
    tick();
#endif
#ifdef TEST_PLUGIN_START_THROWS
    throw std::runtime_error("start exploded");
#endif
#ifdef TEST_PLUGIN_START_FAILS
    return nodus::unavailable("backing service is down");
#endif
#ifdef TEST_PLUGIN_NEED_GREETER
    // A consumer that cannot work without the capability: need<>() says why it is missing.
    NODUS_RETURN_IF_ERROR(ctx_.need<Greeter>().status());
#endif
#ifdef TEST_PLUGIN_START_REFUSES
    // What a plugin says of stored state that cannot work with this profile: only the running
    // instance sees it, so no check before the start can.
    return nodus::failed_precondition("stored state was written by another cluster");
#endif
    if (auto* other = ctx_.find<Greeter>(); other != nullptr && other != this) {
      ctx_.logger().info("found greeter", {{"says", other->greet()}});
    }
    ctx_.metrics().counter("nodus_test_starts_total", "Times start() ran").inc();
    ctx_.set_role("tester");
#ifdef TEST_PLUGIN_PROCESS
    // A program started through the kernel; its pid goes to $NODUS_TEST_PROCESS_PID_FILE so
    // that a test can watch it outlive (or not) this instance.
    nodus::ProcessSpec spec;
    spec.name = "sleeper";
    spec.argv = {"sleep", "300"};
    spec.stop_grace = std::chrono::milliseconds(2000);
    NODUS_ASSIGN_OR_RETURN(sleeper_,
                           ctx_.processes().start(spec, [this](const nodus::ProcessExit& e) {
                             ctx_.events().publish("test.process", e.describe());
                           }));
    if (const char* file = std::getenv("NODUS_TEST_PROCESS_PID_FILE"); file != nullptr) {
      std::ofstream(std::string(file) + ".tmp") << ctx_.processes().info(sleeper_)->pid << "\n";
      std::rename((std::string(file) + ".tmp").c_str(), file);
    }
#endif
#ifdef TEST_PLUGIN_BUSY_MS
    // Keeps the executor busy with back-to-back CPU-bound tasks: slow, but making progress.
    ctx_.executor().post([this] { spin(); });
#endif
#ifdef TEST_PLUGIN_HANG_EXECUTOR
    // Once ready, the executor runs a task that never returns: a truly hung instance.
    ctx_.executor().schedule_after(std::chrono::milliseconds(500), [] {
      while (true)
        std::this_thread::sleep_for(std::chrono::seconds(1));
    });
#endif
#ifdef TEST_PLUGIN_HTTP_URL
    // One request through the kernel's HTTP client; the callback counts and logs its outcome.
    nodus::HttpClientRequest request;
    request.url = TEST_PLUGIN_HTTP_URL;
    request.timeout = std::chrono::seconds(1);
    ctx_.http_client().request(
        std::move(request), [this](nodus::Result<nodus::HttpClientResponse> r) {
          ctx_.metrics().counter("nodus_test_http_callbacks_total", "HTTP callbacks").inc();
          ctx_.logger().info(
              "http",
              {{ "outcome",
                 r.ok() ? std::to_string(r->status) + " " + r->body : r.status().to_string() }});
        });
#endif
    return {};
  }

  nodus::Status stop() override {
    note("stop");
#ifdef TEST_PLUGIN_CALLBACKS
    // Queued now, so it would run after stop() returned.
    ctx_.executor().post([this] { count("post"); });
#endif
#ifdef TEST_PLUGIN_STOP_HANGS
    // A plugin that never returns from stop(): the kernel must bound the stop anyway.
    std::this_thread::sleep_for(std::chrono::seconds(60));
#endif
    return {};
  }

  nodus::CapabilityRef provide(std::string_view capability) override {
    if (capability == std::string_view(Greeter::kCapability)) return nodus::offer<Greeter>(this);
    return {};
  }

  std::string greet() const override {
    return greeting_;
  }

 private:
#ifdef TEST_PLUGIN_BUSY_MS
  void spin() {
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(TEST_PLUGIN_BUSY_MS);
    volatile uint64_t sink = 0;
    while (std::chrono::steady_clock::now() < until)
      sink = sink + 1;
    ctx_.executor().post([this] { spin(); });
  }
#endif

#ifdef TEST_PLUGIN_CALLBACKS
  // A periodic timer: every 100 ms, rescheduled by itself.
  void tick() {
    ctx_.executor().schedule_after(std::chrono::milliseconds(100), [this] {
      count("timer");
      tick();
    });
  }
  void count(const std::string& kind) {
    ctx_.metrics().counter("nodus_test_" + kind + "_runs_total", "Runs of one callback").inc();
  }
#endif

  void note(const char* what) {
    ctx_.events().publish("test.lifecycle", std::string(TEST_PLUGIN_NAME) + ":" + what);
  }

  nodus::PluginContext& ctx_;
#ifdef TEST_PLUGIN_PROCESS
  nodus::ProcessId sleeper_ = 0;
#endif
  std::string greeting_;
  int64_t limit_ = 0;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

[[maybe_unused]] nodus::PluginDescriptor describe() {
#ifdef TEST_PLUGIN_DESCRIBE_THROWS
  throw std::runtime_error("describe exploded");
#endif
  nodus::PluginDescriptor d;
  d.name = TEST_PLUGIN_NAME;
  d.version = TEST_PLUGIN_VERSION;
  d.category = "test";
  d.description = "Test plugin " TEST_PLUGIN_NAME;
  d.provides = split(TEST_PLUGIN_PROVIDES);
  d.needs = split(TEST_PLUGIN_REQUIRES);
  d.config = {
      {"greeting", nodus::ConfigType::kString, false, "hello", "What greet() returns"},
      {"limit", nodus::ConfigType::kInteger, false, "10", "A number that must not be negative"},
  };
#ifdef TEST_PLUGIN_REQUIRED_KEY
  d.config.push_back({"endpoint", nodus::ConfigType::kString, true, "", "Where to connect"});
#endif
#ifdef TEST_PLUGIN_BAD_STATUS
  // What a descriptor holds when its author casts an arbitrary number to the enum.
  d.status = static_cast<nodus::PluginStatus>(7);
#endif
#ifndef TEST_PLUGIN_NO_FACTORY
  d.factory = [](nodus::PluginContext& ctx) { return std::make_unique<TestPlugin>(ctx); };
#endif
  return d;
}

}  // namespace

#if defined(TEST_PLUGIN_BAD_ABI_VERSION) || defined(TEST_PLUGIN_BAD_FINGERPRINT)
// Hand-made header that claims another ABI, as a plugin built against another SDK would.
namespace {
const nodus::PluginAbiHeader* entry() {
#ifdef TEST_PLUGIN_BAD_ABI_VERSION
  static const nodus::PluginAbiHeader header{nodus::kPluginMagic, nodus::kAbiVersion + 41,
                                             nodus::abi_fingerprint(), nullptr, nullptr};
#else
  static const nodus::PluginAbiHeader header{nodus::kPluginMagic, nodus::kAbiVersion,
                                             "nodus-abi/1;gcc-4;libstdc++-4;sdk=0000", nullptr,
                                             nullptr};
#endif
  return &header;
}
}  // namespace
BOOST_DLL_ALIAS(entry, nodus_plugin_entry)
#elif defined(TEST_PLUGIN_UNRESOLVED_SYMBOL)
extern "C" int nodus_test_symbol_that_does_not_exist();
namespace {
nodus::PluginDescriptor describe_unresolved() {
  nodus::PluginDescriptor d = describe();
  d.description += std::to_string(nodus_test_symbol_that_does_not_exist());
  return d;
}
}  // namespace
NODUS_PLUGIN(describe_unresolved)
#elif !defined(TEST_PLUGIN_NO_ENTRY)
NODUS_PLUGIN(describe)
#else
// Built without NODUS_PLUGIN(): a shared object with no entry point.
extern "C" __attribute__((visibility("default"))) int nodus_test_not_a_plugin() {
  return static_cast<int>(describe().name.size());
}
#endif
