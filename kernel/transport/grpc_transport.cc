#include "kernel/transport/grpc_transport.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <set>
#include <system_error>
#include <utility>

#include "kernel/transport/internal/peer_grpc.h"
#include "kernel/transport/internal/peer_identity.h"
#include "kernel/transport/internal/peer_link.h"
#include "kernel/transport/internal/peer_service.h"
#include "nodus/address.h"

namespace nodus::kernel {

namespace internal {
// One outgoing call from start to callback. Owned by GrpcTransport::calls_ meanwhile.
struct OutstandingCall {
  grpc::ClientContext context;
  nodus::v1::CallRequest request;
  nodus::v1::CallResponse response;
  std::shared_ptr<PeerLink> link;  // keeps the channel alive for the call
  nodus::CallCallback done;
  std::chrono::steady_clock::time_point started;
};
}  // namespace internal

namespace {

// Streams still open when stop() begins get this long to end on their own before the server
// cancels them.
constexpr auto kShutdownGrace = std::chrono::milliseconds(200);
// Longer call timeouts are clamped: they would overflow the deadline arithmetic.
constexpr nodus::Duration kCallTimeoutMax = std::chrono::hours(24);
// Bounds the inbound calls a single peer connection can have waiting on the executor.
constexpr int kServerStreamsPerConnectionMax = 1024;
// Lets clients send keepalive pings on idle streams (PeerLink pings every 10 s).
constexpr int kServerPingIntervalMinMs = 5'000;

static_assert(static_cast<int>(nodus::StatusCode::kDeadlineExceeded) ==
              static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED));
static_assert(static_cast<int>(nodus::StatusCode::kUnavailable) ==
              static_cast<int>(grpc::StatusCode::UNAVAILABLE));
static_assert(static_cast<int>(nodus::StatusCode::kUnauthenticated) ==
              static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));

// nodus codes are gRPC codes; anything outside the range is UNKNOWN.
nodus::StatusCode to_status_code(int code) {
  if (code < 0 || code >= internal::kStatusCodeCount) return nodus::StatusCode::kUnknown;
  return static_cast<nodus::StatusCode>(code);
}

// Why `address` ("host:port") cannot be bound, found by trying a bind() with the options
// gRPC uses (SO_REUSEADDR, no SO_REUSEPORT). gRPC itself only reports that it failed.
std::string bind_failure(const std::string& address) {
  const auto parsed = nodus::parse_host_port(address);
  if (!parsed.ok()) return "not a host:port address";
  const std::string& host = parsed->host;
  const std::string port = std::to_string(parsed->port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) return std::string("cannot resolve: ") + ::gai_strerror(rc);
  std::string reason = "cannot listen";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      reason = std::error_code(errno, std::generic_category()).message();
      continue;
    }
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      reason = std::error_code(errno, std::generic_category()).message();
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return reason;
}

std::vector<nodus::PeerInfo> without_self(std::vector<nodus::PeerInfo> peers, nodus::PeerId self) {
  std::erase_if(peers, [self](const nodus::PeerInfo& p) { return p.id == self; });
  return peers;
}

nodus::Result<std::string> call_result(const grpc::Status& status,
                                       nodus::v1::CallResponse& response,
                                       const std::string& prefix) {
  if (!status.ok()) {
    return nodus::Status(to_status_code(status.error_code()),
                         prefix + ": " + status.error_message());
  }
  if (response.code() != 0) {
    return nodus::Status(to_status_code(response.code()), prefix + ": " + response.message());
  }
  return std::move(*response.mutable_payload());
}

}  // namespace

GrpcTransport::GrpcTransport(GrpcTransportOptions options, nodus::Executor& executor,
                             nodus::Metrics& metrics, nodus::Logger& logger)
    : options_(std::move(options)),
      executor_(executor),
      metrics_(metrics),
      logger_(logger),
      handles_(metrics),
      registry_(std::make_shared<internal::HandlerRegistry>()),
      directory_(std::make_shared<internal::PeerDirectory>()),
      peers_(without_self(options_.peers, options_.self)) {
  directory_->set(peers_);
  directory_->set_self(options_.listen_address);
}

GrpcTransport::~GrpcTransport() {
  stop();
}

nodus::Status GrpcTransport::start() {
  std::lock_guard lock(mu_);
  if (state_ != State::kNew) return nodus::failed_precondition("peer transport: started twice");
  const std::string& address = options_.listen_address;
  if (address.empty()) return nodus::invalid_argument("peer transport: listen_address is empty");
  if (options_.max_message_bytes == 0 ||
      options_.max_message_bytes > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return nodus::invalid_argument("peer endpoint " + address +
                                   ": max_message_bytes must be in 1..2147483647");
  }
  if (options_.send_queue_len_max == 0 || options_.receive_pending_max == 0) {
    return nodus::invalid_argument("peer endpoint " + address +
                                   ": send_queue_len_max and receive_pending_max must be positive");
  }
  if (options_.reconnect_backoff_initial <= nodus::Duration::zero() ||
      options_.reconnect_backoff_initial > options_.reconnect_backoff_max) {
    return nodus::invalid_argument(
        "peer endpoint " + address +
        ": reconnect backoff must satisfy 0 < reconnect_backoff_initial <= reconnect_backoff_max");
  }
  if (!options_.credentials.server || !options_.credentials.channel) {
    return nodus::invalid_argument("peer endpoint " + address + ": credentials are not set");
  }
  NODUS_RETURN_IF_ERROR(validate_peers(peers_));
  NODUS_RETURN_IF_ERROR(start_server());
  for (const nodus::PeerInfo& peer : peers_)
    links_.emplace(peer.id, make_link(peer));
  state_ = State::kRunning;
  logger_.info("peer transport listening",
               {{"address", address}, {"port", std::to_string(bound_port_)}});
  return {};
}

