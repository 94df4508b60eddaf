#include "nodus/testing/sim_network.h"

#include <algorithm>
#include <cmath>

namespace nodus::testing {

namespace {

uint64_t message_digest(SimNodeId from, SimNodeId to, std::string_view name,
                        std::string_view payload) {
  TraceHash h;
  h.add((uint64_t{from} << 32) | to);
  h.add(name);
  h.add(payload);
  return h.value();
}

}  // namespace

// One node's view of the network. Handlers belong to the node's current incarnation.
class SimTransport final : public Transport {
 public:
  SimTransport(SimNetwork& net, SimNodeId self) : net_(net), self_(self) {
    for (uint32_t i = 0; i < net.nodes_; ++i) {
      if (i != self) peers_.push_back({i, "sim-" + std::to_string(i)});
    }
  }

  PeerId self() const override { return self_; }
  std::vector<PeerInfo> peers() const override { return peers_; }

  Status send(PeerId to, std::string_view channel, std::string payload) override {
    NODUS_RETURN_IF_ERROR(check_peer(to));
    if (payload.size() > net_.max_message_bytes_) {
      return invalid_argument("message on '" + std::string(channel) + "' of " +
                              std::to_string(payload.size()) + " bytes exceeds max_message_bytes");
    }
    ++net_.stats_.sent;
    const uint64_t digest = message_digest(self_, to, channel, payload);
    const uint64_t inc = net_.world_.incarnation(to);
    auto shared = std::make_shared<const std::string>(std::move(payload));
    const std::vector<TimePoint> arrivals = net_.route(self_, to, true);
    for (TimePoint at : arrivals) {
      net_.world_.schedule_for(at, to, inc, SimEventKind::kMessage, digest,
                               [net = &net_, from = self_, to, inc, ch = std::string(channel),
                                shared] { net->transports_[to]->deliver(from, inc, ch, *shared); });
    }
    return {};
  }

  void call(PeerId to, std::string_view method, std::string request, Duration timeout,
            CallCallback done) override {
    auto state = std::make_shared<CallState>();
    state->done = std::move(done);
    SimWorld& world = net_.world_;
    // The deadline is a timer of the caller: it dies with the caller's incarnation.
    world.schedule(world.node_now(self_) + std::max(timeout, Duration::zero()), self_,
                   SimEventKind::kTimer, 0, [state, m = std::string(method)] {
                     state->finish(deadline_exceeded("call to '" + m + "' timed out"));
                   });
    if (Status st = check_peer(to); !st.ok()) {
      world.schedule(world.node_now(self_), self_, SimEventKind::kTask, 0,
                     [state, st] { state->finish(st); });
      return;
    }
    ++net_.stats_.sent;
    const uint64_t digest = message_digest(self_, to, method, request);
    const uint64_t callee_inc = world.incarnation(to);
    const uint64_t caller_inc = world.incarnation(self_);
    for (TimePoint at : net_.route(self_, to, false)) {
      world.schedule_for(at, to, callee_inc, SimEventKind::kCallRequest, digest,
                         [net = &net_, from = self_, to, callee_inc, caller_inc,
                          m = std::string(method), req = std::move(request), state]() mutable {
                           net->transports_[to]->serve(from, callee_inc, caller_inc, m,
                                                       std::move(req), state);
                         });
    }
  }

  Status on_message(std::string channel, MessageHandler handler) override {
    if (message_handlers_.count(channel)) {
      return already_exists("a handler for channel " + channel + " is already registered");
    }
    message_handlers_.emplace(std::move(channel), std::move(handler));
    return {};
  }

  Status on_call(std::string method, CallHandler handler) override {
    if (call_handlers_.count(method)) {
      return already_exists("a handler for method " + method + " is already registered");
    }
    call_handlers_.emplace(std::move(method), std::move(handler));
    return {};
  }

  void reset() {
    message_handlers_.clear();
    call_handlers_.clear();
  }
  void add_peer(SimNodeId id) { peers_.push_back({id, "sim-" + std::to_string(id)}); }
  void remove_peer(SimNodeId id) {
    std::erase_if(peers_, [id](const PeerInfo& p) { return p.id == id; });
  }

 private:
  struct CallState {
    CallCallback done;
    bool finished = false;
    void finish(Result<std::string> r) {
      if (finished) return;
      finished = true;
      auto cb = std::move(done);
      cb(std::move(r));
    }
  };

  Status check_peer(PeerId to) const {
    const bool listed =
        std::any_of(peers_.begin(), peers_.end(), [to](const PeerInfo& p) { return p.id == to; });
    if (!listed) return not_found("unknown peer " + std::to_string(to));
    return {};
  }

  void deliver(SimNodeId from, uint64_t inc, const std::string& channel,
               const std::string& payload) {
    if (!net_.deliverable(from, self_, inc)) return;
    auto it = message_handlers_.find(channel);
    if (it == message_handlers_.end()) {
      ++net_.stats_.no_handler;
      return;
    }
    ++net_.stats_.delivered;
    it->second(from, payload);
  }

  void serve(SimNodeId from, uint64_t inc, uint64_t caller_inc, const std::string& method,
             std::string request, const std::shared_ptr<CallState>& state) {
    if (!net_.deliverable(from, self_, inc)) return;
    auto it = call_handlers_.find(method);
    ++net_.stats_.delivered;
    if (it == call_handlers_.end()) {
      ++net_.stats_.no_handler;
      reply(from, inc, caller_inc, state,
            unimplemented("no handler registered for '" + method + "'"));
      return;
    }
    auto replied = std::make_shared<bool>(false);
    it->second(from, std::move(request),
               [this, from, inc, caller_inc, state, replied](Result<std::string> r) {
                 if (*replied) return;
                 *replied = true;
                 reply(from, inc, caller_inc, state, std::move(r));
               });
  }

