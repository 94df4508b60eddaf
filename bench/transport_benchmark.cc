// Throughput of the gRPC peer transport between two instances on loopback, beside a raw TCP
// stream carrying the same bytes in the same run.
//
//   build/release/bin/transport_benchmark [messages=500000] [payload_bytes=100]
//
// One-way messages go from transport A to transport B on one channel; the clock stops when B's
// handler has seen the last one. send() pushes back with RESOURCE_EXHAUSTED when A's bounded
// queue is full; the sender then yields and retries, so the figure includes backpressure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernel/runtime/executor.h"
#include "kernel/runtime/logger.h"
#include "kernel/runtime/metrics_registry.h"
#include "kernel/transport/grpc_transport.h"

namespace {

using Clock = std::chrono::steady_clock;
using nodus::kernel::AsioExecutor;
using nodus::kernel::GrpcTransport;
using nodus::kernel::GrpcTransportOptions;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Messages per second through the gRPC transport.
double grpc_rate(size_t messages, size_t payload_bytes) {
  nodus::kernel::LogSinkOptions log_options;
  log_options.min_level = nodus::LogLevel::kError;
  auto sink = nodus::kernel::LogSink::create(std::move(log_options)).value();
  nodus::kernel::ComponentLogger log(sink, "bench", "transport");
  nodus::kernel::MetricsRegistry metrics_a;
  nodus::kernel::MetricsRegistry metrics_b;
  AsioExecutor exec_a("bench-a");
  AsioExecutor exec_b("bench-b");
  exec_a.start();
  exec_b.start();
  GrpcTransportOptions ob;
  ob.self = 1;
  ob.listen_address = "127.0.0.1:0";
  GrpcTransport b(ob, exec_b, metrics_b, log);
  std::atomic<size_t> received{0};
  (void)b.on_message("bench", [&](nodus::PeerId, std::string) { received.fetch_add(1); });
  if (!b.start().ok()) return 0;
  GrpcTransportOptions oa;
  oa.self = 0;
  oa.listen_address = "127.0.0.1:0";
  oa.peers = {{1, "127.0.0.1:" + std::to_string(b.bound_port())}};
  GrpcTransport a(oa, exec_a, metrics_a, log);
  if (!a.start().ok()) return 0;
  // b accepts messages only from peers it knows (the transport checks each sender).
  if (!b.set_peers({{0, "127.0.0.1:" + std::to_string(a.bound_port())}}).ok()) return 0;
  const std::string payload(payload_bytes, 'x');
  // Warm the stream up so that connection set-up is not measured.
  while (!a.send(1, "bench", payload).ok())
    std::this_thread::yield();
  while (received.load() < 1)
    std::this_thread::yield();
  const size_t target = received.load() + messages;
  const auto start = Clock::now();
  for (size_t i = 0; i < messages;) {
    if (a.send(1, "bench", payload).ok()) {
      ++i;
    } else {
      std::this_thread::yield();  // queue full: backpressure
    }
  }
  while (received.load() < target)
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  const double rate = static_cast<double>(messages) / seconds_since(start);
  a.stop();
  b.stop();
  exec_a.stop();
  exec_b.stop();
  return rate;
}

// Bytes per second of one raw TCP stream over loopback, written in 64 KiB chunks.
double raw_tcp_bytes_per_s(size_t total_bytes) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(listener);
    return 0;
  }
  std::thread reader([&] {
    const int fd = accept(listener, nullptr, nullptr);
    std::vector<char> buf(1 << 16);
    size_t got = 0;
    while (got < total_bytes) {
      const ssize_t n = read(fd, buf.data(), buf.size());
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    close(fd);
  });
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    reader.join();
    close(listener);
    return 0;
  }
  const std::vector<char> chunk(1 << 16, 'x');
  const auto start = Clock::now();
  size_t sent = 0;
  while (sent < total_bytes) {
    const ssize_t n = write(fd, chunk.data(), std::min(chunk.size(), total_bytes - sent));
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  close(fd);
  reader.join();
  const double rate = static_cast<double>(sent) / seconds_since(start);
  close(listener);
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 500000;
  const size_t payload = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100;
  std::printf("gRPC transport, %zu one-way messages of %zu bytes, A -> B on 127.0.0.1\n", messages,
              payload);
  for (int run = 1; run <= 3; ++run) {
    const double grpc = grpc_rate(messages, payload);
    const double tcp = raw_tcp_bytes_per_s(messages * payload * 20);
    const double grpc_bytes = grpc * static_cast<double>(payload);
    std::printf(
        "run %d: grpc %.0f msg/s = %.1f MB/s | raw tcp %.1f MB/s (%.1f Gbit/s) | grpc/tcp %.4f\n",
        run, grpc, grpc_bytes / 1e6, tcp / 1e6, tcp * 8 / 1e9, tcp > 0 ? grpc_bytes / tcp : 0.0);
  }
  return 0;
}
