// docs/security.md with real processes: the Control API of `nodus up` is closed to everyone
// but root and the supervisor's user, and `nodus certs` gives every instance an identity that
// its peers check.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "supervisor_fixture.h"

#include <grpcpp/grpcpp.h>

// The generated service classes hide overloaded virtuals, which our warning set rejects.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverloaded-virtual"
#include "nodus/v1/control.grpc.pb.h"
#pragma GCC diagnostic pop

namespace nodus::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;
using ::testing::HasSubstr;

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// Goal: a run directory left world-writable is 0700 once `up` runs, its control socket is
// 0600, and the supervisor's own user still drives the cluster through it.
TEST_F(SupervisorTest, RunDirectoryAndControlSocketAreOwnerOnly) {
  write_profile(spec_of(1));
  fs::create_directories(run_dir_);
  ASSERT_EQ(::chmod(run_dir_.c_str(), 0777), 0);
  start_up();
  ASSERT_TRUE(wait_all_ready(1)) << up_log();
  EXPECT_EQ(mode_of(run_dir_), 0700u);
  EXPECT_EQ(mode_of(run_dir_ / "control.sock"), 0600u);
  EXPECT_EQ(nodus({"status", "--run-dir", run_dir_.string()}).exit_code, 0);
}

// Goal: another user (nobody, through setpriv) cannot stop the cluster, and it keeps running.
TEST_F(SupervisorTest, AnotherUserCannotStopTheCluster) {
  ASSERT_EQ(::geteuid(), 0u) << "this test runs a verb as uid 65534, which needs root";
  write_profile(spec_of(1));
  start_up();
  ASSERT_TRUE(wait_all_ready(1)) << up_log();
  const std::vector<std::string> as_nobody = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                              "--clear-groups", kNodus};
  auto run_as_nobody = [&](std::vector<std::string> args) {
    args.insert(args.begin(), as_nobody.begin(), as_nobody.end());
    return run(args);
  };
  // Without this, a nobody that cannot run nodus at all would pass the test.
  ASSERT_EQ(run_as_nobody({"version"}).exit_code, 0) << "uid 65534 cannot run " << kNodus;
  RunResult r = run_as_nobody({"down", "--run-dir", run_dir_.string()});
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nodus({"status", "--run-dir", run_dir_.string()}).exit_code, 0) << up_log();
}

// Goal: a plaintext TCP control address off loopback is refused before anything starts,
// naming the address and the way out (mTLS); loopback TCP still works.
TEST_F(SupervisorTest, TcpControlOffLoopbackNeedsMtls) {
  write_profile(spec_of(1));
  RunResult r = nodus({"up", "--profile", profile_.string(), "--control-address", "0.0.0.0:0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("control address 0.0.0.0:0 is not a loopback address"));
  EXPECT_THAT(r.err, HasSubstr("mTLS"));
  EXPECT_FALSE(fs::exists(run_dir_ / "control.addr"));
  start_up({"--control-address", "127.0.0.1:0"});
  ASSERT_TRUE(wait_all_ready(1)) << up_log();
}

// The value of the first sample of `metric` (with any labels) in a /metrics text; -1 if absent.
double sample(const std::string& text, const std::string& metric) {
  const size_t at = text.find("\n" + metric + "{");
  if (at == std::string::npos) return -1;
  const size_t close = text.find("} ", at);
  return close == std::string::npos ? -1 : std::stod(text.substr(close + 2));
}

// Polls instance `i`'s /metrics until `pred` holds for it; false after 20 s.
bool wait_metrics(uint16_t port, const std::function<bool(const std::string&)>& pred,
                  std::string* last) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (http_get(port, "/metrics", last) == 200 && pred(*last)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Goal: `nodus certs init` + `issue` make certificates with which a 2-instance cluster talks
// over mTLS (peerping reaches its peer); when instance 1 is given instance 0's certificate
// instead, its calls are refused and counted by instance 0 while instance 0 still reaches 1.
TEST_F(SupervisorTest, CertsGiveEveryInstanceItsOwnIdentity) {
  const fs::path pki = dir_ / "pki";
  RunResult init = nodus({"certs", "init", pki.string()});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_EQ(mode_of(pki), 0700u);
  EXPECT_EQ(mode_of(pki / "ca.key"), 0600u);
  EXPECT_EQ(nodus({"certs", "init", pki.string()}).exit_code, 2);  // never replaces a CA

  ProfileSpec spec = spec_of(2, kPluginDir.string(), "io.nodus.diag.peerping");
  spec.plugin_config = "{interval_ms: 50, timeout_ms: 500}";
  write_profile(spec);
  RunResult issue = nodus({"certs", "issue", pki.string(), "--profile", profile_.string()});
  ASSERT_EQ(issue.exit_code, 0) << issue.err;
  EXPECT_THAT(issue.out, HasSubstr("cert_file: " + pki.string() + "/suptest-{instance}.pem"));
  for (const char* stem : {"suptest-0", "suptest-1", "suptest-supervisor", "suptest-operator"}) {
    EXPECT_EQ(mode_of(pki / (std::string(stem) + ".key")), 0600u) << stem;
  }
  const std::string base_profile = read_file(profile_);
  const auto with_tls = [&](const std::string& cert_stem) {
    std::ofstream(profile_) << base_profile << "tls:\n  ca_file: " << (pki / "ca.pem").string()
                            << "\n  cert_file: " << (pki / (cert_stem + ".pem")).string()
                            << "\n  key_file: " << (pki / (cert_stem + ".key")).string() << "\n";
  };
  const uint16_t health0 = base_port_;
  const uint16_t health1 = base_port_ + 2;
  std::string m0;
  std::string m1;

  with_tls("suptest-{instance}");
  start_up();
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  for (uint16_t port : {health0, health1}) {
    std::string m;
    EXPECT_TRUE(wait_metrics(
        port, [](const std::string& t) { return sample(t, "nodus_peerping_peers_reachable") == 1; },
        &m))
        << m << up_log();
  }
  ASSERT_EQ(nodus({"down", "--run-dir", run_dir_.string()}).exit_code, 0);
  ASSERT_EQ(up_->wait(seconds(20)), 0) << up_log();

  with_tls("suptest-0");  // both instances present instance 0's certificate
  start_up();
  ASSERT_TRUE(wait_all_ready(2)) << up_log();
  EXPECT_TRUE(wait_metrics(
      health0,
      [](const std::string& t) {
        return sample(t, "nodus_transport_calls_refused_total") > 0 &&
               sample(t, "nodus_peerping_peers_reachable") == 1;
      },
      &m0))
      << m0 << up_log();
  EXPECT_TRUE(wait_metrics(
      health1,
      [](const std::string& t) {
        return sample(t, "nodus_peerping_failures_total") > 0 &&
               sample(t, "nodus_peerping_peers_reachable") == 0;
      },
      &m1))
      << m1 << up_log();
  EXPECT_THAT(up_log(), HasSubstr("its certificate names instance 0"));
}

// A Control stub over TLS to 127.0.0.1:port, presenting `stem`'s certificate (none if empty).
std::unique_ptr<nodus::v1::Control::Stub> tls_stub(const fs::path& pki, const std::string& stem,
                                                   uint16_t port) {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = read_file(pki / "ca.pem");
  if (!stem.empty()) {
    o.pem_cert_chain = read_file(pki / (stem + ".pem"));
    o.pem_private_key = read_file(pki / (stem + ".key"));
  }
  return nodus::v1::Control::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(o)));
}

grpc::Status control_status(nodus::v1::Control::Stub& stub) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  nodus::v1::StatusReply reply;
  return stub.Status(&context, {}, &reply);
}

