#include "kernel/runtime/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace nodus::kernel {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Sends `raw` to 127.0.0.1:port and returns everything received until the server closes (it
// asks for that with "Connection: close" unless `raw` has a Connection header).
// Every socket operation is bounded by a 5 s timeout.
std::string exchange(uint16_t port, std::string raw) {
  // One request per connection: the server keeps HTTP/1.1 connections open otherwise.
  if (raw.find("Connection:") == std::string::npos && raw.find("\r\n") != std::string::npos) {
    raw.insert(raw.find("\r\n") + 2, "Connection: close\r\n");
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "socket failed";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "connect failed";
  }
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.route("/metrics", [](const HttpRequest& req) {
      std::string query;
      for (const auto& [k, v] : req.query)
        query += k + "=" + v;
      return HttpResponse{200, "text/plain; version=0.0.4", "up 1\nquery " + query + "\n"};
    });
    server_.route("/throws", [](const HttpRequest&) -> HttpResponse {
      throw std::runtime_error("handler failed");
    });
    Status st = server_.listen("127.0.0.1", 0);
    ASSERT_TRUE(st.ok()) << st.to_string();
    ASSERT_NE(server_.port(), 0);
  }

  static HttpServerOptions small_limits() {
    HttpServerOptions o;
    o.connections_max = 8;
    o.idle_timeout = std::chrono::seconds(1);
    o.request_timeout = std::chrono::seconds(1);
    return o;
  }
  HttpServer server_{small_limits()};
};

