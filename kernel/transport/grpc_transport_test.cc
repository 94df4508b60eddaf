#include "kernel/transport/grpc_transport.h"

#include "kernel/runtime/executor.h"
#include "kernel/transport/test_doubles.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>

#include "kernel/transport/internal/peer_grpc.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nodus::kernel {
namespace {

using namespace std::chrono_literals;
using fakes::Clock;
using fakes::eventually;
using fakes::Mailbox;
using fakes::Results;
using fakes::TestMetrics;

// ---- fixture ------------------------------------------------------------------------------

class GrpcTransportTest : public ::testing::Test {
 protected:
  GrpcTransportTest() { executor_.start(); }

  static GrpcTransportOptions options(nodus::PeerId self, uint16_t port = 0) {
    GrpcTransportOptions o;
    o.self = self;
    o.listen_address = "127.0.0.1:" + std::to_string(port);
    o.reconnect_backoff_initial = 20ms;
    o.reconnect_backoff_max = 200ms;
    return o;
  }
  std::unique_ptr<GrpcTransport> make(GrpcTransportOptions o) {
    return std::make_unique<GrpcTransport>(std::move(o), executor_, metrics_, logger_);
  }
  static std::string address(const GrpcTransport& t) {
    return "127.0.0.1:" + std::to_string(t.bound_port());
  }
  // Starts both (port 0) and makes each the other's peer.
  static void start_pair(GrpcTransport& a, GrpcTransport& b) {
    ASSERT_TRUE(a.start().ok());
    ASSERT_TRUE(b.start().ok());
    ASSERT_TRUE(a.set_peers({{b.self(), address(b)}}).ok());
    ASSERT_TRUE(b.set_peers({{a.self(), address(a)}}).ok());
  }
  // A port nothing listens on (it was bound, then released).
  uint16_t closed_port() {
    auto t = make(options(9));
    EXPECT_TRUE(t->start().ok());
    const uint16_t port = t->bound_port();
    t->stop();
    return port;
  }
  // Issues the call on the executor, as a plugin does, and returns once it is issued. (From
  // another thread, the hand-off of the callback through gRPC's uninstrumented core is a
  // happens-before ThreadSanitizer cannot see.)
  std::shared_ptr<Results> call(GrpcTransport& from, nodus::PeerId to, std::string method,
                                std::string request, nodus::Duration timeout = 5s) {
    auto results = std::make_shared<Results>();
    std::promise<void> issued;
    executor_.post([&] {
      from.call(to, method, std::move(request), timeout,
                [results](nodus::Result<std::string> r) { results->push(std::move(r)); });
      issued.set_value();
    });
    issued.get_future().wait();
    return results;
  }

  TestMetrics metrics_;
  std::shared_ptr<nodus::testing::LogLines> log_lines_ =
      std::make_shared<nodus::testing::LogLines>();
  nodus::testing::CaptureLogger logger_{"transport", log_lines_};
  // The node's real executor, started by the constructor; declared after what its tasks use,
  // so it is destroyed (and joined) first.
  AsioExecutor executor_{"transport-test"};
};

// ---- tests --------------------------------------------------------------------------------

TEST_F(GrpcTransportTest, OneWayMessagesArriveInOrder) {
  // Goal: 1000 one-way messages between two transports all arrive, in order, with `from` set.
  auto a = make(options(0));
  auto b = make(options(1));
  auto inbox = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(b->on_message("ch", [inbox](nodus::PeerId from, std::string payload) {
                 inbox->push(std::to_string(from) + ":" + payload);
               }).ok());
  start_pair(*a, *b);
  constexpr int kCount = 1000;
  for (int i = 0; i < kCount; ++i)
    ASSERT_TRUE(a->send(1, "ch", std::to_string(i)).ok()) << i;
  ASSERT_TRUE(inbox->wait_size(kCount));
  const auto got = inbox->items();
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i)], "0:" + std::to_string(i));
  // The sender counts a message after its write returns, which may trail the delivery.
  EXPECT_TRUE(
      eventually([&] { return metrics_.value("nodus_transport_messages_sent_total") == kCount; }));
  EXPECT_EQ(metrics_.value("nodus_transport_messages_received_total"), kCount);
}

