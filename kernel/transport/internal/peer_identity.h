// transport/internal/peer_identity.h: who is on the other end of an inbound peer connection,
// and whether it may claim the sender id written in a message.
//
// The sender id travels in the message body (Envelope.from, CallRequest.from), so by itself it
// proves nothing. The server binds it to the connection:
//  - mTLS: the client certificate names exactly one instance with a URI subjectAltName
//    "nodus://<cluster>/instance/<id>" (see `nodus certs`); the claimed id must be that one.
//    A certificate of the CA that names no instance of this cluster may not send at all.
//  - plaintext (or TLS without client certificates): nothing is proven. The claimed id must be
//    a configured peer (or this node itself, which only the local supervisor does, from
//    loopback or this node's own address), and when the peer's configured host is an IP
//    address the connection must come from it. That stops mistakes and casual spoofing across
//    hosts, not an attacker on the same network: plaintext peer ports belong on a private network
//    (docs/security.md).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "nodus/services/transport.h"

namespace nodus::kernel::internal {

// The configured peers' hosts, shared between the transport (set_peers) and its server.
class PeerDirectory {
 public:
  void set(const std::vector<nodus::PeerInfo>& peers);
  // This node's own listen host: a local process dialling it may come from that address.
  void set_self(const std::string& listen_address);
  std::string self_host() const;
  // The host part of the peer's configured address; nullopt for an unknown peer.
  std::optional<std::string> host_of(nodus::PeerId id) const;

 private:
  mutable std::mutex mu_;
  std::map<nodus::PeerId, std::string> hosts_;  // guarded by mu_
  std::string self_host_;                       // guarded by mu_
};

// What the server knows about one inbound connection.
struct Caller {
  bool certified = false;                 // mTLS: the peer presented a verified certificate
  std::optional<nodus::PeerId> instance;  // the instance its certificate names, if any
  std::string source_host;                // "127.0.0.1", "::1"; empty when unknown
  std::string describe;                   // for logs: "ipv4:127.0.0.1:4711 (cert ...)"
};

Caller caller_of(const grpc::ServerContextBase& context, const std::string& cluster);

// Empty when `caller` may send as `claimed`; otherwise why not, for the log.
std::string refuse_reason(const Caller& caller, nodus::PeerId claimed, nodus::PeerId self,
                          const PeerDirectory& peers);

// "host:port", "[v6]:port" -> host (no brackets).
std::string host_of_address(const std::string& address);

}  // namespace nodus::kernel::internal
