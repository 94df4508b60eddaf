// The CA of `nodus certs`: its certificates carry the identities the transport checks.
#include "kernel/transport/cert_authority.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "kernel/runtime/executor.h"
#include "kernel/transport/grpc_transport.h"
#include "kernel/transport/test_doubles.h"
#include "kernel/transport/tls_credentials.h"

namespace nodus::kernel {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class CertAuthorityTest : public ::testing::Test {
 protected:
  CertAuthorityTest() { executor_.start(); }

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("nodus-ca-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Issues "<stem>" naming instance `id` of cluster "c" at 127.0.0.1.
  void issue_instance(const std::string& stem, nodus::PeerId id) {
    const Status st =
        issue_cert(dir_, stem, {stem, {"nodus://c/instance/" + std::to_string(id)}, {"127.0.0.1"}});
    ASSERT_TRUE(st.ok()) << st.to_string();
  }
  std::unique_ptr<GrpcTransport> make(nodus::PeerId self, const std::string& stem) {
    GrpcTransportOptions o;
    o.self = self;
    o.cluster = "c";
    o.listen_address = "127.0.0.1:0";
    o.reconnect_backoff_initial = 20ms;
    o.reconnect_backoff_max = 200ms;
    auto creds = make_tls_credentials(
        {dir_ / "ca.pem", dir_ / (stem + ".pem"), dir_ / (stem + ".key"), true});
    EXPECT_TRUE(creds.ok()) << creds.status().to_string();
    if (creds.ok()) o.credentials = *creds;
    return std::make_unique<GrpcTransport>(std::move(o), executor_, metrics_, logger_);
  }
  nodus::Result<std::string> call(GrpcTransport& from, const std::string& to_address) {
    if (auto st = from.set_peers({{1, to_address}}); !st.ok()) return st;
    auto results = std::make_shared<fakes::Results>();
    from.call(1, "echo", "hi", 3s,
              [results](nodus::Result<std::string> r) { results->push(std::move(r)); });
    if (!results->wait_size(1)) return nodus::internal_error("no callback");
    return results->items().front();
  }

  fs::path dir_;
  fakes::TestMetrics metrics_;
  std::shared_ptr<nodus::testing::LogLines> log_lines_ =
      std::make_shared<nodus::testing::LogLines>();
  nodus::testing::CaptureLogger logger_{"transport", log_lines_};
  // The node's real executor, started by the constructor; declared after what its tasks use,
  // so it is destroyed (and joined) first.
  AsioExecutor executor_{"transport-test"};
};

TEST_F(CertAuthorityTest, IssuedCertificatesCarryTheInstanceIdentity) {
  // Goal: instances with certificates from create_ca/issue_cert talk over mTLS, and the
  // certificate of instance 2 cannot be used to speak as instance 0.
  ASSERT_TRUE(create_ca(dir_, "test CA", 2).ok());
  issue_instance("c-0", 0);
  issue_instance("c-1", 1);
  issue_instance("c-2", 2);
  auto b = make(1, "c-1");
  ASSERT_TRUE(b->on_call("echo", [](nodus::PeerId from, std::string, nodus::CallReply reply) {
                 reply(std::to_string(from));
               }).ok());
  ASSERT_TRUE(b->start().ok());
  const std::string b_addr = "127.0.0.1:" + std::to_string(b->bound_port());
  auto a = make(0, "c-0");
  ASSERT_TRUE(a->start().ok());
  auto ok = call(*a, b_addr);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok.value(), "0");
  auto impostor = make(0, "c-2");
  ASSERT_TRUE(impostor->start().ok());
  auto refused = call(*impostor, b_addr);
  EXPECT_EQ(refused.status().code(), nodus::StatusCode::kPermissionDenied)
      << refused.status().to_string();
  for (auto* t : {impostor.get(), a.get(), b.get()})
    t->stop();
}

TEST_F(CertAuthorityTest, KeysArePrivateAndTheCaIsNotReplaced) {
  // Goal: the directory is 0700, keys are 0600, and a second init refuses to overwrite the CA.
  ASSERT_TRUE(create_ca(dir_, "test CA", 2).ok());
  issue_instance("c-0", 0);
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  for (const char* key : {"ca.key", "c-0.key"}) {
    ASSERT_EQ(::stat((dir_ / key).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << key;
  }
  const Status again = create_ca(dir_, "test CA", 2);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.to_string();
  EXPECT_NE(again.message().find("ca.key"), std::string::npos) << again.to_string();
}

TEST_F(CertAuthorityTest, IssueWithoutCaNamesTheMissingFile) {
  // Goal: issuing before `certs init` fails with a message naming the CA file.
  fs::create_directories(dir_);
  const Status st = issue_cert(dir_, "x", {"x", {"nodus://c/instance/0"}, {}});
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.to_string();
  EXPECT_NE(st.message().find("ca.pem"), std::string::npos) << st.to_string();
}

}  // namespace
}  // namespace nodus::kernel
