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
//
// Handlers a plugin registers through ctx.transport(), and the `done` callbacks of its calls,
// belong to the plugin: after its stop() returns (or its start() fails) none of them runs
// again. A message then arriving on its channel is dropped, a call to its method is answered
// UNAVAILABLE, and an answer to its own call is discarded. The kernel does this with a
// ScopedTransport per plugin (below), which a test over fakes can use the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
  // Request/response with a deadline. `done` runs exactly once, on the executor (never, when
  // the plugin that made the call stopped before the answer: see the top of this file).
  virtual void call(PeerId to, std::string_view method, std::string request, Duration timeout,
                    CallCallback done) = 0;
  // Register handlers before start() returns. One handler per channel / method. A handler
  // ends with its plugin's stop() (see the top of this file); it cannot be removed earlier.
  virtual Status on_message(std::string channel, MessageHandler handler) = 0;
  virtual Status on_call(std::string method, CallHandler handler) = 0;
};

// One owner's view of a transport: its handlers and call callbacks end when it is closed.
// The kernel hands each plugin one as PluginContext::transport() and closes it after the
// plugin's stop() (or a failed start()); a test over fakes can do the same:
//
//   nodus::testing::FakeTransport net(0, peers, exec);
//   nodus::ScopedTransport scoped(net);  // what the plugin gets as its transport
//   ...
//   plugin.stop();
//   scoped.close();  // its handlers and pending `done` callbacks never run again
//
// After close(): a message on one of its channels is dropped, a call to one of its methods is
// answered UNAVAILABLE, the answer to one of its calls is discarded (`done` does not run), and
// on_message()/on_call() fail with FAILED_PRECONDITION. The handlers' closures are released
// at close(). A handler or callback of the view already running on another thread is waited
// for; close() from inside one lets that one finish. send() and call() are passed through.
class ScopedTransport final : public Transport {
 public:
  explicit ScopedTransport(Transport& inner);
  ~ScopedTransport() override;  // close()
  ScopedTransport(const ScopedTransport&) = delete;
  ScopedTransport& operator=(const ScopedTransport&) = delete;

  PeerId self() const override;
  std::vector<PeerInfo> peers() const override;
  Status send(PeerId to, std::string_view channel, std::string payload) override;
  void call(PeerId to, std::string_view method, std::string request, Duration timeout,
            CallCallback done) override;
  Status on_message(std::string channel, MessageHandler handler) override;
  Status on_call(std::string method, CallHandler handler) override;

  void close();
  bool closed() const;

 private:
  struct State;  // shared with the closures registered with the inner transport
  Transport& inner_;
  std::shared_ptr<State> state_;
};

// Serializes any protobuf message (anything with SerializeAsString()).
template <class Message>
Status send_message(Transport& t, PeerId to, std::string_view channel, const Message& m) {
  return t.send(to, channel, m.SerializeAsString());
}

}  // namespace nodus