  // Sends a reply from this node (incarnation `inc`) back to the caller.
  void reply(SimNodeId caller, uint64_t inc, uint64_t caller_inc,
             const std::shared_ptr<CallState>& state, Result<std::string> r) {
    SimWorld& world = net_.world_;
    if (!world.up(self_) || world.incarnation(self_) != inc) return;  // replied from the grave
    if (r.ok() && r.value().size() > net_.max_message_bytes_) {
      r = resource_exhausted("reply of " + std::to_string(r.value().size()) +
                             " bytes exceeds max_message_bytes");
    }
    const uint64_t digest =
        message_digest(self_, caller, "reply", r.ok() ? r.value() : r.status().to_string());
    for (TimePoint at : net_.route(self_, caller, false)) {
      world.schedule_for(at, caller, caller_inc, SimEventKind::kCallReply, digest,
                         [net = &net_, from = self_, caller, caller_inc, state, r]() mutable {
                           if (!net->deliverable(from, caller, caller_inc)) return;
                           state->finish(std::move(r));
                         });
    }
  }

  friend class SimNetwork;
  SimNetwork& net_;
  const SimNodeId self_;
  std::vector<PeerInfo> peers_;
  std::map<std::string, MessageHandler, std::less<>> message_handlers_;
  std::map<std::string, CallHandler, std::less<>> call_handlers_;
};

SimNetwork::SimNetwork(SimWorld& world, uint32_t nodes, LinkFaults defaults,
                       size_t max_message_bytes)
    : world_(world),
      nodes_(nodes),
      defaults_(defaults),
      max_message_bytes_(max_message_bytes),
      links_(size_t{nodes} * nodes, Link{defaults, false, {}, {}}) {
  for (uint32_t i = 0; i < nodes; ++i)
    transports_.push_back(std::make_unique<SimTransport>(*this, i));
}

SimNetwork::~SimNetwork() = default;

Transport& SimNetwork::transport(SimNodeId node) {
  return *transports_[node];
}

void SimNetwork::reset_node(SimNodeId node) {
  transports_[node]->reset();
}

SimNodeId SimNetwork::add_node() {
  const uint32_t grown = nodes_ + 1;
  std::vector<Link> links(size_t{grown} * grown, Link{defaults_, false, {}});
  for (SimNodeId from = 0; from < nodes_; ++from) {
    for (SimNodeId to = 0; to < nodes_; ++to)
      links[size_t{from} * grown + to] = links_[index(from, to)];
  }
  links_ = std::move(links);
  const SimNodeId added = nodes_;
  nodes_ = grown;
  transports_.push_back(std::make_unique<SimTransport>(*this, added));
  for (SimNodeId i = 0; i < added; ++i)
    transports_[i]->add_peer(added);
  return added;
}

void SimNetwork::remove_node(SimNodeId node) {
  for (auto& t : transports_)
    t->remove_peer(node);
  transports_[node]->reset();
}

void SimNetwork::set_all(const LinkFaults& faults) {
  defaults_ = faults;
  for (auto& l : links_)
    l.faults = faults;
}

void SimNetwork::partition(const std::vector<SimNodeId>& a, const std::vector<SimNodeId>& b) {
  for (SimNodeId x : a) {
    for (SimNodeId y : b) {
      block(x, y);
      block(y, x);
    }
  }
}

void SimNetwork::heal() {
  for (auto& l : links_)
    l.cut = false;
}

bool SimNetwork::deliverable(SimNodeId from, SimNodeId to, uint64_t incarnation) const {
  if (!world_.up(to) || world_.incarnation(to) != incarnation) return false;
  return !links_[index(from, to)].cut;
}

std::vector<TimePoint> SimNetwork::route(SimNodeId from, SimNodeId to, bool allow_duplicate) {
  return route_on(from, to, allow_duplicate, links_[index(from, to)].last_arrival, stats_);
}

std::vector<TimePoint> SimNetwork::route_datagram(SimNodeId from, SimNodeId to) {
  SimNetworkStats ignored;  // the datagram network counts its own
  return route_on(from, to, true, links_[index(from, to)].last_datagram_arrival, ignored);
}

std::vector<TimePoint> SimNetwork::route_on(SimNodeId from, SimNodeId to, bool allow_duplicate,
                                            TimePoint& last_arrival, SimNetworkStats& stats) {
  Link& link = links_[index(from, to)];
  const LinkFaults& f = link.faults;
  SimRandom& rng = world_.random();
  std::vector<TimePoint> out;
  if (link.cut || !world_.up(to) || rng.chance(f.drop)) {
    ++stats.dropped;
    return out;
  }
  const int copies = allow_duplicate && rng.chance(f.duplicate) ? 2 : 1;
  if (copies == 2) ++stats.duplicated;
  for (int i = 0; i < copies; ++i) {
    const auto lo = static_cast<uint64_t>(f.latency_min.count());
    const auto hi = static_cast<uint64_t>(std::max(f.latency_max, f.latency_min).count());
    TimePoint at = world_.node_now(from) + Duration(static_cast<int64_t>(rng.uniform(lo, hi)));
    if (i == 0 && !rng.chance(f.reorder)) {
      at = std::max(at, last_arrival);  // FIFO, like one stream
      last_arrival = at;
    } else {
      at += Duration(
          static_cast<int64_t>(rng.uniform(0, static_cast<uint64_t>(f.reorder_window.count()))));
    }
    out.push_back(at);
  }
  return out;
}

}  // namespace nodus::testing
