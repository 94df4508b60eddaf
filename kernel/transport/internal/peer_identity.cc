#include "kernel/transport/internal/peer_identity.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstring>

#include "nodus/address.h"

namespace nodus::kernel::internal {
namespace {

constexpr std::string_view kUriScheme = "nodus://";
constexpr std::string_view kInstancePath = "/instance/";

// Canonical text of an IP address (IPv4-mapped IPv6 as IPv4); nullopt if `host` is no IP.
std::optional<std::string> canonical_ip(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    std::array<char, INET_ADDRSTRLEN> out{};
    ::inet_ntop(AF_INET, &v4, out.data(), out.size());
    return std::string(out.data());
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_V4MAPPED(&v6)) {
      std::memcpy(&v4, &v6.s6_addr[12], sizeof v4);
      std::array<char, INET_ADDRSTRLEN> out{};
      ::inet_ntop(AF_INET, &v4, out.data(), out.size());
      return std::string(out.data());
    }
    std::array<char, INET6_ADDRSTRLEN> out{};
    ::inet_ntop(AF_INET6, &v6, out.data(), out.size());
    return std::string(out.data());
  }
  return std::nullopt;
}

bool is_loopback(const std::string& ip) {
  return ip == "::1" || ip.rfind("127.", 0) == 0;
}

bool is_unspecified(const std::string& ip) {
  return ip == "0.0.0.0" || ip == "::";
}

// gRPC writes the peer as "ipv4:1.2.3.4:5", "ipv6:[::1]:5" (some versions escape the
// brackets as %5B/%5D) or "unix:/path".
std::string source_host(std::string peer) {
  for (const auto& [from, to] : {std::pair{"%5B", "["}, std::pair{"%5D", "]"}}) {
    for (size_t at = peer.find(from); at != std::string::npos; at = peer.find(from))
      peer.replace(at, 3, to);
  }
  for (const char* scheme : {"ipv4:", "ipv6:"}) {
    if (peer.rfind(scheme, 0) == 0) return host_of_address(peer.substr(std::strlen(scheme)));
  }
  return {};
}

}  // namespace

void PeerDirectory::set(const std::vector<nodus::PeerInfo>& peers) {
  std::map<nodus::PeerId, std::string> hosts;
  for (const nodus::PeerInfo& p : peers)
    hosts.emplace(p.id, host_of_address(p.address));
  std::lock_guard lock(mu_);
  hosts_.swap(hosts);
}

void PeerDirectory::set_self(const std::string& listen_address) {
  std::lock_guard lock(mu_);
  self_host_ = host_of_address(listen_address);
}

std::string PeerDirectory::self_host() const {
  std::lock_guard lock(mu_);
  return self_host_;
}

std::optional<std::string> PeerDirectory::host_of(nodus::PeerId id) const {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(id);
  if (it == hosts_.end()) return std::nullopt;
  return it->second;
}

std::string host_of_address(const std::string& address) {
  return nodus::host_of(address);
}

Caller caller_of(const grpc::ServerContextBase& context, const std::string& cluster) {
  Caller caller;
  const std::string peer = context.peer();
  caller.source_host = source_host(peer);
  caller.describe = peer;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return caller;
  caller.certified = true;
  // instance_uri(cluster, id) without the id.
  const std::string prefix = std::string(kUriScheme) + cluster + std::string(kInstancePath);
  bool ambiguous = false;
  for (const grpc::string_ref& value : auth->FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    const std::string uri(value.data(), value.size());
    caller.describe += " uri=" + uri;
    if (cluster.empty() || uri.rfind(prefix, 0) != 0) continue;
    nodus::PeerId id = 0;
    const char* first = uri.data() + prefix.size();
    const char* last = uri.data() + uri.size();
    const auto [end, ec] = std::from_chars(first, last, id);
    if (ec != std::errc() || end != last || first == last) continue;
    // A certificate that names two instances names none: it could speak for either.
    if (caller.instance && *caller.instance != id) ambiguous = true;
    caller.instance = id;
  }
  if (ambiguous) caller.instance.reset();
  return caller;
}

std::string refuse_reason(const Caller& caller, nodus::PeerId claimed, nodus::PeerId self,
                          const PeerDirectory& peers) {
  const std::string who = "sender " + std::to_string(claimed) + " from " + caller.describe;
  if (caller.certified) {
    if (!caller.instance) return who + ": its certificate names no instance of this cluster";
    if (*caller.instance != claimed) {
      return who + ": its certificate names instance " + std::to_string(*caller.instance);
    }
    return {};
  }
  const std::optional<std::string> source = canonical_ip(caller.source_host);
  if (claimed == self) {
    // Only the local supervisor calls a node as itself (failover). It dials the node's own
    // address, so it connects from loopback or from that address.
    if (source && is_loopback(*source)) return {};
    const std::optional<std::string> own = canonical_ip(peers.self_host());
    if (source && own && *source == *own) return {};
    return who + ": only a local process may send as this node";
  }
  const std::optional<std::string> host = peers.host_of(claimed);
  if (!host) return who + ": not a configured peer";
  const std::optional<std::string> configured = canonical_ip(*host);
  if (!configured) return {};  // a DNS name: not checked here (docs/security.md)
  if (is_unspecified(*configured)) {
    if (source && is_loopback(*source)) return {};
    return who + ": the peer is configured on this host (" + *host + ")";
  }
  if (!source || *source != *configured) {
    return who + ": the peer is configured at " + *host;
  }
  return {};
}

}  // namespace nodus::kernel::internal
