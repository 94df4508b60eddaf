#include "nodus/testing/fake_datagrams.h"

#include <utility>

namespace nodus::testing {

namespace {
std::string port_label(std::string_view port) {
  return "datagram port '" + std::string(port) + "'";
}
}  // namespace

struct FakeDatagrams::Binding {
  std::string name;
  uint16_t number = 0;
  DatagramOptions options;
  DatagramHandler handler;  // executor only
  DatagramCounters counters;
  // Its own lock, so that a drain task never touches the FakeDatagrams (which may be gone).
  std::mutex mu;
  bool open = true;            // guarded by mu
  std::deque<Datagram> queue;  // guarded by mu
  bool drain_posted = false;   // guarded by mu
};

FakeDatagrams::FakeDatagrams(std::map<std::string, uint16_t> ports, Executor& executor,
                             Metrics& metrics, std::string host)
    : ports_(std::move(ports)), executor_(executor), metrics_(metrics), host_(std::move(host)) {}

FakeDatagrams::~FakeDatagrams() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, b] : bindings_) {
    std::lock_guard<std::mutex> b_lock(b->mu);
    b->open = false;
  }
}

Status FakeDatagrams::bind(std::string_view port, DatagramHandler handler,
                           const DatagramOptions& options) {
  auto named = ports_.find(std::string(port));
  if (named == ports_.end()) {
    return not_found(port_label(port) + ": the profile names no such port for this instance");
  }
  NODUS_RETURN_IF_ERROR(check_datagram_options(port, options));
  if (!handler) return invalid_argument(port_label(port) + ": no handler");
  std::lock_guard<std::mutex> lock(mu_);
  if (bindings_.count(port) > 0) return already_exists(port_label(port) + " is already bound");
  auto b = std::make_shared<Binding>();
  b->name = std::string(port);
  b->number = named->second;
  b->options = options;
  b->handler = std::move(handler);
  b->counters = DatagramCounters::create(metrics_, port);
  bindings_.emplace(std::string(port), std::move(b));
  return {};
}

Status FakeDatagrams::send_to(std::string_view port, std::string_view address,
                              std::string_view payload) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bindings_.find(port);
  if (it == bindings_.end()) return failed_precondition(port_label(port) + " is not bound");
  Binding& b = *it->second;
  NODUS_RETURN_IF_ERROR(check_datagram_size(port, payload.size(), b.options.max_datagram_bytes));
  NODUS_RETURN_IF_ERROR(parse_datagram_address(port, address).status());
  if (fail_sends_) {
    b.counters.dropped_send->inc();
    return resource_exhausted(port_label(port) + ": send_to " + std::string(address) +
                              ": the socket buffer is full (FakeDatagrams::fail_sends)");
  }
  b.counters.sent->inc();
  sent_.push_back({std::string(port), std::string(address), std::string(payload)});
  return {};
}

Status FakeDatagrams::close(std::string_view port) {
  std::shared_ptr<Binding> b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = bindings_.find(port);
    if (it == bindings_.end()) return failed_precondition(port_label(port) + " is not bound");
    b = it->second;
    bindings_.erase(it);
  }
  {
    std::lock_guard<std::mutex> lock(b->mu);
    b->open = false;
    b->queue.clear();
  }
  b->handler = nullptr;
  return {};
}

Result<std::string> FakeDatagrams::local_address(std::string_view port) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bindings_.find(port);
  if (it == bindings_.end()) return failed_precondition(port_label(port) + " is not bound");
  return format_host_port(host_, it->second->number);
}

Result<DatagramStats> FakeDatagrams::stats(std::string_view port) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bindings_.find(port);
  if (it == bindings_.end()) return failed_precondition(port_label(port) + " is not bound");
  return it->second->counters.snapshot();
}

Status FakeDatagrams::deliver(std::string_view port, std::string from, std::string payload) {
  std::shared_ptr<Binding> b;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = bindings_.find(port);
    if (it == bindings_.end()) return failed_precondition(port_label(port) + " is not bound");
    b = it->second;
  }
  {
    std::lock_guard<std::mutex> lock(b->mu);
    if (payload.size() > b->options.max_datagram_bytes) {
      b->counters.dropped_oversize->inc();
      return check_datagram_size(port, payload.size(), b->options.max_datagram_bytes);
    }
    if (b->queue.size() >= b->options.receive_queue_max) {
      b->counters.dropped_queue_full->inc();
      return resource_exhausted(port_label(port) + ": receive queue full (" +
                                std::to_string(b->options.receive_queue_max) + " datagrams)");
    }
    b->queue.push_back({std::move(from), std::move(payload)});
    if (b->drain_posted) return {};
    b->drain_posted = true;
  }
  executor_.post([b] { drain(b); });
  return {};
}

void FakeDatagrams::drain(const std::shared_ptr<Binding>& b) {
  std::deque<Datagram> batch;
  {
    std::lock_guard<std::mutex> lock(b->mu);
    batch.swap(b->queue);
    b->drain_posted = false;
    if (!b->open) return;
  }
  const DatagramHandler handler = b->handler;  // the handler may close its own binding
  for (auto& d : batch) {
    {
      std::lock_guard<std::mutex> lock(b->mu);
      if (!b->open) return;
    }
    b->counters.received->inc();
    handler(std::move(d));
  }
}

std::vector<FakeDatagrams::Sent> FakeDatagrams::sent() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sent_;
}

bool FakeDatagrams::bound(std::string_view port) const {
  std::lock_guard<std::mutex> lock(mu_);
  return bindings_.count(port) > 0;
}

}  // namespace nodus::testing