nodus::Status GrpcTransport::start_server() {
  const std::string& address = options_.listen_address;
  service_ = std::make_unique<internal::PeerService>(internal::PeerServiceDeps{
      options_.self, registry_, &executor_, &handles_, &logger_, options_.receive_pending_max,
      options_.max_message_bytes, options_.cluster, directory_});
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, options_.credentials.server, &port);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options_.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options_.max_message_bytes));
  // Without this a second node could bind the same port (gRPC sets SO_REUSEPORT by default)
  // and silently share its traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kServerStreamsPerConnectionMax);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kServerPingIntervalMinMs);
  server_ = builder.BuildAndStart();
  if (!server_ || port <= 0) {
    server_.reset();
    service_.reset();
    return nodus::unavailable("peer endpoint " + address + ": " + bind_failure(address));
  }
  bound_port_ = static_cast<uint16_t>(port);
  return {};
}

void GrpcTransport::stop() {
  std::map<nodus::PeerId, std::shared_ptr<internal::PeerLink>> links;
  std::unique_ptr<grpc::Server> server;
  {
    std::lock_guard lock(mu_);
    const bool was_running = state_ == State::kRunning;
    state_ = State::kStopped;
    if (!was_running) return;
    links.swap(links_);
    server = std::move(server_);
  }
  registry_->close();
  for (auto& [id, link] : links)
    link->stop();
  {
    // Cancelled calls complete promptly, so this wait is short; it must not be cut short,
    // because each callback still refers to this object.
    std::unique_lock lock(calls_mu_);
    calls_closed_ = true;
    for (auto& [raw, call] : calls_)
      call->context.TryCancel();
    calls_cv_.wait(lock, [&] { return calls_.empty(); });
  }
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server.reset();
  service_.reset();
  logger_.info("peer transport stopped", {{"address", options_.listen_address}});
}

uint16_t GrpcTransport::bound_port() const {
  std::lock_guard lock(mu_);
  return bound_port_;
}

nodus::Status GrpcTransport::set_peers(std::vector<nodus::PeerInfo> peers) {
  peers = without_self(std::move(peers), options_.self);
  NODUS_RETURN_IF_ERROR(validate_peers(peers));
  std::vector<std::shared_ptr<internal::PeerLink>> retired;
  {
    std::lock_guard lock(mu_);
    if (state_ == State::kRunning) {
      std::map<nodus::PeerId, std::shared_ptr<internal::PeerLink>> next;
      for (const nodus::PeerInfo& peer : peers) {
        auto it = links_.find(peer.id);
        if (it != links_.end() && it->second->peer().address == peer.address) {
          next.emplace(peer.id, std::move(it->second));
          links_.erase(it);
        } else {
          next.emplace(peer.id, make_link(peer));
        }
      }
      for (auto& [id, link] : links_)
        retired.push_back(std::move(link));
      links_.swap(next);
    }
    directory_->set(peers);
    peers_ = std::move(peers);
  }
  for (auto& link : retired)
    link->stop();  // joins: outside the lock
  return {};
}

nodus::Status GrpcTransport::follow_membership(const std::vector<nodus::Member>& members) {
  std::vector<nodus::PeerInfo> peers;
  std::map<nodus::PeerId, std::string> departed;
  for (const nodus::Member& m : members) {
    if (m.id == options_.self) continue;
    if (!m.reachable()) {
      departed[m.id] = "peer " + std::to_string(m.id) + " " +
                       (m.state == nodus::MemberState::kLeft ? "left the cluster" : "is dead") +
                       " (membership, incarnation " + std::to_string(m.incarnation) + ")";
    } else if (const std::string endpoint = m.endpoint("peer"); !endpoint.empty()) {
      peers.push_back({m.id, endpoint});
    }
  }
  NODUS_RETURN_IF_ERROR(set_peers(std::move(peers)));
  std::lock_guard lock(mu_);
  departed_ = std::move(departed);
  return {};
}

std::vector<nodus::PeerInfo> GrpcTransport::peers() const {
  std::lock_guard lock(mu_);
  return peers_;
}

