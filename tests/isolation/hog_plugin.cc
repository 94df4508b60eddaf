// io.nodus.test.hog: a test-only plugin that misbehaves on purpose, so that isolation can be
// seen to hold. After start it allocates and touches `alloc_mib` MiB, 1 MiB per millisecond,
// and keeps `spin_threads` threads busy until stop. It owns threads, which only a test plugin
// may do.
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "nodus/plugin.h"

namespace {

class Hog final : public nodus::Plugin {
 public:
  explicit Hog(nodus::PluginContext& ctx) : ctx_(ctx) {}
  ~Hog() override { (void)stop(); }
  Hog(const Hog&) = delete;
  Hog& operator=(const Hog&) = delete;

  nodus::Status configure(const nodus::ConfigNode& config) override {
    NODUS_ASSIGN_OR_RETURN(alloc_mib_, config.get_int("alloc_mib", 0));
    NODUS_ASSIGN_OR_RETURN(spin_threads_, config.get_int("spin_threads", 0));
    if (spin_threads_ < 0 || spin_threads_ > 64) return config.at("spin_threads").error("0..64");
    return {};
  }

  nodus::Status start() override {
    for (int64_t i = 0; i < spin_threads_; ++i) {
      threads_.emplace_back([this] {
        volatile uint64_t x = 0;
        while (!stop_.load(std::memory_order_relaxed))
          x = x + 1;
      });
    }
    if (alloc_mib_ > 0) {
      threads_.emplace_back([this] {
        for (int64_t i = 0; i < alloc_mib_ && !stop_.load(); ++i) {
          auto block = std::make_unique<char[]>(1 << 20);
          std::memset(block.get(), 1, 1 << 20);  // touch every page so it is charged
          blocks_.push_back(std::move(block));
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
      });
    }
    ctx_.logger().info("hog started");
    return {};
  }

  nodus::Status stop() override {
    stop_.store(true);
    for (auto& t : threads_)
      t.join();
    threads_.clear();
    blocks_.clear();
    return {};
  }

 private:
  nodus::PluginContext& ctx_;
  int64_t alloc_mib_ = 0;
  int64_t spin_threads_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<char[]>> blocks_;
};

nodus::PluginDescriptor describe_hog() {
  nodus::PluginDescriptor d;
  d.name = "io.nodus.test.hog";
  d.version = "0.1.0";
  d.category = "test";
  d.description = "Allocates memory and spins threads on purpose (isolation tests)";
  d.config = {{"alloc_mib", nodus::ConfigType::kInteger, false, "0", "MiB to allocate"},
              {"spin_threads", nodus::ConfigType::kInteger, false, "0", "Busy threads"}};
  d.factory = [](nodus::PluginContext& ctx) -> std::unique_ptr<nodus::Plugin> {
    return std::make_unique<Hog>(ctx);
  };
  return d;
}

}  // namespace

NODUS_PLUGIN(describe_hog)
