// nodus/testing/fake_transport.h: a transport that records what a plugin sends and lets the
// test play the peers.
//
//   FakeTransport net(/*self=*/0, {{1, "peer-1"}, {2, "peer-2"}}, exec);
//   ... plugin sends ...
//   ASSERT_EQ(net.sent().size(), 1u);
//   net.deliver(1, "votes", payload);                   // a peer's message arrives
//   net.complete_call(0, std::string("pong"));          // answer the plugin's first call
//   auto reply = net.invoke(2, "ping", "x");            // a peer calls the plugin
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nodus/services/executor.h"
#include "nodus/services/transport.h"

namespace nodus::testing {

class FakeTransport final : public Transport {
 public:
  struct Sent {
    PeerId to;
    std::string channel;
    std::string payload;
  };
  struct Call {
    PeerId to;
    std::string method;
    std::string request;
    Duration timeout;
    CallCallback done;
    bool completed = false;
  };

  FakeTransport(PeerId self, std::vector<PeerInfo> peers, Executor& executor);

  PeerId self() const override { return self_; }
  std::vector<PeerInfo> peers() const override { return peers_; }
  Status send(PeerId to, std::string_view channel, std::string payload) override;
  void call(PeerId to, std::string_view method, std::string request, Duration timeout,
            CallCallback done) override;
  Status on_message(std::string channel, MessageHandler handler) override;
  Status on_call(std::string method, CallHandler handler) override;

  const std::vector<Sent>& sent() const { return sent_; }
  std::vector<Call>& calls() { return calls_; }
  // Answers the plugin's i-th outgoing call (on the executor).
  void complete_call(size_t i, Result<std::string> response);
  // A peer's one-way message arrives. NOT_FOUND when nobody listens on the channel.
  Status deliver(PeerId from, const std::string& channel, std::string payload);
  // A peer calls the plugin; runs the handler and returns its reply if it replied
  // synchronously (nullopt when the handler keeps the reply for later).
  std::optional<Result<std::string>> invoke(PeerId from, const std::string& method,
                                            std::string request);
  bool has_handler(const std::string& method) const { return call_handlers_.count(method) > 0; }
  // The node's process restarted (TestNode::restart()): every handler is gone, and the calls
  // still waiting for an answer are completed without calling back (their caller is gone).
  // What was sent and called stays recorded.
  void forget_handlers();

 private:
  PeerId self_;
  std::vector<PeerInfo> peers_;
  Executor& executor_;
  std::vector<Sent> sent_;
  std::vector<Call> calls_;
  std::map<std::string, MessageHandler> message_handlers_;
  std::map<std::string, CallHandler> call_handlers_;
};

}  // namespace nodus::testing