nodus::Status GrpcTransport::send(nodus::PeerId to, std::string_view channel, std::string payload) {
  std::shared_ptr<internal::PeerLink> link;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kRunning) {
      return nodus::unavailable("send to peer " + std::to_string(to) +
                                ": peer transport is not running");
    }
    auto it = links_.find(to);
    if (it != links_.end()) link = it->second;
    if (!link) {
      if (auto gone = departed_.find(to); gone != departed_.end()) {
        return nodus::unavailable("send to peer " + std::to_string(to) + ": " + gone->second);
      }
    }
  }
  if (!link) return nodus::not_found("send to peer " + std::to_string(to) + ": unknown peer");
  return link->enqueue(channel, std::move(payload));
}

void GrpcTransport::call(nodus::PeerId to, std::string_view method, std::string request,
                         nodus::Duration timeout, nodus::CallCallback done) {
  const auto started = std::chrono::steady_clock::now();
  if (!done) done = [](const nodus::Result<std::string>&) {};
  const std::string what = "call '" + std::string(method) + "' to peer " + std::to_string(to);
  std::shared_ptr<internal::PeerLink> link;
  {
    std::lock_guard lock(mu_);
    if (state_ != State::kRunning) {
      complete_call(std::move(done), nodus::unavailable(what + ": peer transport is not running"),
                    std::nullopt);
      return;
    }
    auto it = links_.find(to);
    if (it != links_.end()) link = it->second;
    if (!link) {
      if (auto gone = departed_.find(to); gone != departed_.end()) {
        complete_call(std::move(done), nodus::unavailable(what + ": " + gone->second),
                      std::nullopt);
        return;
      }
    }
  }
  if (!link) {
    complete_call(std::move(done), nodus::not_found(what + ": unknown peer"), std::nullopt);
    return;
  }
  auto call = std::make_unique<internal::OutstandingCall>();
  call->request.set_from(options_.self);
  call->request.set_method(std::string(method));
  call->request.set_payload(std::move(request));
  if (const size_t size = call->request.ByteSizeLong(); size > options_.max_message_bytes) {
    complete_call(
        std::move(done),
        nodus::invalid_argument(link->name() + ": call '" + std::string(method) + "' request of " +
                                std::to_string(size) + " bytes exceeds max_message_bytes " +
                                std::to_string(options_.max_message_bytes)),
        std::nullopt);
    return;
  }
  timeout = std::clamp(timeout, nodus::Duration::zero(), kCallTimeoutMax);
  call->context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
  call->link = link;
  call->done = std::move(done);
  call->started = started;
  internal::OutstandingCall* raw = call.get();
  {
    std::lock_guard lock(calls_mu_);
    if (calls_closed_) {
      complete_call(std::move(call->done),
                    nodus::unavailable(what + ": peer transport is not running"), std::nullopt);
      return;
    }
    calls_.emplace(raw, std::move(call));
  }
  link->stub().async()->Call(&raw->context, &raw->request, &raw->response,
                             [this, raw](grpc::Status status) { on_call_done(raw, status); });
}

void GrpcTransport::on_call_done(internal::OutstandingCall* call, const grpc::Status& status) {
  const std::string prefix = call->link->name() + ": call '" + call->request.method() + "'";
  complete_call(std::move(call->done), call_result(status, call->response, prefix), call->started);
  std::unique_ptr<internal::OutstandingCall> owned;
  {
    std::lock_guard lock(calls_mu_);
    auto it = calls_.find(call);
    owned = std::move(it->second);
    calls_.erase(it);
    // Notified under the lock: stop() may destroy this object once the lock is released.
    calls_cv_.notify_all();
  }
}

void GrpcTransport::complete_call(nodus::CallCallback done, nodus::Result<std::string> result,
                                  std::optional<std::chrono::steady_clock::time_point> started) {
  if (started) {
    handles_.call_latency.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - *started).count());
  }
  handles_.calls(result.ok() ? nodus::StatusCode::kOk : result.status().code()).inc();
  executor_.post(
      [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

nodus::Status GrpcTransport::on_message(std::string channel, nodus::MessageHandler handler) {
  return registry_->add_message_handler(std::move(channel), std::move(handler));
}

nodus::Status GrpcTransport::on_call(std::string method, nodus::CallHandler handler) {
  return registry_->add_call_handler(std::move(method), std::move(handler));
}

nodus::Status GrpcTransport::validate_peers(const std::vector<nodus::PeerInfo>& peers) const {
  std::set<nodus::PeerId> seen;
  for (const nodus::PeerInfo& peer : peers) {
    if (peer.address.empty()) {
      return nodus::invalid_argument("peer " + std::to_string(peer.id) + ": address is empty");
    }
    if (!seen.insert(peer.id).second) {
      return nodus::invalid_argument("peer " + std::to_string(peer.id) + " (" + peer.address +
                                     "): listed twice");
    }
  }
  return {};
}

std::shared_ptr<internal::PeerLink> GrpcTransport::make_link(const nodus::PeerInfo& peer) {
  auto link = std::make_shared<internal::PeerLink>(
      internal::PeerLinkOptions{options_.self, peer, options_.send_queue_len_max,
                                options_.max_message_bytes, options_.reconnect_backoff_initial,
                                options_.reconnect_backoff_max, options_.credentials.channel},
      handles_, metrics_, logger_);
  link->start();
  return link;
}

}  // namespace nodus::kernel