// GET on a registered path returns the handler's body, status and content type.
TEST_F(HttpServerTest, GetReturnsBody) {
  const std::string resp = exchange(server_.port(), "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(resp, HasSubstr("Content-Type: text/plain; version=0.0.4\r\n"));
  EXPECT_THAT(resp, HasSubstr("Content-Length: 15\r\n"));
  EXPECT_THAT(resp, HasSubstr("Connection: close\r\n"));
  EXPECT_THAT(resp, testing::EndsWith("\r\n\r\nup 1\nquery x=1\n"));
}

// HEAD gets the headers of GET, with the body's length but no body.
TEST_F(HttpServerTest, HeadHasNoBody) {
  const std::string resp = exchange(server_.port(), "HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(resp, HasSubstr("Content-Length: 12\r\n"));  // "up 1\nquery \n"
  EXPECT_THAT(resp, testing::EndsWith("\r\n\r\n"));
}

// Unknown paths are 404; other methods on a known path are 405 with Allow.
TEST_F(HttpServerTest, NotFoundAndMethodNotAllowed) {
  EXPECT_THAT(exchange(server_.port(), "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"),
              StartsWith("HTTP/1.1 404 Not Found\r\n"));
  const std::string post =
      exchange(server_.port(), "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_THAT(post, StartsWith("HTTP/1.1 405 Method Not Allowed\r\n"));
  EXPECT_THAT(post, HasSubstr("Allow: GET, HEAD\r\n"));
}

// A request that is not HTTP gets 400.
TEST_F(HttpServerTest, MalformedRequestIs400) {
  EXPECT_THAT(exchange(server_.port(), "this is not http\r\n\r\n"),
              StartsWith("HTTP/1.1 400 Bad Request\r\n"));
  EXPECT_THAT(exchange(server_.port(), "GET metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 400 Bad Request\r\n"));
}

// Headers past 8 KiB are refused with 431 instead of being buffered without bound.
TEST_F(HttpServerTest, OversizedHeaderIs431) {
  const std::string req =
      "GET /metrics HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(10'000, 'b') + "\r\n\r\n";
  EXPECT_THAT(exchange(server_.port(), req),
              StartsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
}

// A throwing handler yields 500 and the server keeps serving.
TEST_F(HttpServerTest, ThrowingHandlerIs500) {
  const std::string resp = exchange(server_.port(), "GET /throws HTTP/1.1\r\n\r\n");
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 500 Internal Server Error\r\n"));
  EXPECT_THAT(resp, HasSubstr("handler failed"));
  EXPECT_THAT(exchange(server_.port(), "GET /metrics HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 200 OK\r\n"));
}

// Listening on a port that is taken fails with a message naming host and port.
TEST_F(HttpServerTest, TakenPortNamesThePort) {
  HttpServer second;
  Status st = second.listen("127.0.0.1", server_.port());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_THAT(st.message(), HasSubstr("127.0.0.1:" + std::to_string(server_.port())));
  EXPECT_EQ(second.port(), 0);
  EXPECT_EQ(server_.listen("127.0.0.1", 0).code(), StatusCode::kFailedPrecondition);
}

// An unresolvable host is an error naming it.
TEST(HttpServerStandaloneTest, BadHostIsAnError) {
  HttpServer server;
  Status st = server.listen("no-such-host.invalid", 0);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("no-such-host.invalid:0"));
}

// stop() closes idle connections and returns promptly; the port is free afterwards.
TEST(HttpServerStandaloneTest, StopClosesIdleConnections) {
  auto server = std::make_unique<HttpServer>();
  ASSERT_TRUE(server->listen("127.0.0.1", 0).ok());
  const uint16_t port = server->port();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const auto started = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char c = 0;
  EXPECT_LE(::recv(fd, &c, 1, 0), 0);  // closed by the server, not timed out after 5 s
  ::close(fd);
  server.reset();
  HttpServer again;
  EXPECT_TRUE(again.listen("127.0.0.1", port).ok());
}

// A connected client socket (5 s receive timeout), or -1.
int connect_to(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Everything until the server closes; "<timeout>" when it did not within 10 s.
std::string read_until_close(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) out += "<timeout>";
    return out;
  }
}

// Past connections_max open connections one more gets a 503 and is closed; once they close,
// requests are served again.
TEST_F(HttpServerTest, ConnectionCapAnswers503) {
  std::vector<int> held;
  for (size_t i = 0; i < server_.options().connections_max; ++i)
    held.push_back(connect_to(server_.port()));
  // The server may not have accepted the last ones yet: retry until one is refused.
  std::string refused;
  for (int attempt = 0; attempt < 200 && refused.find("503") == std::string::npos; ++attempt) {
    const int fd = connect_to(server_.port());
    refused = read_until_close(fd);
    ::close(fd);
  }
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(refused, HasSubstr("too many connections"));
  for (int fd : held)
    ::close(fd);
  std::string served;
  for (int attempt = 0; attempt < 200 && served.find("200 OK") == std::string::npos; ++attempt)
    served = exchange(server_.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(served, StartsWith("HTTP/1.1 200"));
}

// A connection that sends nothing is closed after idle_timeout (here: before the client's own
// 10 s receive timeout).
TEST_F(HttpServerTest, SilentConnectionIsClosed) {
  const int fd = connect_to(server_.port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(read_until_close(fd), "");
  ::close(fd);
}

// After accept() fails for lack of file descriptors the server accepts again once there are.
TEST_F(HttpServerTest, AcceptSurvivesEmfile) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  int open_fds = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++open_fds;
  }
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(open_fds + 4);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> fds;
  for (int i = 0; i < 16; ++i) {
    const int fd = connect_to(server_.port());
    if (fd < 0) break;
    fds.push_back(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the server accept it
  }
  // Free one descriptor for one more connection: it waits for an accept() with none left.
  if (!fds.empty()) {
    ::close(fds.back());
    fds.pop_back();
  }
  if (const int fd = connect_to(server_.port()); fd >= 0) fds.push_back(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  for (int fd : fds)
    ::close(fd);
  EXPECT_THAT(exchange(server_.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
              StartsWith("HTTP/1.1 200"));
}

// Goal: an HTTP/1.1 connection serves several requests; a routed pattern gets its parameters
// and the body.
TEST_F(HttpServerTest, KeepAliveAndPatternRoutes) {
  HttpRoute r;
  r.method = "POST";
  r.pattern = "/items/{id}";
  r.owner = "test";
  r.options.max_body_bytes = 16;
  r.handler = [](const HttpRequest& req, HttpResponder res) {
    res.respond(HttpResponse::text(201, std::string(req.param("id")) + ":" + req.body));
  };
  ASSERT_TRUE(server_.routes().add(std::move(r)).ok());
  const std::string two =
      "POST /items/a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const std::string resp = exchange(server_.port(), two);
  EXPECT_THAT(resp, StartsWith("HTTP/1.1 201 Created\r\n"));
  EXPECT_THAT(resp, HasSubstr("a b:abc"));
  EXPECT_THAT(resp, HasSubstr("HTTP/1.1 200 OK\r\n"));  // the second answer, same connection
}

// Goal: a body over the route's limit is 413 before the handler runs, whether the length is
// announced or the body is chunked; the connection is then closed.
TEST_F(HttpServerTest, BodyOverLimitIs413) {
  HttpRoute r;
  r.method = "POST";
  r.pattern = "/small";
  r.owner = "test";
  r.options.max_body_bytes = 4;
  std::atomic<int> ran{0};
  r.handler = [&ran](const HttpRequest&, HttpResponder res) {
    ++ran;
    res.respond(HttpResponse::text(200, "ok"));
  };
  ASSERT_TRUE(server_.routes().add(std::move(r)).ok());
  const std::string announced =
      exchange(server_.port(), "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde");
  EXPECT_THAT(announced, StartsWith("HTTP/1.1 413"));
  EXPECT_THAT(announced, HasSubstr("over the limit of 4 bytes"));
  const std::string chunked = exchange(server_.port(),
                                       "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                       "chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
  EXPECT_THAT(chunked, StartsWith("HTTP/1.1 413"));
  EXPECT_EQ(ran.load(), 0);
  EXPECT_THAT(exchange(server_.port(),
                       "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: "
                       "2\r\n\r\nab"),
              StartsWith("HTTP/1.1 200"));
}

// Goal: a keep-alive connection that goes quiet after its answer is closed after idle_timeout.
TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  const int fd = connect_to(server_.port());
  ASSERT_GE(fd, 0);
  const std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  const std::string got = read_until_close(fd);  // the answer, then the close (no <timeout>)
  EXPECT_THAT(got, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(got, testing::Not(HasSubstr("<timeout>")));
  EXPECT_THAT(got, testing::Not(HasSubstr("Connection: close")));
  ::close(fd);
}

}  // namespace
}  // namespace nodus::kernel
