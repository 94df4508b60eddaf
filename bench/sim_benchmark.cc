// sim_benchmark: how many simulated messages per second of real time the simulation harness
// moves. Nodes forward every message they receive to the next node, keeping `in_flight`
// messages circulating; link latency is random, so the event queue really sorts.
//
//   build/release/bin/sim_benchmark [messages=2000000] [nodes=5] [in_flight=1000] [drop=0]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "nodus/harness/sim_cluster.h"

int main(int argc, char** argv) {
  using namespace nodus::testing;
  const uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  const uint32_t nodes = argc > 2 ? static_cast<uint32_t>(std::atoi(argv[2])) : 5;
  const int in_flight = argc > 3 ? std::atoi(argv[3]) : 1000;
  const double drop = argc > 4 ? std::atof(argv[4]) : 0.0;

  SimOptions options;
  options.seed = 1;
  options.nodes = nodes;
  options.capture_logs = false;
  options.network.drop = drop;
  SimCluster sim(options);
  if (!sim.start().ok()) return 1;
  uint64_t received = 0;
  for (SimNodeId i = 0; i < nodes; ++i) {
    auto& t = sim.network().transport(i);
    const SimNodeId next = (i + 1) % nodes;
    (void)t.on_message("m", [&t, next, &received](nodus::PeerId, std::string payload) {
      ++received;
      (void)t.send(next, "m", std::move(payload));
    });
  }
  const std::string payload(100, 'x');
  for (int k = 0; k < in_flight; ++k)
    (void)sim.network()
        .transport(static_cast<SimNodeId>(k) % nodes)
        .send((static_cast<SimNodeId>(k) + 1) % nodes, "m", payload);

  const auto start = std::chrono::steady_clock::now();
  while (received < messages) {
    if (!sim.run_for(std::chrono::milliseconds(100))) return 1;
    if (sim.world().pending() == 0) break;  // everything dropped
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "sim_benchmark nodes=%u in_flight=%d drop=%.2f: %llu messages in %.3f s = %.2f M "
      "simulated messages/s (%llu events, %.1f simulated seconds)\n",
      nodes, in_flight, drop, static_cast<unsigned long long>(received), secs,
      static_cast<double>(received) / secs / 1e6, static_cast<unsigned long long>(sim.events_run()),
      std::chrono::duration<double>(sim.now().time_since_epoch()).count());
  return 0;
}
