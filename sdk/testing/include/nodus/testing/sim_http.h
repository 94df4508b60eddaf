// nodus/testing/sim_http.h: HTTP in the simulator. Endpoints are registered by address in a
// SimHttpEndpoints registry (a handler per "host:port", served on a simulated node or outside
// the cluster), and SimHttpClient is the HttpClient a simulated node's plugins use: a request
// travels the simulated network (latency, loss and cuts from SimNetwork's link rules between
// nodes; from the registry's `external` rules for endpoints outside the cluster), every draw
// from the world's seeded stream, so a run is reproducible. A lost request or reply ends at
// the caller's deadline, as a real TCP exchange cut by a partition does; an address nobody
// registered is UNAVAILABLE (connection refused) after one network latency.
//
// The registry is the seam for the HTTP server service's simulated version: it registers each
// port it serves with add(address, node, handler).
//
//   SimHttpEndpoints endpoints;
//   endpoints.add("10.0.0.9:8545", kWorldNode, [](const HttpClientRequest&, SimHttpReply reply) {
//     reply(HttpClientResponse{200, {}, R"({"result":"0x1"})"});
//   });
//   SimHttpClient http(world, network, endpoints, /*self=*/0, executor);
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "nodus/services/http_client.h"
#include "nodus/testing/sim_network.h"
#include "nodus/testing/sim_world.h"

namespace nodus::testing {

using SimHttpReply = std::function<void(Result<HttpClientResponse> response)>;
// Runs on the serving node's turn (a world event for kWorldNode); calls `reply` once, at once or
// later.
using SimHttpHandler = std::function<void(const HttpClientRequest& request, SimHttpReply reply)>;

class SimHttpEndpoints {
 public:
  struct Endpoint {
    SimNodeId node = kWorldNode;
    SimHttpHandler handler;
  };
  // ALREADY_EXISTS when `address` is taken; INVALID_ARGUMENT when it is not host:port.
  Status add(const std::string& address, SimNodeId node, SimHttpHandler handler);
  bool remove(const std::string& address);
  const Endpoint* find(const std::string& address) const;

  // Fault rules between the cluster and endpoints outside it (kWorldNode), both directions.
  LinkFaults external;
  // Nodes cut off from every endpoint outside the cluster.
  std::set<SimNodeId> cut_from_external;

 private:
  std::map<std::string, Endpoint> endpoints_;
};

// Call on the world's driving thread (as every simulated node's code runs).
class SimHttpClient final : public HttpClient {
 public:
  SimHttpClient(SimWorld& world, SimNetwork& network, SimHttpEndpoints& endpoints, SimNodeId self,
                Executor& executor, HttpClientLimits limits = {});
  ~SimHttpClient() override;  // shutdown()
  SimHttpClient(const SimHttpClient&) = delete;
  SimHttpClient& operator=(const SimHttpClient&) = delete;

  HttpRequestId request(HttpClientRequest request, HttpClientCallback done) override;
  bool cancel(HttpRequestId id) override;
  size_t in_flight() const override { return state_->pending.size(); }
  const HttpClientLimits& limits() const override { return limits_; }
  // The plugin stopped: nothing calls back any more.
  void shutdown();

 private:
  struct State {
    bool shut = false;
    std::map<HttpRequestId, std::pair<HttpClientCallback, TimerId>> pending;
  };
  // Delivery time on the link from -> to, or nothing when the transmission is lost.
  std::optional<TimePoint> route(SimNodeId from, SimNodeId to);
  void finish(HttpRequestId id, Result<HttpClientResponse> response);

  SimWorld& world_;
  SimNetwork& network_;
  SimHttpEndpoints& endpoints_;
  const SimNodeId self_;
  Executor& executor_;
  const HttpClientLimits limits_;
  HttpRequestId next_id_ = 1;
  // Shared with the events in flight, which may outlive this client in the world's queue.
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace nodus::testing