TEST_F(GrpcTransportTest, InboundFlowControlKeepsOrderWithSlowHandler) {
  // Goal: a stream that pauses at receive_pending_max resumes and still delivers all, in order.
  auto a = make(options(0));
  auto o = options(1);
  o.receive_pending_max = 2;
  auto b = make(std::move(o));
  auto inbox = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(b->on_message("ch", [inbox](nodus::PeerId, std::string payload) {
                 std::this_thread::sleep_for(100us);
                 inbox->push(std::move(payload));
               }).ok());
  start_pair(*a, *b);
  constexpr int kCount = 300;
  for (int i = 0; i < kCount; ++i)
    ASSERT_TRUE(a->send(1, "ch", std::to_string(i)).ok());
  ASSERT_TRUE(inbox->wait_size(kCount));
  const auto got = inbox->items();
  for (int i = 0; i < kCount; ++i)
    EXPECT_EQ(got[static_cast<size_t>(i)], std::to_string(i));
}

TEST_F(GrpcTransportTest, CallRoundTripImmediateAndDeferredReply) {
  // Goal: a call returns the handler's reply, whether it replies at once or later.
  auto a = make(options(0));
  auto b = make(options(1));
  ASSERT_TRUE(b->on_call("echo", [](nodus::PeerId from, std::string req, nodus::CallReply reply) {
                 reply(std::to_string(from) + ":" + req);
               }).ok());
  ASSERT_TRUE(b->on_call("later", [this](nodus::PeerId, std::string req, nodus::CallReply reply) {
                 executor_.schedule_after(20ms, [reply, req] { reply("late:" + req); });
               }).ok());
  start_pair(*a, *b);
  auto now = call(*a, 1, "echo", "hi");
  auto later = call(*a, 1, "later", "yo");
  ASSERT_TRUE(now->wait_size(1));
  ASSERT_TRUE(later->wait_size(1));
  ASSERT_TRUE(now->items()[0].ok()) << now->items()[0].status().to_string();
  EXPECT_EQ(now->items()[0].value(), "0:hi");
  ASSERT_TRUE(later->items()[0].ok()) << later->items()[0].status().to_string();
  EXPECT_EQ(later->items()[0].value(), "late:yo");
  EXPECT_EQ(metrics_.value("nodus_transport_calls_total", {{"code", "OK"}}), 2);
}

TEST_F(GrpcTransportTest, HandlerErrorReachesCaller) {
  // Goal: an error the handler replies with arrives with its code and message.
  auto a = make(options(0));
  auto b = make(options(1));
  ASSERT_TRUE(b->on_call("get", [](nodus::PeerId, std::string, nodus::CallReply reply) {
                 reply(nodus::not_found("key 'x' is absent"));
               }).ok());
  start_pair(*a, *b);
  auto r = call(*a, 1, "get", "x");
  ASSERT_TRUE(r->wait_size(1));
  EXPECT_EQ(r->items()[0].status().code(), nodus::StatusCode::kNotFound);
  EXPECT_NE(r->items()[0].status().message().find("key 'x' is absent"), std::string::npos);
}

TEST_F(GrpcTransportTest, CallWithoutHandlerIsUnimplemented) {
  // Goal: calling a method nobody registered fails with UNIMPLEMENTED naming the method.
  auto a = make(options(0));
  auto b = make(options(1));
  start_pair(*a, *b);
  auto r = call(*a, 1, "no.such.method", "");
  ASSERT_TRUE(r->wait_size(1));
  const nodus::Status s = r->items()[0].status();
  EXPECT_EQ(s.code(), nodus::StatusCode::kUnimplemented) << s.to_string();
  EXPECT_NE(s.message().find("no.such.method"), std::string::npos) << s.to_string();
}

