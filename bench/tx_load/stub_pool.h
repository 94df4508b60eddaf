// bench/tx_load/stub_pool.h: gRPC stubs per endpoint, several TCP connections each.
//
// One HTTP/2 connection serialises every client on one socket and one reader thread of the
// server; `connections` separate channels (a local subchannel pool each, so gRPC does not
// merge them) spread the clients. Endpoints learned from leader hints are added on the fly.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nodus/status.h"

namespace nodus::bench {

// What both backends do with every finished RPC: its status as a nodus::Status (the codes are
// numerically the same) and the deadline of a new call.
inline Status from_grpc(const grpc::Status& s) {
  return {static_cast<StatusCode>(s.error_code()), s.error_message()};
}

inline std::chrono::system_clock::time_point deadline_after(uint32_t ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

template <class Service>
class StubPool {
 public:
  using Stub = typename Service::Stub;

  StubPool(const std::vector<std::string>& endpoints, uint32_t connections)
      : connections_(std::max<uint32_t>(1, connections)) {
    for (const auto& e : endpoints)
      (void)index_of(e);
  }

  // The stub client `client` uses on endpoint `endpoint`.
  Stub* stub(size_t endpoint, uint32_t client) {
    std::lock_guard lock(mu_);
    return endpoints_.at(endpoint % endpoints_.size()).stubs[client % connections_].get();
  }

  size_t index_of(const std::string& host_port) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      if (endpoints_[i].name == host_port) return i;
    }
    Endpoint e;
    e.name = host_port;
    for (uint32_t c = 0; c < connections_; ++c) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("nodus.tx_load.connection", static_cast<int>(c));
      args.SetMaxReceiveMessageSize(64 << 20);
      e.stubs.push_back(Service::NewStub(
          grpc::CreateCustomChannel(host_port, grpc::InsecureChannelCredentials(), args)));
    }
    endpoints_.push_back(std::move(e));
    return endpoints_.size() - 1;
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return endpoints_.size();
  }

 private:
  struct Endpoint {
    std::string name;
    std::vector<std::unique_ptr<Stub>> stubs;
  };
  const uint32_t connections_;
  mutable std::mutex mu_;
  std::deque<Endpoint> endpoints_;  // a deque: stubs keep their address as endpoints are added
};

}  // namespace nodus::bench
