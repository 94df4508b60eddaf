// Who may reach the Control API: private run directory, 0600 socket, SO_PEERCRED, and the
// loopback rule for TCP (control_access.h).
#include "kernel/supervisor/control_access.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "kernel/supervisor/control_grpc.h"

namespace nodus::kernel {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Answers Status with a fixed profile name, so a test can tell that a call got through.
class FakeControl final : public nodus::v1::Control::Service {
 public:
  grpc::Status Status(grpc::ServerContext*, const nodus::v1::StatusRequest*,
                      nodus::v1::StatusReply* reply) override {
    reply->set_profile("fake");
    return grpc::Status::OK;
  }
};

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

grpc::Status call_status(const fs::path& socket, nodus::v1::StatusReply* reply) {
  auto stub = nodus::v1::Control::NewStub(
      grpc::CreateChannel("unix:" + socket.string(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  return stub->Status(&context, {}, reply);
}

class ControlAccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nodus-control-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    server_ = grpc::ServerBuilder().RegisterService(&service_).BuildAndStart();
    ASSERT_TRUE(server_);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + 1s);
    fs::remove_all(dir_);
  }

  fs::path dir_;
  FakeControl service_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(ControlAccessTest, RunDirectoryBecomesPrivate) {
  // Goal: the run directory ends 0700 whether it is new or existed with a looser mode.
  const fs::path fresh = dir_ / "new" / "run";
  ASSERT_TRUE(make_private_dir(fresh).ok());
  EXPECT_EQ(mode_of(fresh), 0700u);
  const fs::path loose = dir_ / "loose";
  fs::create_directories(loose);
  ASSERT_EQ(::chmod(loose.c_str(), 0777), 0);
  ASSERT_TRUE(make_private_dir(loose).ok());
  EXPECT_EQ(mode_of(loose), 0700u);
}

TEST_F(ControlAccessTest, RunDirectoryOfAnotherUserIsRefused) {
  // Goal: a run directory that someone else owns is refused with a message naming it.
  ASSERT_EQ(::geteuid(), 0u) << "this test changes a directory's owner, which needs root";
  const fs::path theirs = dir_ / "theirs";
  fs::create_directories(theirs);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  const Status st = make_private_dir(theirs);
  EXPECT_EQ(st.code(), StatusCode::kPermissionDenied) << st.to_string();
  EXPECT_NE(st.message().find(theirs.string()), std::string::npos) << st.to_string();
}

TEST_F(ControlAccessTest, SocketIsOwnerOnlyAndServesItsUser) {
  // Goal: the socket is created 0600, and a caller with an allowed uid gets answers.
  const fs::path socket = dir_ / "control.sock";
  auto listener = UnixControlListener::open(socket, *server_, default_control_uids());
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  EXPECT_EQ(mode_of(socket), 0600u);
  nodus::v1::StatusReply reply;
  const grpc::Status st = call_status(socket, &reply);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(reply.profile(), "fake");
  EXPECT_EQ((*listener)->refused(), 0u);
  (*listener)->stop();
  EXPECT_FALSE(fs::exists(socket));
}

TEST_F(ControlAccessTest, CallerWithAnotherUidIsDisconnected) {
  // Goal: SO_PEERCRED decides: when the caller's uid is not allowed, the connection is closed
  // before gRPC answers, the refusal is counted and reported with the uid.
  const fs::path socket = dir_ / "control.sock";
  std::vector<std::string> refusals;
  const uid_t stranger = ::geteuid() + 4242;  // any uid but ours
  auto listener = UnixControlListener::open(
      socket, *server_, {stranger},
      [&refusals](uid_t uid, pid_t) { refusals.push_back(std::to_string(uid)); });
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  nodus::v1::StatusReply reply;
  const grpc::Status st = call_status(socket, &reply);
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(reply.profile().empty());
  EXPECT_GE((*listener)->refused(), 1u);
  (*listener)->stop();  // joins the accept thread, so `refusals` is complete
  ASSERT_FALSE(refusals.empty());
  EXPECT_EQ(refusals.front(), std::to_string(::geteuid()));
}

TEST_F(ControlAccessTest, OtherUserIsRefusedEvenIfTheSocketWereOpen) {
  // Goal: a real process of another user (nobody) is disconnected by SO_PEERCRED even when
  // the file modes would let it connect; root is served on the same socket.
  ASSERT_EQ(::geteuid(), 0u) << "this test switches a child process to uid 65534, which needs root";
  const fs::path socket = dir_ / "control.sock";
  auto listener = UnixControlListener::open(socket, *server_, default_control_uids());
  ASSERT_TRUE(listener.ok()) << listener.status().to_string();
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(socket.c_str(), 0666), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Only async-signal-safe calls here: the parent has gRPC threads.
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(10);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(11);
    static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    // The server may already have closed: no SIGPIPE, and EPIPE means refused as well.
    if (::send(fd, kPreface, sizeof kPreface - 1, MSG_NOSIGNAL) < 0) {
      ::_exit(errno == EPIPE || errno == ECONNRESET ? 0 : 14);
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    // Closed without a byte of HTTP/2 from the server: EOF, or ECONNRESET because the server
    // closed with our preface unread.
    if (n == 0 || (n < 0 && errno == ECONNRESET)) ::_exit(0);
    ::_exit(n < 0 ? 13 : 12);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0) << "10: setuid failed, 11: connect failed, 12: got an answer, "
                                        "13: no answer, no close, 14: send failed";
  EXPECT_EQ((*listener)->refused(), 1u);
  nodus::v1::StatusReply reply;
  EXPECT_TRUE(call_status(socket, &reply).ok());
}

TEST(ControlAddressTest, TcpOnlyOnLoopbackWithoutMtls) {
  // Goal: a TCP control address off loopback is refused without mTLS, naming the address and
  // the way out; loopback and unix sockets pass; with mTLS any address passes.
  for (const char* ok : {"127.0.0.1:7000", "127.0.0.2:0", "[::1]:7000", "localhost:7000",
                         "unix:/tmp/x/control.sock"}) {
    EXPECT_TRUE(check_control_address(ok, false).ok()) << ok;
  }
  for (const char* bad : {"0.0.0.0:7000", "10.1.2.3:7000", "[::]:7000", "example.org:7000"}) {
    const Status st = check_control_address(bad, false);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find(bad), std::string::npos) << st.to_string();
    EXPECT_NE(st.message().find("mTLS"), std::string::npos) << st.to_string();
    EXPECT_TRUE(check_control_address(bad, true).ok()) << bad;
  }
}

}  // namespace
}  // namespace nodus::kernel
