// Datagrams between two instances on loopback (kernel/runtime/udp_datagrams), beside two plain
// UDP sockets in the same run.
//
//   build/release/bin/datagram_benchmark [round_trips=20000] [rate_per_s=100000] [seconds=3]
//
// 1. Round trip: instance A sends a 100-byte datagram, B's handler echoes it, A's handler sends
//    the next one (one outstanding). The anchor is two blocking UDP sockets doing the same with
//    a thread on each side.
// 2. Paced throughput: A's executor sends rate_per_s datagrams of 100 bytes per second (a burst
//    every millisecond) for `seconds`; B counts what its handler saw. Loss = sent - handled.
// 3. Unpaced: A sends as fast as its executor can for the same number of datagrams; the
//    figures show where the receiver starts dropping (queue full or kernel buffer).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kernel/runtime/executor.h"
#include "kernel/runtime/logger.h"
#include "kernel/runtime/metrics_registry.h"
#include "kernel/runtime/udp_datagrams.h"

namespace {

using Clock = std::chrono::steady_clock;
using nodus::Datagram;
using nodus::kernel::AsioExecutor;
using nodus::kernel::UdpDatagrams;

constexpr size_t kPayloadBytes = 100;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Instance {
  explicit Instance(const char* name, nodus::Logger& log)
      : executor(name), datagrams("127.0.0.1", {{"bench", 0}}, executor, metrics, log) {
    executor.start();
  }
  ~Instance() { executor.stop(); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;
  template <class Fn>
  void sync(Fn fn) {
    (void)executor.run_sync(fn, std::chrono::seconds(30));
  }
  std::string address() {
    std::string a;
    sync([&] { a = datagrams.local_address("bench").value(); });
    return a;
  }
  AsioExecutor executor;
  nodus::kernel::MetricsRegistry metrics;
  UdpDatagrams datagrams;
};

std::unique_ptr<nodus::kernel::ComponentLogger> make_logger() {
  nodus::kernel::LogSinkOptions o;
  o.min_level = nodus::LogLevel::kError;
  static auto sink = nodus::kernel::LogSink::create(std::move(o)).value();
  return std::make_unique<nodus::kernel::ComponentLogger>(sink, "bench", "datagram");
}

// Mean round trip in microseconds through two instances.
double nodus_round_trip_us(int round_trips) {
  auto log = make_logger();
  Instance a("bench-a", *log), b("bench-b", *log);
  std::promise<void> done;
  int left = round_trips;
  const std::string payload(kPayloadBytes, 'x');
  b.sync([&] {
    (void)b.datagrams.bind(
        "bench", [&](Datagram d) { (void)b.datagrams.send_to("bench", d.from, d.payload); });
  });
  const std::string to = b.address();
  a.sync([&] {
    (void)a.datagrams.bind("bench", [&](Datagram) {
      if (--left == 0) {
        done.set_value();
        return;
      }
      (void)a.datagrams.send_to("bench", to, payload);
    });
  });
  const auto t0 = Clock::now();
  a.sync([&] { (void)a.datagrams.send_to("bench", to, payload); });
  done.get_future().wait();
  return seconds_since(t0) * 1e6 / round_trips;
}

int udp_socket(sockaddr_in* bound) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(*bound);
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(bound), &len);
  return fd;
}

