#include "nodus/testing/sim_datagrams.h"

#include <charconv>
#include <deque>
#include <vector>

#include "nodus/address.h"

namespace nodus::testing {

namespace {

std::string port_label(std::string_view port) {
  return "datagram port '" + std::string(port) + "'";
}

// Datagrams handed to the handler per executor event, as the kernel's drain task does.
constexpr size_t kDrainBatch = 256;

}  // namespace

struct SimDatagramNetwork::Endpoint {
  SimNodeId node = 0;
  std::string name;
  uint16_t number = 0;
  DatagramOptions options;
  DatagramHandler handler;
  DatagramCounters counters;
  std::deque<Datagram> queue;
  bool drain_posted = false;
};

// One node incarnation's Datagrams.
class SimDatagramNetwork::NodeDatagrams final : public Datagrams {
 public:
  NodeDatagrams(SimDatagramNetwork& net, SimNodeId node, std::map<std::string, uint16_t> ports,
                Metrics& metrics)
      : net_(net), node_(node), ports_(std::move(ports)), metrics_(metrics) {}
  ~NodeDatagrams() override {
    while (!endpoints_.empty())
      (void)close(endpoints_.begin()->first);
  }
  NodeDatagrams(const NodeDatagrams&) = delete;
  NodeDatagrams& operator=(const NodeDatagrams&) = delete;

  using Datagrams::bind;
  Status bind(std::string_view port, DatagramHandler handler,
              const DatagramOptions& options) override {
    auto named = ports_.find(std::string(port));
    if (named == ports_.end()) {
      return not_found(port_label(port) + ": the profile names no such port for this instance");
    }
    if (endpoints_.count(port) > 0) return already_exists(port_label(port) + " is already bound");
    NODUS_RETURN_IF_ERROR(check_datagram_options(port, options));
    if (!handler) return invalid_argument(port_label(port) + ": no handler");
    uint16_t number = named->second;
    if (number == 0) {
      number = SimDatagramNetwork::kEphemeralPortFirst;
      while (net_.bound_.count({node_, number}) > 0 && !net_.bound_[{node_, number}].expired())
        ++number;
    }
    auto& slot = net_.bound_[{node_, number}];
    if (!slot.expired()) {
      return unavailable(port_label(port) + " (" + address(node_, number) +
                         "): cannot bind: Address already in use");
    }
    auto ep = std::make_shared<Endpoint>();
    ep->node = node_;
    ep->name = std::string(port);
    ep->number = number;
    ep->options = options;
    ep->handler = std::move(handler);
    ep->counters = DatagramCounters::create(metrics_, port);
    slot = ep;
    endpoints_.emplace(std::string(port), std::move(ep));
    return {};
  }

  Status send_to(std::string_view port, std::string_view address,
                 std::string_view payload) override {
    auto it = endpoints_.find(port);
    if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
    const Endpoint& ep = *it->second;
    NODUS_RETURN_IF_ERROR(check_datagram_size(port, payload.size(), ep.options.max_datagram_bytes));
    auto hp = parse_host_port(address);
    if (!hp.ok()) return hp.status().with_context(port_label(port) + ": send_to");
    SimNodeId to = 0;
    const std::string& host = hp->host;
    const char* digits = host.data() + 4;
    if (host.rfind("sim-", 0) != 0 ||
        std::from_chars(digits, host.data() + host.size(), to).ptr != host.data() + host.size() ||
        to >= net_.world_.node_count()) {
      return invalid_argument(port_label(port) + ": send_to " + std::string(address) +
                              ": not a simulated node's address (sim-<node>:<port>)");
    }
    ep.counters.sent->inc();
    net_.transmit(node_, ep.number, to, hp->port, std::string(payload));
    return {};
  }

  Status close(std::string_view port) override {
    auto it = endpoints_.find(port);
    if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
    const std::shared_ptr<Endpoint> ep = it->second;
    endpoints_.erase(it);
    net_.bound_.erase({node_, ep->number});
    ep->queue.clear();
    ep->handler = nullptr;
    return {};
  }

  Result<std::string> local_address(std::string_view port) const override {
    auto it = endpoints_.find(port);
    if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
    return address(node_, it->second->number);
  }

