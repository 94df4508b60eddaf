// Cost of bringing plugins up: dlopen + ABI/descriptor checks + construct + configure +
// start, for one trivial plugin and for an instance of six. Every iteration ends with the
// last handle released, so the next dlopen maps the library again (no warm refcount).
//
//   build/release/bin/plugin_load_benchmark --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one command line)
#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <string>

#include "kernel/loader/plugin_loader.h"
#include "nodus/harness/test_node.h"

namespace {

const std::filesystem::path kDir = NODUS_BENCH_PLUGIN_DIR;

std::filesystem::path plugin(int i) {
  return kDir / ("libnodus_bench_p" + std::to_string(i) + ".so");
}

// Open and check only: dlopen, entry point, ABI header, descriptor validation.
void BM_OpenPlugin(benchmark::State& state) {
  nodus::kernel::PluginLoader loader({kDir});
  for (auto _ : state) {
    auto loaded = loader.open(plugin(0));
    if (!loaded.ok()) state.SkipWithError(loaded.status().message().c_str());
    benchmark::DoNotOptimize(loaded);
  }
}
BENCHMARK(BM_OpenPlugin)->Unit(benchmark::kMicrosecond);

// The whole path for N plugins: open + descriptor + construct + configure + start, ready.
void BM_InstanceReady(benchmark::State& state) {
  const int plugins = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto node = std::make_unique<nodus::testing::TestNode>();
    for (int i = 0; i < plugins; ++i)
      (void)node->add_plugin(plugin(i), "greeting: hi");
    nodus::Status st = node->start();
    if (!st.ok() || !node->ready()) state.SkipWithError(st.message().c_str());
    state.PauseTiming();  // teardown (stop + dlclose) is not part of "ready"
    (void)node->stop();
    node.reset();
    state.ResumeTiming();
  }
  state.counters["plugins"] = plugins;
}
BENCHMARK(BM_InstanceReady)->Arg(1)->Arg(6)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