TEST_F(GrpcTransportTest, HandlerThatNeverRepliesHitsDeadline) {
  // Goal: a handler that never replies yields DEADLINE_EXCEEDED within the deadline, and a
  // reply that comes too late is ignored harmlessly.
  auto a = make(options(0));
  auto b = make(options(1));
  auto held = std::make_shared<Mailbox<nodus::CallReply>>();
  ASSERT_TRUE(b->on_call("hole", [held](nodus::PeerId, std::string, nodus::CallReply reply) {
                 held->push(std::move(reply));
               }).ok());
  ASSERT_TRUE(b->on_call("echo", [](nodus::PeerId, std::string req, nodus::CallReply reply) {
                 reply(std::move(req));
               }).ok());
  start_pair(*a, *b);
  const auto started = Clock::now();
  auto r = call(*a, 1, "hole", "", 300ms);
  ASSERT_TRUE(r->wait_size(1));
  const auto elapsed = Clock::now() - started;
  EXPECT_EQ(r->items()[0].status().code(), nodus::StatusCode::kDeadlineExceeded)
      << r->items()[0].status().to_string();
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 1300ms);
  ASSERT_TRUE(held->wait_size(1));
  executor_.post([held] { held->items()[0](std::string("too late")); });
  auto echo = call(*a, 1, "echo", "still alive");
  ASSERT_TRUE(echo->wait_size(1));
  EXPECT_EQ(echo->items()[0].value_or(""), "still alive");
}

TEST_F(GrpcTransportTest, CallToDeadPeerFails) {
  // Goal: a call to a peer nobody serves fails with UNAVAILABLE (or DEADLINE_EXCEEDED) and
  // names the peer's address.
  const std::string dead = "127.0.0.1:" + std::to_string(closed_port());
  auto o = options(0);
  o.peers = {{1, dead}};
  auto a = make(std::move(o));
  ASSERT_TRUE(a->start().ok());
  auto r = call(*a, 1, "echo", "", 2s);
  ASSERT_TRUE(r->wait_size(1));
  const nodus::Status s = r->items()[0].status();
  EXPECT_TRUE(s.code() == nodus::StatusCode::kUnavailable ||
              s.code() == nodus::StatusCode::kDeadlineExceeded)
      << s.to_string();
  EXPECT_NE(s.message().find(dead), std::string::npos) << s.to_string();
}

TEST_F(GrpcTransportTest, MessagesFlowAgainAfterPeerRestart) {
  // Goal: after the receiver restarts on the same port, the sender reconnects and delivers.
  auto a = make(options(0));
  auto b = make(options(1));
  auto first = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(b->on_message("ch", [first](nodus::PeerId, std::string p) {
                 first->push(std::move(p));
               }).ok());
  start_pair(*a, *b);
  ASSERT_TRUE(a->send(1, "ch", "before").ok());
  ASSERT_TRUE(first->wait_size(1));
  const uint16_t port = b->bound_port();
  b->stop();
  b.reset();

  auto o = options(1, port);
  o.peers = {{0, address(*a)}};  // as before the restart: a node accepts its configured peers
  auto again = make(std::move(o));
  auto second = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(
      again
          ->on_message("ch", [second](nodus::PeerId, std::string p) { second->push(std::move(p)); })
          .ok());
  ASSERT_TRUE(again->start().ok());
  // Best effort: keep sending until one arrives (the first after the restart may be lost).
  bool delivered = false;
  for (int i = 0; i < 100 && !delivered; ++i) {
    (void)a->send(1, "ch", "after");
    delivered = second->wait_size(1, 100ms);
  }
  ASSERT_TRUE(delivered);
  EXPECT_EQ(second->items()[0], "after");
  EXPECT_GE(metrics_.value("nodus_transport_reconnects_total", {{"peer", "1"}}), 1);
}