  Result<DatagramStats> stats(std::string_view port) const override {
    auto it = endpoints_.find(port);
    if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
    return it->second->counters.snapshot();
  }

 private:
  SimDatagramNetwork& net_;
  const SimNodeId node_;
  const std::map<std::string, uint16_t> ports_;
  Metrics& metrics_;
  std::map<std::string, std::shared_ptr<Endpoint>, std::less<>> endpoints_;
};

SimDatagramNetwork::SimDatagramNetwork(SimWorld& world, SimNetwork& network)
    : world_(world), network_(network) {}

SimDatagramNetwork::~SimDatagramNetwork() = default;

std::unique_ptr<Datagrams> SimDatagramNetwork::open(SimNodeId node,
                                                    std::map<std::string, uint16_t> ports,
                                                    Metrics& metrics) {
  return std::make_unique<NodeDatagrams>(*this, node, std::move(ports), metrics);
}

std::string SimDatagramNetwork::address(SimNodeId node, uint16_t port) {
  return format_host_port(host(node), port);
}

void SimDatagramNetwork::transmit(SimNodeId from, uint16_t from_port, SimNodeId to,
                                  uint16_t to_port, const std::string& payload) {
  ++stats_.sent;
  const std::vector<TimePoint> arrivals = network_.route_datagram(from, to);
  if (arrivals.empty()) {
    ++stats_.lost;
    return;
  }
  if (arrivals.size() > 1) stats_.duplicated += arrivals.size() - 1;
  TraceHash digest;
  digest.add((uint64_t{from} << 48) | (uint64_t{from_port} << 32) | (uint64_t{to} << 16) | to_port);
  digest.add(payload);
  auto shared = std::make_shared<const std::string>(payload);
  for (TimePoint at : arrivals) {
    // A world event: the datagram reaches the receiving host's socket on time even while its
    // process is stalled; only the handler waits for the executor.
    world_.schedule(at, kWorldNode, SimEventKind::kDatagram, digest.value(),
                    [this, from, from_port, to, to_port, shared] {
                      arrive(from, from_port, to, to_port, shared);
                    });
  }
}

void SimDatagramNetwork::arrive(SimNodeId from, uint16_t from_port, SimNodeId to, uint16_t to_port,
                                const std::shared_ptr<const std::string>& payload) {
  if (network_.blocked(from, to) || !world_.up(to)) {
    ++stats_.lost;  // the link was cut, or the receiver died, while it was in flight
    return;
  }
  auto it = bound_.find({to, to_port});
  std::shared_ptr<Endpoint> ep = it == bound_.end() ? nullptr : it->second.lock();
  if (!ep) {
    ++stats_.no_listener;
    return;
  }
  if (payload->size() > ep->options.max_datagram_bytes) {
    ep->counters.dropped_oversize->inc();
    return;
  }
  if (ep->queue.size() >= ep->options.receive_queue_max) {
    ep->counters.dropped_queue_full->inc();
    return;
  }
  ++stats_.queued;
  ep->queue.push_back({address(from, from_port), *payload});
  if (ep->drain_posted) return;
  ep->drain_posted = true;
  // A task of the node's current incarnation: it waits while the node is busy and dies with it.
  world_.post(to, [this, weak = std::weak_ptr<Endpoint>(ep)] { drain(weak); });
}

void SimDatagramNetwork::drain(const std::weak_ptr<Endpoint>& weak) {
  auto ep = weak.lock();
  if (!ep) return;
  const DatagramHandler handler = ep->handler;  // it may close its own binding
  size_t n = 0;
  while (!ep->queue.empty() && n++ < kDrainBatch && ep->handler) {
    Datagram d = std::move(ep->queue.front());
    ep->queue.pop_front();
    ep->counters.received->inc();
    ++stats_.delivered;
    handler(std::move(d));
  }
  if (!ep->queue.empty() && ep->handler) {
    // Yield to the node's other events, as the kernel's drain task does.
    world_.post(ep->node, [this, weak] { drain(weak); });
    return;
  }
  ep->drain_posted = false;
}

}  // namespace nodus::testing
