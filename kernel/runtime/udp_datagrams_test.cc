// UdpDatagrams on real sockets (127.0.0.1, port 0): two kernels' datagram services in one
// process exchange datagrams, and every limit and misuse gives its documented answer.
#include "kernel/runtime/udp_datagrams.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kernel/runtime/executor.h"
#include "kernel/runtime/metrics_registry.h"
#include "nodus/testing/capture_logger.h"

namespace nodus::kernel {
namespace {

using std::chrono::milliseconds;

// One kernel's worth: an executor, metrics and the datagram service, with port "gossip" on 0.
struct Kernel {
  explicit Kernel(const std::string& name)
      : executor(name),
        logs(std::make_shared<testing::LogLines>()),
        logger("datagram", logs),
        datagrams("127.0.0.1", {{"gossip", 0}, {"swim", 0}}, executor, metrics, logger) {
    executor.start();
  }
  ~Kernel() { executor.stop(); }

  // Runs `fn` on the executor, where every Datagrams call belongs.
  template <class Fn>
  auto on_executor(Fn fn) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    EXPECT_TRUE(executor.run_sync([&] { task(); }, std::chrono::seconds(10)).ok());
    return result.get();
  }
  std::string address(const std::string& port) {
    return on_executor([&] { return datagrams.local_address(port).value(); });
  }
  DatagramStats stats(const std::string& port) {
    return on_executor([&] { return datagrams.stats(port).value(); });
  }

  AsioExecutor executor;
  MetricsRegistry metrics;
  std::shared_ptr<testing::LogLines> logs;
  testing::CaptureLogger logger;
  UdpDatagrams datagrams;
};

// Waits for `done` (checked every millisecond) for at most 10 s; the bound only keeps a
// broken build from hanging, the condition decides.
bool eventually(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return done();
}

// Received datagrams, filled on the executor and read through it.
struct Inbox {
  std::vector<Datagram> got;
  bool on_executor = true;
  DatagramHandler handler(AsioExecutor& exec) {
    return [this, &exec](Datagram d) {
      on_executor = on_executor && exec.in_executor();
      got.push_back(std::move(d));
    };
  }
};

// Binds "gossip" on `a` (ignoring what it receives) and on `b` (into `inbox`, with `options`);
// returns b's address, or "" when a bind failed.
std::string sender_and_receiver(Kernel& a, Kernel& b, Inbox& inbox, DatagramOptions options) {
  const Status rx =
      b.on_executor([&] { return b.datagrams.bind("gossip", inbox.handler(b.executor), options); });
  const Status tx = a.on_executor([&] { return a.datagrams.bind("gossip", [](Datagram) {}); });
  EXPECT_TRUE(rx.ok() && tx.ok()) << rx.to_string() << " " << tx.to_string();
  return rx.ok() && tx.ok() ? b.address("gossip") : "";
}

size_t count(Kernel& k, Inbox& inbox) {
  return k.on_executor([&] { return inbox.got.size(); });
}

// Goal: two kernels exchange datagrams on real sockets; the handler runs on the receiver's
// executor and sees the sender's real address; counters and metrics follow.
TEST(UdpDatagrams, TwoKernelsExchangeDatagrams) {
  Kernel a("dg-a"), b("dg-b");
  Inbox inbox_a, inbox_b;
  ASSERT_TRUE(
      a.on_executor([&] { return a.datagrams.bind("gossip", inbox_a.handler(a.executor)); }).ok());
  ASSERT_TRUE(b.on_executor([&] {
                 return b.datagrams.bind("gossip", [&](Datagram d) {
                   inbox_b.handler(b.executor)(d);
                   (void)b.datagrams.send_to("gossip", d.from, "echo:" + d.payload);
                 });
               }).ok());
  const std::string addr_a = a.address("gossip");
  const std::string addr_b = b.address("gossip");
  EXPECT_NE(addr_a.find("127.0.0.1:"), std::string::npos);
  EXPECT_NE(addr_a, "127.0.0.1:0");
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(a.on_executor([&] {
                   return a.datagrams.send_to("gossip", addr_b, "ping" + std::to_string(i));
                 }).ok());
  }
  ASSERT_TRUE(eventually([&] { return count(a, inbox_a) == 10; }));
  a.on_executor([&] {
    EXPECT_EQ(inbox_a.got[0].from, addr_b);
    EXPECT_EQ(inbox_a.got[0].payload.rfind("echo:ping", 0), 0u);
    return 0;
  });
  b.on_executor([&] {
    EXPECT_EQ(inbox_b.got.size(), 10u);
    EXPECT_EQ(inbox_b.got[0].from, addr_a);
    return 0;
  });
  EXPECT_TRUE(inbox_a.on_executor && inbox_b.on_executor);
  const DatagramStats sa = a.stats("gossip");
  const DatagramStats sb = b.stats("gossip");
  EXPECT_EQ(sa.sent, 10u);
  EXPECT_EQ(sa.received, 10u);
  EXPECT_EQ(sb.sent, 10u);
  EXPECT_EQ(sb.received, 10u);
  bool exported = false;
  for (const auto& family : b.metrics.collect()) {
    if (family.name != "nodus_datagram_received_total") continue;
    for (const auto& s : family.samples) {
      exported = exported || (s.value == 10 && s.labels == MetricLabels{{"port", "gossip"}});
    }
  }
  EXPECT_TRUE(exported) << "nodus_datagram_received_total{port=\"gossip\"} 10";
}

