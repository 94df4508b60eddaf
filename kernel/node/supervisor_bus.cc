#include "kernel/node/supervisor_bus.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <zmq.hpp>

#include "nodus/v1/control.pb.h"

namespace nodus::kernel {

namespace {
// Heartbeats queued while the supervisor is not reading; older news is worthless anyway.
constexpr int kSendQueueMax = 8;

using SteadyClock = std::chrono::steady_clock;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch())
      .count();
}

// When the probe task in flight was posted (steady-clock ns), 0 when none is in flight.
// Shared with the probe task, which may run (or be dropped) after the bus is gone.
struct Probe {
  std::atomic<int64_t> posted_ns{0};
};
}  // namespace

struct SupervisorBus::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  uint32_t index = 0;

  std::mutex mu;  // guards everything below, and the socket (ZeroMQ sockets are not thread-safe)
  std::condition_variable wake;
  bool ready = false;
  std::string role;
  uint64_t seq = 0;
  uint64_t sent = 0;
  uint64_t dropped = 0;
  bool stopping = false;
  std::thread thread;
  std::shared_ptr<Probe> probe = std::make_shared<Probe>();

  // One heartbeat with the current state; mu held.
  void send_locked() {
    const int64_t posted = probe->posted_ns.load(std::memory_order_acquire);
    const int64_t lag_ns = posted == 0 ? 0 : std::max<int64_t>(0, now_ns() - posted);
    nodus::v1::Heartbeat hb;
    hb.set_index(index);
    hb.set_pid(::getpid());
    hb.set_ready(ready);
    hb.set_role(role);
    hb.set_seq(++seq);
    hb.set_executor_lag_ms(static_cast<uint64_t>(lag_ns / 1'000'000));
    const std::string bytes = hb.SerializeAsString();
    bool ok = false;
    try {
      ok = socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      ok = false;
    }
    ++(ok ? sent : dropped);
  }

  // Posts a probe unless one is still waiting: at most one in flight, so a hung executor
  // accumulates one task, not one per heartbeat.
  void post_probe(nodus::Executor& executor) {
    int64_t expected = 0;
    if (!probe->posted_ns.compare_exchange_strong(expected, now_ns())) return;
    executor.post([p = probe] { p->posted_ns.store(0, std::memory_order_release); });
  }

  void run(nodus::Duration period, nodus::Executor& executor) {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      send_locked();
      lock.unlock();
      post_probe(executor);
      lock.lock();
      wake.wait_for(lock, period, [this] { return stopping; });
    }
  }
};

SupervisorBus::SupervisorBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SupervisorBus::~SupervisorBus() {
  stop();
}

Result<std::unique_ptr<SupervisorBus>> SupervisorBus::connect(const std::string& endpoint,
                                                              uint32_t index) {
  auto impl = std::make_unique<Impl>();
  impl->index = index;
  try {
    impl->socket.set(zmq::sockopt::linger, 0);
    impl->socket.set(zmq::sockopt::sndhwm, kSendQueueMax);
    impl->socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return unavailable("supervisor bus " + endpoint + ": " + e.what());
  }
  return std::unique_ptr<SupervisorBus>(new SupervisorBus(std::move(impl)));
}

void SupervisorBus::start(nodus::Duration period, nodus::Executor& executor) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->thread.joinable() || impl_->stopping) return;
  impl_->thread = std::thread([this, period, &executor] { impl_->run(period, executor); });
}

void SupervisorBus::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable() && impl_->thread.get_id() != std::this_thread::get_id()) {
    impl_->thread.join();
  }
}

void SupervisorBus::update(bool ready, const std::string& role) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->ready == ready && impl_->role == role) return;
  impl_->ready = ready;
  impl_->role = role;
  impl_->send_locked();
}

uint64_t SupervisorBus::sent() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sent;
}

uint64_t SupervisorBus::dropped() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->dropped;
}

}  // namespace nodus::kernel