// The same closed loop on two blocking sockets, one thread each.
double raw_round_trip_us(int round_trips) {
  sockaddr_in addr_a{}, addr_b{};
  const int fa = udp_socket(&addr_a);
  const int fb = udp_socket(&addr_b);
  std::thread echo([&] {
    char buf[2048];
    for (int i = 0; i < round_trips; ++i) {
      sockaddr_in from{};
      socklen_t len = sizeof(from);
      const ssize_t n =
          ::recvfrom(fb, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
      (void)::sendto(fb, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  });
  const std::string payload(kPayloadBytes, 'x');
  char buf[2048];
  const auto t0 = Clock::now();
  for (int i = 0; i < round_trips; ++i) {
    (void)::sendto(fa, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr_b),
                   sizeof(addr_b));
    (void)::recv(fa, buf, sizeof(buf), 0);
  }
  const double us = seconds_since(t0) * 1e6 / round_trips;
  echo.join();
  ::close(fa);
  ::close(fb);
  return us;
}

// The anchor for throughput: one thread sends `total` datagrams on a plain socket as fast as
// it can, another receives them; returns datagrams received per second (and the loss).
std::pair<double, uint64_t> raw_throughput(uint64_t total) {
  sockaddr_in addr_a{}, addr_b{};
  const int fa = udp_socket(&addr_a);
  const int fb = udp_socket(&addr_b);
  const int buffer_bytes = 4 << 20;
  (void)::setsockopt(fb, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  timeval tv{0, 200000};  // the receiver stops 200 ms after the last datagram
  (void)::setsockopt(fb, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  uint64_t received = 0;
  std::thread rx([&] {
    char buf[2048];
    while (::recv(fb, buf, sizeof(buf), 0) > 0)
      ++received;
  });
  const std::string payload(kPayloadBytes, 'x');
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < total; ++i) {
    (void)::sendto(fa, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&addr_b),
                   sizeof(addr_b));
  }
  rx.join();
  const double secs = seconds_since(t0) - 0.2;
  ::close(fa);
  ::close(fb);
  return {static_cast<double>(received) / secs, total - received};
}

struct Throughput {
  uint64_t sent = 0;
  uint64_t handled = 0;
  uint64_t dropped_queue_full = 0;
  uint64_t send_refused = 0;
  double send_seconds = 0;
  double handled_per_s = 0;
};

// A sends `total` datagrams, `per_tick` every `tick` (tick 0: as fast as possible, in tasks of
// 1,000 so other work interleaves); B counts.
Throughput run_throughput(uint64_t total, uint64_t per_tick, std::chrono::microseconds tick) {
  auto log = make_logger();
  Instance a("bench-a", *log), b("bench-b", *log);
  std::atomic<uint64_t> handled{0};
  b.sync([&] {
    (void)b.datagrams.bind("bench", [&](Datagram) { handled.fetch_add(1); },
                           {.receive_queue_max = 65536});
  });
  a.sync([&] { (void)a.datagrams.bind("bench", [](Datagram) {}); });
  const std::string to = b.address();
  const std::string payload(kPayloadBytes, 'x');
  Throughput out;
  std::promise<void> sent_all;
  const auto t0 = Clock::now();
  auto tick_fn = std::make_shared<std::function<void()>>();
  *tick_fn = [&, tick_fn_weak = std::weak_ptr<std::function<void()>>(tick_fn)] {
    for (uint64_t i = 0; i < per_tick && out.sent + out.send_refused < total; ++i) {
      if (a.datagrams.send_to("bench", to, payload).ok()) {
        ++out.sent;
      } else {
        ++out.send_refused;
      }
    }
    if (out.sent + out.send_refused >= total) {
      out.send_seconds = seconds_since(t0);
      sent_all.set_value();
      return;
    }
    auto self = tick_fn_weak.lock();
    if (tick.count() == 0) {
      a.executor.post([self] { (*self)(); });
    } else {
      // Paced: the next burst at its due time, so the average rate holds even if one is late.
      const auto due = t0 + tick * static_cast<int64_t>((out.sent + out.send_refused) / per_tick);
      const auto delay = std::max<Clock::duration>(due - Clock::now(), Clock::duration::zero());
      a.executor.schedule_after(delay, [self] { (*self)(); });
    }
  };
  a.executor.post([tick_fn] { (*tick_fn)(); });
  sent_all.get_future().wait();
  // Let the receiver finish what reached it (it stops growing for 200 ms).
  uint64_t last = 0;
  do {
    last = handled.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (handled.load() != last);
  const double total_seconds = seconds_since(t0) - 0.2;
  out.handled = handled.load();
  b.sync([&] { out.dropped_queue_full = b.datagrams.stats("bench").value().dropped_queue_full; });
  out.handled_per_s = static_cast<double>(out.handled) / total_seconds;
  return out;
}

void print_throughput(const char* what, const Throughput& t) {
  std::printf(
      "%s: sent %llu in %.2f s (%.0f/s), handled %llu (%.0f/s), lost %llu (%.3f%%; queue full "
      "%llu), sends refused %llu\n",
      what, static_cast<unsigned long long>(t.sent), t.send_seconds,
      static_cast<double>(t.sent) / t.send_seconds, static_cast<unsigned long long>(t.handled),
      t.handled_per_s, static_cast<unsigned long long>(t.sent - t.handled),
      t.sent == 0 ? 0.0
                  : 100.0 * static_cast<double>(t.sent - t.handled) / static_cast<double>(t.sent),
      static_cast<unsigned long long>(t.dropped_queue_full),
      static_cast<unsigned long long>(t.send_refused));
}

}  // namespace

int main(int argc, char** argv) {
  const int round_trips = argc > 1 ? std::atoi(argv[1]) : 20000;
  const uint64_t rate = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100000;
  const uint64_t secs = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 3;

  const double raw_us = raw_round_trip_us(round_trips);
  const double nodus_us = nodus_round_trip_us(round_trips);
  std::printf(
      "round trip, %zu-byte datagrams, %d round trips: nodus %.1f us, plain UDP %.1f us, "
      "ratio %.2f\n",
      kPayloadBytes, round_trips, nodus_us, raw_us, nodus_us / raw_us);

  const uint64_t total = rate * secs;
  const auto [raw_rate, raw_lost] = raw_throughput(total);
  std::printf("plain UDP, one sending thread: %llu datagrams, received %.0f/s, lost %llu\n",
              static_cast<unsigned long long>(total), raw_rate,
              static_cast<unsigned long long>(raw_lost));
  print_throughput("paced", run_throughput(total, rate / 1000, std::chrono::microseconds(1000)));
  print_throughput("unpaced", run_throughput(total, 1000, std::chrono::microseconds(0)));
  return 0;
}
