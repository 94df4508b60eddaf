#include "nodus/testing/sim_http.h"

#include <optional>
#include <utility>

#include "nodus/address.h"
#include "nodus/testing/fake_http_client.h"

namespace nodus::testing {
namespace {

// "host:port" of a normalized URL, with the scheme's default port when it names none.
std::string address_of(const std::string& url) {
  const bool tls = url.rfind("https://", 0) == 0;
  const size_t start = url.find("//") + 2;
  const size_t slash = url.find('/', start);
  std::string authority = url.substr(start, slash == std::string::npos ? slash : slash - start);
  auto hp = parse_host_port(authority);
  if (!hp.ok()) hp = parse_host_port(authority + (tls ? ":443" : ":80"));
  return hp.ok() ? format_host_port(hp->host, hp->port) : std::string();
}

}  // namespace

Status SimHttpEndpoints::add(const std::string& address, SimNodeId node, SimHttpHandler handler) {
  auto hp = parse_host_port(address);
  if (!hp.ok()) return hp.status();
  const std::string key = format_host_port(hp->host, hp->port);
  if (endpoints_.count(key)) return already_exists("sim http endpoint " + key + ": already taken");
  endpoints_.emplace(key, Endpoint{node, std::move(handler)});
  return {};
}

bool SimHttpEndpoints::remove(const std::string& address) {
  return endpoints_.erase(address) > 0;
}

const SimHttpEndpoints::Endpoint* SimHttpEndpoints::find(const std::string& address) const {
  auto it = endpoints_.find(address);
  return it == endpoints_.end() ? nullptr : &it->second;
}

SimHttpClient::SimHttpClient(SimWorld& world, SimNetwork& network, SimHttpEndpoints& endpoints,
                             SimNodeId self, Executor& executor, HttpClientLimits limits)
    : world_(world),
      network_(network),
      endpoints_(endpoints),
      self_(self),
      executor_(executor),
      limits_(limits) {}

SimHttpClient::~SimHttpClient() {
  shutdown();
}

void SimHttpClient::shutdown() {
  state_->shut = true;
  for (auto& [id, p] : state_->pending)
    executor_.cancel(p.second);
  state_->pending.clear();
}

std::optional<TimePoint> SimHttpClient::route(SimNodeId from, SimNodeId to) {
  const bool external = from == kWorldNode || to == kWorldNode;
  const SimNodeId inside = from == kWorldNode ? to : from;
  if (external ? endpoints_.cut_from_external.count(inside) > 0 : network_.blocked(from, to)) {
    return std::nullopt;
  }
  const LinkFaults& faults = external ? endpoints_.external : network_.link(from, to);
  SimRandom& rng = world_.random();
  if (rng.chance(faults.drop)) return std::nullopt;
  const auto lo = static_cast<uint64_t>(faults.latency_min.count());
  const auto hi = static_cast<uint64_t>(faults.latency_max.count());
  return world_.now() + Duration(static_cast<Duration::rep>(rng.uniform(lo, hi)));
}

HttpRequestId SimHttpClient::request(HttpClientRequest request, HttpClientCallback done) {
  const HttpRequestId id = next_id_++;
  if (state_->shut) return id;
  if (state_->pending.size() >= limits_.in_flight_max) {
    executor_.post([state = state_, d = std::move(done), max = limits_.in_flight_max] {
      if (!state->shut) {
        d(resource_exhausted("sim http client: " + std::to_string(max) +
                             " requests already in flight (in_flight_max)"));
      }
    });
    return id;
  }
  const Duration timeout =
      request.timeout > Duration::zero() ? request.timeout : limits_.default_timeout;
  const TimerId deadline = executor_.schedule_after(timeout, [this, state = state_, id] {
    if (!state->shut)
      finish(id, deadline_exceeded("request " + std::to_string(id) +
                                   ": no "
                                   "response within the deadline"));
  });
  state_->pending.emplace(id, std::make_pair(std::move(done), deadline));
  auto url = normalized_url(request);
  const std::string address = url.ok() ? address_of(*url) : std::string();
  if (url.ok() && !request.url.empty()) {
    // The server sees address + target, as a real one sees the request line and Host.
    const size_t slash = url->find('/', url->find("//") + 2);
    request.target = slash == std::string::npos ? "/" : url->substr(slash);
    request.address = address;
    request.tls = url->rfind("https://", 0) == 0;
    request.url.clear();
  }
  const SimHttpEndpoints::Endpoint* endpoint = endpoints_.find(address);
  const uint64_t caller_inc = world_.incarnation(self_);
  if (endpoint == nullptr) {
    Status why = url.ok() ? unavailable("connect " + (address.empty() ? request.url : address) +
                                        ": connection refused (no simulated endpoint)")
                          : url.status();
    world_.schedule_for(world_.now() + network_.link(self_, self_).latency_min, self_, caller_inc,
                        SimEventKind::kCallReply, id, [this, state = state_, id, why] {
                          if (!state->shut) finish(id, why);
                        });
    return id;
  }
  const SimNodeId server = endpoint->node;
  const std::optional<TimePoint> arrival = route(self_, server);
  if (!arrival) return id;  // lost: the deadline answers
  // The server side runs even if this client stops meanwhile (the request was sent), so it
  // reaches the registry and the world through pointers, not through `this`.
  auto serve = [this, endpoints = &endpoints_, world = &world_, state = state_, id, address, server,
                caller_inc, request = std::move(request)]() {
    const SimHttpEndpoints::Endpoint* at = endpoints->find(address);
    if (at == nullptr || (server != kWorldNode && !world->up(server))) return;
    at->handler(request, [this, state, id, server, caller_inc](Result<HttpClientResponse> r) {
      if (state->shut) return;
      const std::optional<TimePoint> back = route(server, self_);
      if (!back) return;
      world_.schedule_for(*back, self_, caller_inc, SimEventKind::kCallReply, id,
                          [this, state, id, r = std::move(r)]() mutable {
                            if (!state->shut) finish(id, std::move(r));
                          });
    });
  };
  if (server == kWorldNode) {
    world_.schedule(*arrival, kWorldNode, SimEventKind::kWorld, id, std::move(serve));
  } else {
    world_.schedule(*arrival, server, SimEventKind::kCallRequest, id, std::move(serve));
  }
  return id;
}

bool SimHttpClient::cancel(HttpRequestId id) {
  auto it = state_->pending.find(id);
  if (it == state_->pending.end()) return false;
  HttpClientCallback done = std::move(it->second.first);
  executor_.cancel(it->second.second);
  state_->pending.erase(it);
  executor_.post([state = state_, done = std::move(done), id] {
    if (!state->shut) done(cancelled("request " + std::to_string(id) + ": cancelled"));
  });
  return true;
}

void SimHttpClient::finish(HttpRequestId id, Result<HttpClientResponse> response) {
  auto it = state_->pending.find(id);
  if (it == state_->pending.end()) return;  // already answered (deadline, cancel)
  HttpClientCallback done = std::move(it->second.first);
  executor_.cancel(it->second.second);
  state_->pending.erase(it);
  if (response.ok() && response->body.size() > limits_.response_bytes_max) {
    response = resource_exhausted("response exceeds " + std::to_string(limits_.response_bytes_max) +
                                  " bytes (response_bytes_max)");
  }
  done(std::move(response));
}

}  // namespace nodus::testing
