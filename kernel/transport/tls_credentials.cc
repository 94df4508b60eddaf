#include "kernel/transport/tls_credentials.h"

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace nodus::kernel {
namespace {

nodus::Result<std::string> read_pem(const std::filesystem::path& file, const char* what) {
  if (file.empty()) return nodus::invalid_argument(std::string("tls.") + what + ": not set");
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return nodus::invalid_argument(std::string("tls.") + what + ": cannot read " + file.string());
  }
  std::ostringstream s;
  s << in.rdbuf();
  std::string pem = s.str();
  if (pem.find("-----BEGIN ") == std::string::npos) {
    return nodus::invalid_argument(std::string("tls.") + what + ": " + file.string() +
                                   " is not a PEM file");
  }
  return pem;
}

}  // namespace

TlsFiles tls_files_for_instance(TlsFiles files, uint32_t instance) {
  return tls_files_for_instance(std::move(files), std::to_string(instance));
}

TlsFiles tls_files_for_instance(TlsFiles files, std::string_view instance) {
  constexpr std::string_view kPlaceholder = "{instance}";
  for (std::filesystem::path* file : {&files.ca_file, &files.cert_file, &files.key_file}) {
    std::string name = file->string();
    for (size_t at = name.find(kPlaceholder); at != std::string::npos;
         at = name.find(kPlaceholder, at)) {
      name.replace(at, kPlaceholder.size(), instance);
    }
    *file = name;
  }
  return files;
}

nodus::Result<TransportCredentials> make_tls_credentials(const TlsFiles& files) {
  NODUS_ASSIGN_OR_RETURN(std::string ca, read_pem(files.ca_file, "ca_file"));
  NODUS_ASSIGN_OR_RETURN(std::string cert, read_pem(files.cert_file, "cert_file"));
  NODUS_ASSIGN_OR_RETURN(std::string key, read_pem(files.key_file, "key_file"));

  grpc::SslServerCredentialsOptions server(
      files.require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  server.pem_root_certs = ca;
  server.pem_key_cert_pairs.push_back({key, cert});

  grpc::SslCredentialsOptions channel;
  channel.pem_root_certs = ca;
  channel.pem_private_key = key;
  channel.pem_cert_chain = cert;

  TransportCredentials out;
  out.server = grpc::SslServerCredentials(server);
  out.channel = grpc::SslCredentials(channel);
  if (!out.server || !out.channel) {
    return nodus::invalid_argument("tls: gRPC refused the certificates in " +
                                   files.cert_file.string());
  }
  return out;
}

}  // namespace nodus::kernel
