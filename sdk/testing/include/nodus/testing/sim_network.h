// nodus/testing/sim_network.h: a simulated network between the nodes of a SimWorld, and the
// nodus::Transport each node's plugins use.
//
// Every directed link has fault rules: latency (uniform in [latency_min, latency_max]), drop,
// duplicate and reorder probabilities. Without reordering a link is FIFO, like one gRPC stream.
// Links can be cut one way (block) or both ways (partition); a cut is checked when a message
// is sent and again when it would arrive, so messages in flight when a partition starts are
// lost. A message is addressed to the receiver's incarnation at send time: a node that crashed
// and restarted in between never sees it (its stream broke). Calls get the same treatment in
// both directions, and the caller's deadline fires when the request or reply is lost.
//
//   SimNetwork& net = cluster.network();
//   net.set_all({.drop = 0.05, .duplicate = 0.02, .reorder = 0.05});
//   net.partition({0}, {1, 2});     // symmetric
//   net.block(1, 2);                // one-way: 1 -> 2 is cut, 2 -> 1 still works
//   net.heal();
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nodus/services/transport.h"
#include "nodus/testing/sim_world.h"

namespace nodus::testing {

struct LinkFaults {
  double drop = 0;
  double duplicate = 0;
  double reorder = 0;  // chance a message is held back by up to reorder_window
  Duration latency_min = std::chrono::microseconds(500);
  Duration latency_max = std::chrono::milliseconds(2);
  Duration reorder_window = std::chrono::milliseconds(20);
};

struct SimNetworkStats {
  uint64_t sent = 0;        // accepted by send() or call()
  uint64_t delivered = 0;   // handed to a handler
  uint64_t dropped = 0;     // by a drop rule, a cut link, or a dead receiver
  uint64_t duplicated = 0;  // extra copies made
  uint64_t no_handler = 0;  // arrived on a channel / method nobody registered
};

class SimTransport;

class SimNetwork {
 public:
  SimNetwork(SimWorld& world, uint32_t nodes, LinkFaults defaults, size_t max_message_bytes);
  ~SimNetwork();
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  Transport& transport(SimNodeId node);
  // Forgets the node's handlers (its process died).
  void reset_node(SimNodeId node);
  // Grows the network by one node (the next id), linked to every other node with the current
  // default faults; every transport lists it as a peer from now on.
  SimNodeId add_node();
  // The node left the cluster for good: no transport lists it as a peer any more, and sends
  // and calls to it fail with NOT_FOUND. Its id is never reused.
  void remove_node(SimNodeId node);

  LinkFaults& link(SimNodeId from, SimNodeId to) { return links_[index(from, to)].faults; }
  void set_all(const LinkFaults& faults);
  void block(SimNodeId from, SimNodeId to) { links_[index(from, to)].cut = true; }
  void unblock(SimNodeId from, SimNodeId to) { links_[index(from, to)].cut = false; }
  bool blocked(SimNodeId from, SimNodeId to) const { return links_[index(from, to)].cut; }
  // Cuts every link between a and b, both ways.
  void partition(const std::vector<SimNodeId>& a, const std::vector<SimNodeId>& b);
  // Restores every link (fault rules stay as they are).
  void heal();

  // The fate of one datagram on from -> to (sim_datagrams.h): the link's drop, duplicate,
  // latency and reorder rules, as for a message; datagrams keep an order of their own (not
  // the message stream's) unless the reorder rule holds one back. Empty when lost (a cut link
  // or a dead receiver too). Counted in the datagram network's stats, not in stats().
  std::vector<TimePoint> route_datagram(SimNodeId from, SimNodeId to);

  const SimNetworkStats& stats() const { return stats_; }
  size_t max_message_bytes() const { return max_message_bytes_; }

 private:
  friend class SimTransport;
  struct Link {
    LinkFaults faults;
    bool cut = false;
    TimePoint last_arrival{};  // FIFO order for messages that are not reordered
    TimePoint last_datagram_arrival{};
  };
  size_t index(SimNodeId from, SimNodeId to) const { return size_t{from} * nodes_ + to; }
  // Decides the fate of one transmission on from -> to: an empty vector means lost, two
  // entries mean duplicated. `allow_duplicate` is false for RPCs (gRPC never repeats a call).
  std::vector<TimePoint> route(SimNodeId from, SimNodeId to, bool allow_duplicate);
  // route() on one ordering lane of the link (messages or datagrams); counts into `stats`.
  std::vector<TimePoint> route_on(SimNodeId from, SimNodeId to, bool allow_duplicate,
                                  TimePoint& last_arrival, SimNetworkStats& stats);
  bool deliverable(SimNodeId from, SimNodeId to, uint64_t incarnation) const;

  SimWorld& world_;
  uint32_t nodes_;
  LinkFaults defaults_;  // for the links of nodes added later (set_all() changes it)
  const size_t max_message_bytes_;
  std::vector<Link> links_;
  std::vector<std::unique_ptr<SimTransport>> transports_;
  SimNetworkStats stats_;
};

}  // namespace nodus::testing
