// nodus/testing/sim_datagrams.h: UDP datagrams between the nodes of a SimWorld.
//
// Node i's host is "sim-i" (the host of its transport peer address), so a plugin sends to
// "sim-2:7946". A datagram crosses the same simulated link as the transport's messages: the
// link's drop, duplicate, latency and reorder rules and its cuts (partitions, one-way blocks)
// apply, all drawn from the world's seed, so a run replays byte for byte. It reaches the
// receiver's socket at its arrival time whether or not the node is busy; from there it waits
// in the binding's bounded queue for the node's executor, as on a real host. An executor
// stall (SimWorld::charge) therefore delays handling, and a long one overflows the queue
// (drops counted, as the kernel counts them). A cut checked again on arrival loses datagrams
// in flight when a partition starts.
//
//   SimDatagramNetwork dgnet(world, network);
//   auto dg0 = dgnet.open(0, {{"gossip", 7946}}, metrics0);   // node 0's Datagrams
//   dg0->bind("gossip", [](nodus::Datagram d) { ... });
//   dg0->send_to("gossip", SimDatagramNetwork::address(1, 7946), "ping");
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "nodus/services/datagram.h"
#include "nodus/testing/sim_network.h"
#include "nodus/testing/sim_world.h"

namespace nodus::testing {

struct SimDatagramStats {
  uint64_t sent = 0;
  uint64_t lost = 0;         // by a drop rule, a cut link or a dead receiver
  uint64_t duplicated = 0;   // extra copies made
  uint64_t no_listener = 0;  // arrived at a port nobody had bound
  uint64_t queued = 0;       // reached a bound port's queue
  uint64_t delivered = 0;    // handed to a handler
};

class SimDatagramNetwork {
 public:
  // Ports given as 0 get a fixed number from kEphemeralPortFirst on, in bind order.
  static constexpr uint16_t kEphemeralPortFirst = 49152;

  SimDatagramNetwork(SimWorld& world, SimNetwork& network);
  ~SimDatagramNetwork();
  SimDatagramNetwork(const SimDatagramNetwork&) = delete;
  SimDatagramNetwork& operator=(const SimDatagramNetwork&) = delete;

  // The Datagrams of one incarnation of `node`, with its named ports. Destroying it (the
  // process died) closes its bindings; datagrams on their way to it are then lost.
  std::unique_ptr<Datagrams> open(SimNodeId node, std::map<std::string, uint16_t> ports,
                                  Metrics& metrics);
  static std::string host(SimNodeId node) { return "sim-" + std::to_string(node); }
  static std::string address(SimNodeId node, uint16_t port);

  const SimDatagramStats& stats() const { return stats_; }

 private:
  class NodeDatagrams;
  struct Endpoint;
  friend class NodeDatagrams;
  void transmit(SimNodeId from, uint16_t from_port, SimNodeId to, uint16_t to_port,
                const std::string& payload);
  void arrive(SimNodeId from, uint16_t from_port, SimNodeId to, uint16_t to_port,
              const std::shared_ptr<const std::string>& payload);
  void drain(const std::weak_ptr<Endpoint>& weak);

  SimWorld& world_;
  SimNetwork& network_;
  // Bound ports: (node, port number) -> endpoint. Only the driving thread touches it.
  std::map<std::pair<SimNodeId, uint16_t>, std::weak_ptr<Endpoint>> bound_;
  SimDatagramStats stats_;
};

}  // namespace nodus::testing