TEST_F(GrpcTransportTest, CorruptMessageIsCountedAndTheStreamGoesOn) {
  // Goal: bytes that do not decode as an Envelope are dropped and counted, the node does not
  // crash, and the next valid message on the same stream is still delivered.
  auto ob = options(1);
  ob.peers = {{0, "127.0.0.1:1"}};  // the sender must be a configured peer
  auto b = make(std::move(ob));
  auto inbox = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(b->on_message("ch", [inbox](nodus::PeerId, std::string payload) {
                 inbox->push(std::move(payload));
               }).ok());
  ASSERT_TRUE(b->start().ok());
  auto channel = grpc::CreateChannel(address(*b), grpc::InsecureChannelCredentials());
  grpc::ClientContext context;
  grpc::ByteBuffer ack;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer(
      grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
          channel.get(),
          grpc::internal::RpcMethod("/nodus.v1.Peer/Stream",
                                    grpc::internal::RpcMethod::CLIENT_STREAMING),
          &context, &ack));
  const std::string corrupt = std::string("\x12\x05") + "ab";  // field 2 claims 5 bytes, 2 follow
  grpc::Slice slice(corrupt.data(), corrupt.size());
  ASSERT_TRUE(writer->Write(grpc::ByteBuffer(&slice, 1)));
  nodus::v1::Envelope good;
  good.set_from(0);
  good.set_channel("ch");
  good.set_payload("after");
  grpc::ByteBuffer good_bytes;
  bool own = false;
  ASSERT_TRUE(
      grpc::SerializationTraits<nodus::v1::Envelope>::Serialize(good, &good_bytes, &own).ok());
  ASSERT_TRUE(writer->Write(good_bytes));
  ASSERT_TRUE(inbox->wait_size(1));
  EXPECT_EQ(inbox->items().front(), "after");
  EXPECT_EQ(metrics_.value("nodus_transport_messages_dropped_total", {{"reason", "corrupt"}}), 1);
  EXPECT_TRUE(writer->WritesDone());
  EXPECT_TRUE(writer->Finish().ok());
  EXPECT_TRUE(log_lines_->contains("dropped a corrupt message"));
}

// Writes raw Envelopes to a node's Stream method, as any process that reaches the port could.
class RawStream {
 public:
  explicit RawStream(const std::string& address)
      : channel_(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        writer_(grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
            channel_.get(),
            grpc::internal::RpcMethod("/nodus.v1.Peer/Stream",
                                      grpc::internal::RpcMethod::CLIENT_STREAMING),
            &context_, &ack_)) {}
  bool send(nodus::PeerId from, const std::string& payload) {
    nodus::v1::Envelope e;
    e.set_from(from);
    e.set_channel("ch");
    e.set_payload(payload);
    grpc::ByteBuffer bytes;
    bool own = false;
    return grpc::SerializationTraits<nodus::v1::Envelope>::Serialize(e, &bytes, &own).ok() &&
           writer_->Write(bytes);
  }
  bool close() { return writer_->WritesDone() && writer_->Finish().ok(); }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext context_;
  grpc::ByteBuffer ack_;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer_;
};

// A unary Call with a chosen `from`, as any process that reaches the port could make it.
grpc::Status raw_call(const std::string& address, nodus::PeerId from, const std::string& method) {
  auto stub =
      nodus::v1::Peer::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  nodus::v1::CallRequest request;
  request.set_from(from);
  request.set_method(method);
  nodus::v1::CallResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  return stub->Call(&context, request, &response);
}

