// transport/cert_authority.h: a small certificate authority for a nodus cluster (`nodus certs`).
//
// Makes a CA (EC P-256, SHA-256) and certificates it signs for every instance, the supervisor
// and the operator. A certificate names who holds it in a URI subjectAltName, which the
// transport and the Control API check (internal/peer_identity.h, supervisor/control_access.h):
//   instance i     nodus://<cluster>/instance/<i>
//   operator       nodus://<cluster>/operator
// and the hosts it is dialled at (IP or DNS subjectAltNames), which TLS clients verify.
//
//   NODUS_RETURN_IF_ERROR(create_ca(dir, "nodus-ca", 3650));
//   NODUS_RETURN_IF_ERROR(issue_cert(dir, "aurigraph-0", {"aurigraph-0",
//       {"nodus://aurigraph/instance/0"}, {"127.0.0.1", "localhost"}, 365}));
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "nodus/status.h"

namespace nodus::kernel {

// "nodus://<cluster>/instance/<id>": the URI subjectAltName of instance `id`.
std::string instance_uri(const std::string& cluster, uint32_t id);

struct CertRequest {
  std::string common_name;
  std::vector<std::string> uris;   // URI subjectAltNames
  std::vector<std::string> hosts;  // IP addresses or DNS names
  int days = 365;
};

// Writes DIR/ca.pem and DIR/ca.key (0600) in DIR (made 0700). ALREADY_EXISTS if DIR/ca.key
// exists: replacing a CA silently would cut every running instance off.
Status create_ca(const std::filesystem::path& dir, const std::string& common_name, int days);

// Writes DIR/<stem>.pem and DIR/<stem>.key (0600), signed by DIR/ca.pem + DIR/ca.key, usable
// for both TLS server and client authentication. Replaces an existing pair.
Status issue_cert(const std::filesystem::path& dir, const std::string& stem,
                  const CertRequest& request);

}  // namespace nodus::kernel
