// Metrics benchmarks: the time to render /metrics at 1K, 10K and 100K series (the kernel's
// own text renderer, and the prometheus-cpp path of io.nodus.metrics.prometheus), and the
// hot-path counter increment, each beside prometheus-cpp's own as the anchor.
//
//   build/release/bin/metrics_benchmark --benchmark_repetitions=5
//     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <string>

#include "family_convert.h"
#include "kernel/runtime/metrics_registry.h"

namespace {

constexpr int kSeriesPerFamily = 100;

// `series` counters in families of 100, told apart by a `peer` label, as a plugin with many
// peers would register them.
std::unique_ptr<nodus::kernel::MetricsRegistry> make_registry(int64_t series) {
  auto registry = std::make_unique<nodus::kernel::MetricsRegistry>();
  for (int64_t i = 0; i < series; ++i) {
    const std::string family = "nodus_bench_f" + std::to_string(i / kSeriesPerFamily) + "_total";
    registry->counter(family, "Benchmark series", {{"peer", std::to_string(i % kSeriesPerFamily)}})
        .inc(static_cast<double>(i));
  }
  return registry;
}

void BM_RenderKernelText(benchmark::State& state) {
  auto registry = make_registry(state.range(0));
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text =
        nodus::kernel::render_prometheus_text(registry->collect(), {{"instance", "0"}});
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderKernelText)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond);

// What one scrape of io.nodus.metrics.prometheus costs: collect, convert, serialise.
void BM_RenderPrometheusCpp(benchmark::State& state) {
  auto registry = make_registry(state.range(0));
  const prometheus::TextSerializer serializer;
  size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = serializer.Serialize(
        nodus::metrics::to_prometheus(registry->collect(), {{"instance", "0"}}));
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderPrometheusCpp)
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond);

void BM_CounterInc(benchmark::State& state) {
  nodus::kernel::MetricsRegistry registry;
  nodus::Counter& c = registry.counter("nodus_bench_hits_total", "Hits");
  for (auto _ : state)
    c.inc();
  benchmark::DoNotOptimize(c.value());
}
BENCHMARK(BM_CounterInc);

// Anchor: prometheus-cpp's counter, the same operation in the reference client.
void BM_PrometheusCppCounterInc(benchmark::State& state) {
  prometheus::Registry registry;
  prometheus::Counter& c =
      prometheus::BuildCounter().Name("bench_hits_total").Help("Hits").Register(registry).Add({});
  for (auto _ : state)
    c.Increment();
  benchmark::DoNotOptimize(c.Value());
}
BENCHMARK(BM_PrometheusCppCounterInc);

// Contended: both cores incrementing one counter (a hot path shared by threads).
void BM_CounterIncTwoThreads(benchmark::State& state) {
  static nodus::Counter shared;
  for (auto _ : state)
    shared.inc();
}
BENCHMARK(BM_CounterIncTwoThreads)->Threads(2);

}  // namespace

BENCHMARK_MAIN();
