// transport/tls_credentials.h: TLS / mutual TLS for the node-to-node transport, from PEM files.
//
// Every node presents its certificate (cert_file, key_file) and trusts peers signed by the
// CA in ca_file. With require_client_cert the server also demands and verifies a client
// certificate (mTLS): a peer without a certificate signed by that CA is refused during the
// handshake. Peers are dialled by the host in the profile (`bind`), so each certificate must
// name it (for 127.0.0.1, an IP subjectAltName). The certificate also names the instance it
// belongs to ("nodus://<profile>/instance/<i>"); the transport accepts a message only when its
// sender id is that instance (internal/peer_identity.h).
//
//   TlsFiles files{"ca.pem", "node0.pem", "node0.key", /*require_client_cert=*/true};
//   NODUS_ASSIGN_OR_RETURN(options.credentials, make_tls_credentials(files));
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "kernel/transport/grpc_transport.h"
#include "nodus/status.h"

namespace nodus::kernel {

struct TlsFiles {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  bool require_client_cert = true;
};

// `{instance}` in a file name stands for the instance's index, so one profile can give every
// instance its own certificate ("pki/aurigraph-{instance}.pem", as `nodus certs` writes them).
// The supervisor, which is no instance, uses "supervisor" in its place.
TlsFiles tls_files_for_instance(TlsFiles files, uint32_t instance);
TlsFiles tls_files_for_instance(TlsFiles files, std::string_view instance);

// Reads the three files. A missing or unreadable file, or one that is not PEM, is
// INVALID_ARGUMENT naming the file.
nodus::Result<TransportCredentials> make_tls_credentials(const TlsFiles& files);

}  // namespace nodus::kernel