TEST_F(GrpcTransportTest, ForgedSenderOverPlaintextIsDroppedAndCounted) {
  // Goal: without TLS, a message or call claiming a sender that is not a configured peer, a
  // peer configured at another IP address, or a second sender on one stream reaches no
  // handler and is counted; a sender that matches its configuration is delivered.
  auto ob = options(1);
  ob.peers = {{0, "127.0.0.1:1"}, {2, "127.0.0.2:1"}, {3, "127.0.0.1:2"}};
  auto b = make(std::move(ob));
  auto inbox = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(b->on_message("ch", [inbox](nodus::PeerId from, std::string payload) {
                 inbox->push(std::to_string(from) + ":" + payload);
               }).ok());
  std::atomic<int> served = 0;
  ASSERT_TRUE(b->on_call("m", [&served](nodus::PeerId, std::string, nodus::CallReply reply) {
                 ++served;
                 reply(std::string("ok"));
               }).ok());
  ASSERT_TRUE(b->start().ok());
  {
    RawStream unknown(address(*b));
    ASSERT_TRUE(unknown.send(7, "unknown"));  // not a configured peer
    EXPECT_TRUE(unknown.close());
  }
  {
    RawStream elsewhere(address(*b));
    ASSERT_TRUE(elsewhere.send(2, "elsewhere"));  // peer 2 lives at 127.0.0.2
    EXPECT_TRUE(elsewhere.close());
  }
  {
    RawStream switching(address(*b));
    ASSERT_TRUE(switching.send(0, "genuine"));
    ASSERT_TRUE(switching.send(3, "switched"));  // the stream is peer 0's
    ASSERT_TRUE(switching.send(0, "again"));
    EXPECT_TRUE(switching.close());
  }
  ASSERT_TRUE(inbox->wait_size(2));
  EXPECT_EQ(inbox->items(), (std::vector<std::string>{"0:genuine", "0:again"}));
  EXPECT_EQ(metrics_.value("nodus_transport_messages_dropped_total", {{"reason", "forged_sender"}}),
            3);
  EXPECT_TRUE(log_lines_->contains("forged sender"));

  const grpc::Status forged = raw_call(address(*b), 2, "m");
  EXPECT_EQ(forged.error_code(), grpc::StatusCode::PERMISSION_DENIED) << forged.error_message();
  EXPECT_NE(forged.error_message().find("127.0.0.2"), std::string::npos) << forged.error_message();
  EXPECT_EQ(raw_call(address(*b), 7, "m").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(metrics_.value("nodus_transport_calls_refused_total", {{"reason", "forged_sender"}}),
            2);
  EXPECT_EQ(served.load(), 0);
  const grpc::Status genuine = raw_call(address(*b), 0, "m");
  EXPECT_TRUE(genuine.ok()) << genuine.error_message();
  EXPECT_EQ(served.load(), 1);
}

TEST_F(GrpcTransportTest, OversizedPayloadIsInvalidArgument) {
  // Goal: a message or request over max_message_bytes is refused locally and counted.
  auto o = options(0);
  o.max_message_bytes = 1024;
  o.peers = {{1, "127.0.0.1:1"}};
  auto a = make(std::move(o));
  ASSERT_TRUE(a->start().ok());
  const nodus::Status s = a->send(1, "ch", std::string(2048, 'x'));
  EXPECT_EQ(s.code(), nodus::StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_NE(s.message().find("max_message_bytes"), std::string::npos) << s.to_string();
  EXPECT_EQ(metrics_.value("nodus_transport_messages_dropped_total", {{"reason", "too_large"}}), 1);
  auto r = call(*a, 1, "echo", std::string(2048, 'x'));
  ASSERT_TRUE(r->wait_size(1));
  EXPECT_EQ(r->items()[0].status().code(), nodus::StatusCode::kInvalidArgument);
}

TEST_F(GrpcTransportTest, PeerRejectsMessageOverItsLimit) {
  // Goal: a message the receiver refuses (over its smaller limit) is counted and dropped,
  // and the link keeps delivering later messages instead of retrying it forever.
  auto a = make(options(0));
  auto ob = options(1);
  ob.max_message_bytes = 16 * 1024;
  auto b = make(std::move(ob));
  auto inbox = std::make_shared<Mailbox<std::string>>();
  ASSERT_TRUE(b->on_message("ch", [inbox](nodus::PeerId, std::string p) {
                 inbox->push(p.size() > 100 ? "big" : p);
               }).ok());
  start_pair(*a, *b);
  ASSERT_TRUE(a->send(1, "ch", std::string(64 * 1024, 'x')).ok());
  bool delivered = false;
  for (int i = 0; i < 100 && !delivered; ++i) {
    ASSERT_TRUE(a->send(1, "ch", "small").ok());
    delivered = inbox->wait_size(1, 100ms);
  }
  ASSERT_TRUE(delivered);
  for (const auto& m : inbox->items())
    EXPECT_EQ(m, "small");
  EXPECT_GE(metrics_.value("nodus_transport_messages_dropped_total", {{"reason", "rejected"}}), 1);
}

TEST_F(GrpcTransportTest, FullQueueIsResourceExhausted) {
  // Goal: with the peer down, send() accepts send_queue_len_max messages, then refuses.
  auto o = options(0);
  o.send_queue_len_max = 8;
  o.peers = {{1, "127.0.0.1:" + std::to_string(closed_port())}};
  auto a = make(std::move(o));
  ASSERT_TRUE(a->start().ok());
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(a->send(1, "ch", "m").ok()) << i;
  const nodus::Status s = a->send(1, "ch", "m");
  EXPECT_EQ(s.code(), nodus::StatusCode::kResourceExhausted) << s.to_string();
  EXPECT_NE(s.message().find("peer 1"), std::string::npos) << s.to_string();
  EXPECT_EQ(metrics_.value("nodus_transport_messages_dropped_total", {{"reason", "queue_full"}}),
            1);
}

TEST_F(GrpcTransportTest, StartOnTakenPortFails) {
  // Goal: start() on a port another transport holds fails with UNAVAILABLE naming the address.
  auto a = make(options(0));
  ASSERT_TRUE(a->start().ok());
  auto b = make(options(1, a->bound_port()));
  const nodus::Status s = b->start();
  EXPECT_EQ(s.code(), nodus::StatusCode::kUnavailable) << s.to_string();
  EXPECT_NE(s.message().find(address(*a)), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find("in use"), std::string::npos) << s.to_string();
}

TEST_F(GrpcTransportTest, RegistrationAndPeerErrors) {
  // Goal: duplicate handlers are ALREADY_EXISTS; unknown peers are NOT_FOUND for send and call.
  auto a = make(options(0));
  auto noop_message = [](nodus::PeerId, std::string) {};
  auto noop_call = [](nodus::PeerId, std::string, nodus::CallReply) {};
  ASSERT_TRUE(a->on_message("ch", noop_message).ok());
  EXPECT_EQ(a->on_message("ch", noop_message).code(), nodus::StatusCode::kAlreadyExists);
  ASSERT_TRUE(a->on_call("m", noop_call).ok());
  EXPECT_EQ(a->on_call("m", noop_call).code(), nodus::StatusCode::kAlreadyExists);
  ASSERT_TRUE(a->start().ok());
  EXPECT_EQ(a->send(7, "ch", "").code(), nodus::StatusCode::kNotFound);
  auto r = call(*a, 7, "m", "");
  ASSERT_TRUE(r->wait_size(1));
  EXPECT_EQ(r->items()[0].status().code(), nodus::StatusCode::kNotFound);
}

TEST_F(GrpcTransportTest, StopIsBoundedWithCallsInFlight) {
  // Goal: stop() on both ends returns promptly while a call waits on a silent handler, and
  // the caller's `done` still runs exactly once.
  auto a = make(options(0));
  auto b = make(options(1));
  auto held = std::make_shared<Mailbox<nodus::CallReply>>();
  ASSERT_TRUE(b->on_call("hole", [held](nodus::PeerId, std::string, nodus::CallReply reply) {
                 held->push(std::move(reply));
               }).ok());
  start_pair(*a, *b);
  auto r = call(*a, 1, "hole", "", 30s);
  ASSERT_TRUE(held->wait_size(1));
  const auto started = Clock::now();
  b->stop();
  a->stop();
  EXPECT_LT(Clock::now() - started, 2s);
  ASSERT_TRUE(r->wait_size(1));
  EXPECT_FALSE(r->items()[0].ok());
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(r->items().size(), 1u);
}

// ---- membership ---------------------------------------------------------------------------

nodus::Member member_at(nodus::PeerId id, const GrpcTransport& t, nodus::MemberState state,
                        uint64_t incarnation = 0) {
  nodus::Member m;
  m.id = id;
  m.address = "127.0.0.1";
  m.ports = {{"peer", t.bound_port()}};
  m.state = state;
  m.incarnation = incarnation;
  return m;
}

TEST_F(GrpcTransportTest, PeersFollowMembership) {
  // Goal: a member that joins can be called; once it left, calls and sends fail at once with
  // UNAVAILABLE naming it (its link is gone, nothing dials it); a rejoin makes it reachable.
  auto a = make(options(0));
  auto b = make(options(1));
  ASSERT_TRUE(b->on_call("echo", [](nodus::PeerId, std::string req, nodus::CallReply reply) {
                 reply("b:" + req);
               }).ok());
  ASSERT_TRUE(a->start().ok());
  ASSERT_TRUE(b->start().ok());
  ASSERT_TRUE(b->set_peers({{0, address(*a)}}).ok());  // b accepts only configured senders
  using S = nodus::MemberState;
  ASSERT_TRUE(
      a->follow_membership({member_at(0, *a, S::kAlive), member_at(1, *b, S::kAlive)}).ok());
  ASSERT_EQ(a->peers().size(), 1u);
  EXPECT_EQ(a->peers()[0].address, address(*b));
  auto joined = call(*a, 1, "echo", "hi");
  ASSERT_TRUE(joined->wait_size(1));
  ASSERT_TRUE(joined->items()[0].ok()) << joined->items()[0].status().to_string();
  EXPECT_EQ(joined->items()[0].value(), "b:hi");

  ASSERT_TRUE(
      a->follow_membership({member_at(0, *a, S::kAlive), member_at(1, *b, S::kLeft, 1)}).ok());
  EXPECT_TRUE(a->peers().empty());
  auto left = call(*a, 1, "echo", "again", 30s);
  // The failure is posted while the call is issued, so it runs before this barrier task: no
  // network round trip, no deadline.
  std::promise<void> barrier;
  executor_.post([&] { barrier.set_value(); });
  barrier.get_future().wait();
  ASSERT_EQ(left->items().size(), 1u) << "a call to a member that left must fail at once";
  EXPECT_EQ(left->items()[0].status().to_string(),
            "UNAVAILABLE: call 'echo' to peer 1: peer 1 left the cluster (membership, "
            "incarnation 1)");
  const Status sent = a->send(1, "ch", "x");
  EXPECT_EQ(sent.to_string(),
            "UNAVAILABLE: send to peer 1: peer 1 left the cluster (membership, incarnation 1)");
  ASSERT_TRUE(
      a->follow_membership({member_at(0, *a, S::kAlive), member_at(1, *b, S::kDead, 2)}).ok());
  EXPECT_EQ(a->send(1, "ch", "x").message(),
            "send to peer 1: peer 1 is dead (membership, incarnation 2)");
  EXPECT_EQ(a->send(7, "ch", "x").code(), StatusCode::kNotFound) << "never a member";

  ASSERT_TRUE(
      a->follow_membership({member_at(0, *a, S::kAlive), member_at(1, *b, S::kAlive, 3)}).ok());
  auto back = call(*a, 1, "echo", "back");
  ASSERT_TRUE(back->wait_size(1));
  ASSERT_TRUE(back->items()[0].ok()) << back->items()[0].status().to_string();
  a->stop();
  b->stop();
}

}  // namespace
}  // namespace nodus::kernel
