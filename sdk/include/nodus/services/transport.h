// nodus/services/transport.h: messages and RPCs between node instances.
//
// Peers are the other instances of the same cluster, identified by their index. Payloads are
// opaque bytes, in practice serialized protobuf messages; send_message()/call_message() below
// do the serializing. Handlers run on the instance executor. In a real node the transport is
// gRPC; under the simulation harness it is a simulated network with injected faults.
//
//   ctx.transport().on_call("ping", [](PeerId from, std::string req, CallReply reply) {
//     reply(std::move(req));  // echo
//   });
//   ctx.transport().call(peer, "ping", "hello", std::chrono::seconds(1),
//                        [](Result<std::string> resp) { ... });
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "nodus/services/clock.h"
#include "nodus/status.h"

namespace nodus {

using PeerId = uint32_t;

struct PeerInfo {
  PeerId id = 0;
  std::string address;  // host:port of the peer's node-to-node endpoint
};

using MessageHandler = std::function<void(PeerId from, std::string payload)>;
using CallReply = std::function<void(Result<std::string> response)>;
using CallHandler = std::function<void(PeerId from, std::string request, CallReply reply)>;
using CallCallback = std::function<void(Result<std::string> response)>;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual PeerId self() const = 0;
  // Every other instance of the cluster.
  virtual std::vector<PeerInfo> peers() const = 0;
  // One-way message on a named channel. Best effort: may be dropped if the peer is down or
  // its queue is full (then RESOURCE_EXHAUSTED or UNAVAILABLE is returned when known).
  virtual Status send(PeerId to, std::string_view channel, std::string payload) = 0;
  // Request/response with a deadline. `done` runs exactly once, on the executor.
  virtual void call(PeerId to, std::string_view method, std::string request, Duration timeout,
                    CallCallback done) = 0;
  // Register handlers before start() returns. One handler per channel / method.
  virtual Status on_message(std::string channel, MessageHandler handler) = 0;
  virtual Status on_call(std::string method, CallHandler handler) = 0;
};

// Serializes any protobuf message (anything with SerializeAsString()).
template <class Message>
Status send_message(Transport& t, PeerId to, std::string_view channel, const Message& m) {
  return t.send(to, channel, m.SerializeAsString());
}

}  // namespace nodus