// Goal: a TCP control address off loopback is accepted with mTLS, and then only a client
// whose certificate names the operator is answered: an instance's certificate is
// PERMISSION_DENIED, no certificate fails the handshake; the operator can stop the cluster.
TEST_F(SupervisorTest, TcpControlWithMtlsAnswersOnlyTheOperator) {
  const fs::path pki = dir_ / "pki";
  write_profile(spec_of(1));
  ASSERT_EQ(nodus({"certs", "init", pki.string()}).exit_code, 0);
  ASSERT_EQ(nodus({"certs", "issue", pki.string(), "--profile", profile_.string()}).exit_code, 0);
  std::ofstream(profile_, std::ios::app)
      << "tls:\n  ca_file: " << (pki / "ca.pem").string()
      << "\n  cert_file: " << (pki / "suptest-{instance}.pem").string()
      << "\n  key_file: " << (pki / "suptest-{instance}.key").string() << "\n";
  start_up({"--control-address", "0.0.0.0:0"});
  const auto deadline = std::chrono::steady_clock::now() + seconds(15);
  std::string target;
  while (target.empty() && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(run_dir_ / "control.addr");
    std::getline(in, target);
    if (target.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(target.rfind("0.0.0.0:", 0), 0u) << target << up_log();
  const auto port = static_cast<uint16_t>(std::stoi(target.substr(target.rfind(':') + 1)));

  auto operator_stub = tls_stub(pki, "suptest-operator", port);
  const grpc::Status ok = control_status(*operator_stub);
  EXPECT_TRUE(ok.ok()) << ok.error_message() << up_log();
  const grpc::Status instance = control_status(*tls_stub(pki, "suptest-0", port));
  EXPECT_EQ(instance.error_code(), grpc::StatusCode::PERMISSION_DENIED) << instance.error_message();
  EXPECT_THAT(instance.error_message(), HasSubstr("nodus://suptest/operator"));
  EXPECT_FALSE(control_status(*tls_stub(pki, "", port)).ok());

  // The verbs: with the operator's certificate in NODUS_CONTROL_*, and without.
  const std::map<std::string, std::string> operator_env = {
      {"NODUS_CONTROL_CA", (pki / "ca.pem").string()},
      {"NODUS_CONTROL_CERT", (pki / "suptest-operator.pem").string()},
      {"NODUS_CONTROL_KEY", (pki / "suptest-operator.key").string()}};
  RunResult verb = run({kNodus, "status", "--run-dir", run_dir_.string()}, operator_env);
  EXPECT_EQ(verb.exit_code, 0) << verb.out << verb.err;
  EXPECT_THAT(verb.out, HasSubstr("suptest"));
  EXPECT_NE(nodus({"status", "--run-dir", run_dir_.string()}).exit_code, 0);

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  nodus::v1::DownReply down;
  const grpc::Status stopped = operator_stub->Down(&context, {}, &down);
  EXPECT_TRUE(stopped.ok()) << stopped.error_message();
  EXPECT_EQ(up_->wait(seconds(20)), 0) << up_log();
  EXPECT_THAT(up_log(), HasSubstr("is not the operator"));
}

}  // namespace
}  // namespace nodus::test