// Goal: misuse is refused with the documented code and a message naming the port.
TEST(UdpDatagrams, MisuseNamesThePort) {
  Kernel k("dg-misuse");
  Inbox inbox;
  auto handler = inbox.handler(k.executor);
  k.on_executor([&] {
    Status unknown = k.datagrams.bind("nope", handler);
    EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
    EXPECT_NE(unknown.message().find("'nope'"), std::string::npos) << unknown.message();
    EXPECT_NE(unknown.message().find("gossip, swim"), std::string::npos) << unknown.message();

    EXPECT_TRUE(k.datagrams.bind("gossip", handler).ok());
    Status twice = k.datagrams.bind("gossip", handler);
    EXPECT_EQ(twice.code(), StatusCode::kAlreadyExists);
    EXPECT_NE(twice.message().find("'gossip'"), std::string::npos) << twice.message();

    EXPECT_EQ(k.datagrams.bind("swim", handler, {.max_datagram_bytes = 0}).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(
        k.datagrams.bind("swim", handler, {.max_datagram_bytes = kDatagramBytesMax + 1}).code(),
        StatusCode::kInvalidArgument);
    EXPECT_EQ(k.datagrams.bind("swim", handler, {.receive_queue_max = 0}).code(),
              StatusCode::kInvalidArgument);

    Status unbound = k.datagrams.send_to("swim", "127.0.0.1:9", "x");
    EXPECT_EQ(unbound.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(unbound.message().find("'swim'"), std::string::npos);

    Status name = k.datagrams.send_to("gossip", "example.com:9", "x");
    EXPECT_EQ(name.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(name.message().find("not an IP address"), std::string::npos) << name.message();
    EXPECT_EQ(k.datagrams.send_to("gossip", "127.0.0.1", "x").code(), StatusCode::kInvalidArgument);

    Status big = k.datagrams.send_to("gossip", "127.0.0.1:9", std::string(1401, 'x'));
    EXPECT_EQ(big.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(big.message().find("1401 bytes exceeds the limit of 1400 bytes"), std::string::npos)
        << big.message();
    EXPECT_TRUE(k.datagrams.send_to("gossip", "127.0.0.1:9", std::string(1400, 'x')).ok());

    EXPECT_EQ(k.datagrams.close("swim").code(), StatusCode::kFailedPrecondition);
    return 0;
  });
}

// Goal: close() frees the port at once (a restarted plugin rebinds it) and ends delivery.
TEST(UdpDatagrams, CloseFreesThePort) {
  Kernel k("dg-close");
  Inbox inbox;
  k.on_executor([&] {
    EXPECT_TRUE(k.datagrams.bind("gossip", inbox.handler(k.executor)).ok());
    EXPECT_TRUE(k.datagrams.close("gossip").ok());
    EXPECT_TRUE(k.datagrams.bind("gossip", inbox.handler(k.executor)).ok());
    return 0;
  });
  // A second kernel with a fixed port taken by the first cannot bind it.
  const std::string taken = k.address("gossip");
  const auto port = static_cast<uint16_t>(std::stoi(taken.substr(taken.rfind(':') + 1)));
  AsioExecutor exec("dg-close-2");
  exec.start();
  MetricsRegistry metrics;
  testing::CaptureLogger logger("datagram", std::make_shared<testing::LogLines>());
  UdpDatagrams other("127.0.0.1", {{"gossip", port}}, exec, metrics, logger);
  Status st;
  ASSERT_TRUE(
      exec.run_sync([&] { st = other.bind("gossip", [](Datagram) {}); }, std::chrono::seconds(5))
          .ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find(taken), std::string::npos) << st.message();
  exec.stop();
}

// Goal: a received datagram over the binding's limit is dropped and counted, never handled.
TEST(UdpDatagrams, OversizeReceivedIsDroppedAndCounted) {
  Kernel a("dg-big-a"), b("dg-big-b");
  Inbox inbox;
  const std::string to = sender_and_receiver(a, b, inbox, {.max_datagram_bytes = 100});
  ASSERT_FALSE(to.empty());
  a.on_executor([&] {
    EXPECT_TRUE(a.datagrams.send_to("gossip", to, std::string(101, 'x')).ok());
    EXPECT_TRUE(a.datagrams.send_to("gossip", to, std::string(100, 'y')).ok());
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return b.stats("gossip").received == 1; }));
  EXPECT_EQ(b.stats("gossip").dropped_oversize, 1u);
  b.on_executor([&] {
    EXPECT_EQ(inbox.got.size(), 1u);
    EXPECT_EQ(inbox.got[0].payload, std::string(100, 'y'));
    return 0;
  });
}

// Goal: while the executor is busy, the receive queue holds at most receive_queue_max
// datagrams and counts the rest as dropped; the executor then handles exactly those.
TEST(UdpDatagrams, FullReceiveQueueDropsAndCounts) {
  Kernel a("dg-q-a"), b("dg-q-b");
  Inbox inbox;
  const std::string to = sender_and_receiver(a, b, inbox, {.receive_queue_max = 4});
  ASSERT_FALSE(to.empty());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  b.executor.post([released] { released.wait(); });  // b's executor is stuck until released
  a.on_executor([&] {
    for (int i = 0; i < 50; ++i)
      EXPECT_TRUE(a.datagrams.send_to("gossip", to, std::to_string(i)).ok());
    return 0;
  });
  const auto dropped = [&] {
    for (const auto& family : b.metrics.collect()) {
      if (family.name != "nodus_datagram_dropped_total") continue;
      for (const auto& s : family.samples) {
        if (s.labels == MetricLabels{{"port", "gossip"}, {"reason", "queue_full"}}) return s.value;
      }
    }
    return -1.0;
  };
  ASSERT_TRUE(eventually([&] { return dropped() == 46; })) << dropped();
  release.set_value();
  ASSERT_TRUE(eventually([&] { return b.stats("gossip").received == 4; }));
  b.on_executor([&] {
    EXPECT_EQ(inbox.got.size(), 4u);
    if (inbox.got.size() == 4) {
      EXPECT_EQ(inbox.got[0].payload, "0");
      EXPECT_EQ(inbox.got[3].payload, "3");
    }
    return 0;
  });
  EXPECT_EQ(b.stats("gossip").dropped_queue_full, 46u);
}

// Goal: a handler that throws is reported and later datagrams are still handled.
TEST(UdpDatagrams, ThrowingHandlerDoesNotStopDelivery) {
  Kernel a("dg-thr-a"), b("dg-thr-b");
  int handled = 0;
  ASSERT_TRUE(b.on_executor([&] {
                 return b.datagrams.bind("gossip", [&](Datagram d) {
                   ++handled;
                   if (d.payload == "boom") throw std::runtime_error("boom");
                 });
               }).ok());
  ASSERT_TRUE(a.on_executor([&] { return a.datagrams.bind("gossip", [](Datagram) {}); }).ok());
  const std::string to = b.address("gossip");
  a.on_executor([&] {
    EXPECT_TRUE(a.datagrams.send_to("gossip", to, "boom").ok());
    EXPECT_TRUE(a.datagrams.send_to("gossip", to, "fine").ok());
    return 0;
  });
  ASSERT_TRUE(eventually([&] { return b.on_executor([&] { return handled; }) == 2; }));
  EXPECT_TRUE(b.logs->contains("handler threw: boom"));
}

}  // namespace
}  // namespace nodus::kernel
