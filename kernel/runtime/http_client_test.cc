// The plugins' HTTP client against a real HTTP/1.1 server on loopback (Boost.Beast, in this
// file): responses, keep-alive reuse, deadlines, refused connections, size and pool bounds,
// cancel and shutdown, and TLS with a certificate from the kernel's cert authority.
#include "kernel/runtime/http_client.h"

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "kernel/runtime/executor.h"
#include "kernel/runtime/temp_dir_for_test.h"
#include "kernel/transport/cert_authority.h"

namespace nodus::kernel {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Generous bound for anything a test waits for; reaching it fails the test.
constexpr auto kWait = 10s;

// A keep-alive HTTP/1.1 server, one thread per connection, optionally TLS. It counts the
// connections it accepted and closed, and can be told to hold requests or never answer.
class TestServer {
 public:
  struct Options {
    std::optional<std::pair<std::filesystem::path, std::filesystem::path>> tls;  // cert, key
  };
  enum class Mode { kAnswer, kHold, kSilent, kCloseAfterAnswer };
  using Handler = std::function<void(const http::request<http::string_body>&,
                                     http::response<http::string_body>&)>;

  explicit TestServer(Options options = {})
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    if (options.tls) {
      tls_.emplace(ssl::context::tls_server);
      tls_->use_certificate_chain_file(options.tls->first.string());
      tls_->use_private_key_file(options.tls->second.string(), ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~TestServer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (int fd : fds_)
        ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    for (auto& t : threads_)
      t.join();
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& target = "/") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + target;
  }
  void set_mode(Mode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  void set_handler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }
  // Lets every held request (and later ones) be answered.
  void release() {
    set_mode(Mode::kAnswer);
    cv_.notify_all();
  }
  int accepted() const {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  int max_open() const {
    std::lock_guard lock(mu_);
    return max_open_;
  }
  std::vector<http::request<http::string_body>> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Waits until `pred` holds over (accepted, closed, requests seen).
  bool wait(const std::function<bool(int accepted, int closed, size_t requests)>& pred) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return pred(accepted_, closed_, requests_.size()); });
  }

 private:
  void accept_loop() {
    for (;;) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      std::lock_guard lock(mu_);
      if (ec || stopping_) return;
      ++accepted_;
      max_open_ = std::max(max_open_, accepted_ - closed_);
      fds_.insert(socket.native_handle());
      threads_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
      cv_.notify_all();
    }
  }

  void serve(tcp::socket socket) {
    const int fd = socket.native_handle();
    if (tls_) {
      ssl::stream<tcp::socket&> stream(socket, *tls_);
      boost::system::error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) session(stream);
    } else {
      session(socket);
    }
    boost::system::error_code ignored;
    std::lock_guard lock(mu_);
    fds_.erase(fd);
    socket.close(ignored);
    ++closed_;
    cv_.notify_all();
  }

  template <class Stream>
  void session(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      Mode mode;
      Handler handler;
      {
        std::unique_lock lock(mu_);
        requests_.push_back(req);
        cv_.notify_all();
        cv_.wait(lock, [&] { return stopping_ || mode_ != Mode::kHold; });
        if (stopping_) return;
        mode = mode_;
        handler = handler_;
      }
      if (mode == Mode::kSilent) {
        // Never answers; waits for the client to close (read returns an error then).
        char byte;
        boost::system::error_code read_ec;
        (void)asio::read(stream, asio::buffer(&byte, 1), read_ec);
        return;
      }
      http::response<http::string_body> res{http::status::ok, req.version()};
      res.set(http::field::content_type, "text/plain");
      res.set("X-Test", "yes");
      res.body() = std::string(req.method_string()) + " " + std::string(req.target());
      if (handler) handler(req, res);
      res.keep_alive(req.keep_alive());
      if (!res.chunked()) res.prepare_payload();
      http::write(stream, res, ec);
      if (ec || !req.keep_alive() || mode == Mode::kCloseAfterAnswer) return;
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::optional<ssl::context> tls_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
  std::set<int> fds_;
  bool stopping_ = false;
  Mode mode_ = Mode::kAnswer;
  Handler handler_;
  int accepted_ = 0;
  int closed_ = 0;
  int max_open_ = 0;
  std::vector<http::request<http::string_body>> requests_;
};

// Callbacks land here from the executor thread.
class Results {
 public:
  HttpClientCallback callback(AsioExecutor& executor) {
    return [this, &executor](Result<HttpClientResponse> r) {
      std::lock_guard lock(mu_);
      on_executor_ = on_executor_ && executor.in_executor();
      items_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  bool wait_size(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return items_.size() >= n; });
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  Result<HttpClientResponse> at(size_t i) const {
    std::lock_guard lock(mu_);
    return items_.at(i);
  }
  bool all_on_executor() const {
    std::lock_guard lock(mu_);
    return on_executor_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Result<HttpClientResponse>> items_;
  bool on_executor_ = true;
};

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() { executor_.start(); }
  ~HttpClientTest() override {
    if (client_) {
      (void)executor_.run_sync([this] { client_->shutdown(); }, kWait);
      client_.reset();
    }
    executor_.stop();
  }

  AsioHttpClient& client(HttpClientLimits limits = {}) {
    if (!client_)
      client_ = std::make_unique<AsioHttpClient>(executor_.io(), executor_, "test", limits);
    return *client_;
  }
  static HttpClientLimits limits(size_t in_flight_max, size_t connections_max,
                                 size_t idle_connections_max, size_t response_bytes_max) {
    HttpClientLimits l;
    l.in_flight_max = in_flight_max;
    l.connections_max = connections_max;
    l.idle_connections_max = idle_connections_max;
    l.response_bytes_max = response_bytes_max;
    return l;
  }
  HttpRequestId get(const std::string& url, Duration timeout = Duration::zero()) {
    HttpClientRequest r;
    r.url = url;
    r.timeout = timeout;
    return client().request(std::move(r), results_.callback(executor_));
  }
  // Sends `n` GETs to a server that holds them, and waits until it has seen `seen` of them.
  void hold_requests(TestServer& server, HttpClientLimits l, int n, size_t seen) {
    server.set_mode(TestServer::Mode::kHold);
    client(l);
    for (int i = 0; i < n; ++i)
      get(server.url("/q"));
    ASSERT_TRUE(server.wait([seen](int, int, size_t requests) { return requests == seen; }));
  }
  AsioHttpClient::Stats stats() {
    AsioHttpClient::Stats s;
    EXPECT_TRUE(executor_.run_sync([&] { s = client_->stats(); }, kWait).ok());
    return s;
  }
  // A port nothing listens on: bound once, then released.
  static uint16_t closed_port() {
    asio::io_context io;
    tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
  }

  AsioExecutor executor_{"http-client-test"};
  std::unique_ptr<AsioHttpClient> client_;
  Results results_;
};

// A GET returns status, headers and body, and its callback runs on the executor.
TEST_F(HttpClientTest, GetReturnsResponseOnExecutor) {
  TestServer server;
  get(server.url("/hello?x=1"));
  ASSERT_TRUE(results_.wait_size(1));
  auto r = results_.at(0);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "GET /hello?x=1");
  EXPECT_EQ(find_header(r->headers, "x-test"), "yes");
  EXPECT_TRUE(results_.all_on_executor());
}

// A POST carries its body and the plugin's headers; Host is the client's.
TEST_F(HttpClientTest, PostSendsBodyAndHeaders) {
  TestServer server;
  server.set_handler([](const auto& req, auto& res) { res.body() = req.body(); });
  HttpClientRequest r;
  r.method = "POST";
  r.address = "127.0.0.1:" + std::to_string(server.port());
  r.target = "/rpc";
  r.headers = {{"Content-Type", "application/json"}, {"Host", "ignored"}};
  r.body = R"({"id":1})";
  client().request(std::move(r), results_.callback(executor_));
  ASSERT_TRUE(results_.wait_size(1));
  ASSERT_TRUE(results_.at(0).ok()) << results_.at(0).status().to_string();
  EXPECT_EQ(results_.at(0)->body, R"({"id":1})");
  auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method_string(), "POST");
  EXPECT_EQ(seen[0][http::field::content_type], "application/json");
  EXPECT_EQ(seen[0][http::field::host], "127.0.0.1:" + std::to_string(server.port()));
}

// Requests one after another share one kept-alive connection.
TEST_F(HttpClientTest, KeepAliveReusesConnection) {
  TestServer server;
  for (size_t i = 1; i <= 5; ++i) {
    get(server.url("/n"));
    ASSERT_TRUE(results_.wait_size(i));
    ASSERT_TRUE(results_.at(i - 1).ok()) << results_.at(i - 1).status().to_string();
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(stats().connections_opened, 1u);
  EXPECT_EQ(stats().connections_reused, 4u);
  EXPECT_EQ(stats().connections_idle, 1u);
}

// A server that closes a kept-alive connection after answering costs a new connection, not an
// error.
TEST_F(HttpClientTest, ServerClosedIdleConnectionIsReplaced) {
  TestServer server;
  server.set_mode(TestServer::Mode::kCloseAfterAnswer);
  for (size_t i = 1; i <= 3; ++i) {
    get(server.url("/n"));
    ASSERT_TRUE(results_.wait_size(i));
    ASSERT_TRUE(results_.at(i - 1).ok()) << results_.at(i - 1).status().to_string();
  }
  EXPECT_EQ(server.accepted(), 3);
}

// A server that never answers ends in DEADLINE_EXCEEDED, and the connection is closed.
TEST_F(HttpClientTest, DeadlineAgainstSilentServer) {
  TestServer server;
  server.set_mode(TestServer::Mode::kSilent);
  get(server.url("/slow"), 200ms);
  ASSERT_TRUE(results_.wait_size(1));
  EXPECT_EQ(results_.at(0).status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(results_.at(0).status().message(), HasSubstr("127.0.0.1:"));
  EXPECT_TRUE(server.wait([](int, int closed, size_t) { return closed == 1; }));
  EXPECT_EQ(client_->in_flight(), 0u);
}

// A refused connection is UNAVAILABLE and names host:port.
TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  const uint16_t port = closed_port();
  get("http://127.0.0.1:" + std::to_string(port) + "/");
  ASSERT_TRUE(results_.wait_size(1));
  EXPECT_EQ(results_.at(0).status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(results_.at(0).status().message(),
              HasSubstr("connect 127.0.0.1:" + std::to_string(port)));
}

// A body up to response_bytes_max is delivered; one byte more is RESOURCE_EXHAUSTED, with a
// Content-Length or chunked.
TEST_F(HttpClientTest, ResponseSizeLimit) {
  TestServer server;
  server.set_handler([](const auto& req, auto& res) {
    res.body() = std::string(req.target() == "/fits" ? 1000 : 1001, 'x');
    res.chunked(req.target() == "/chunked");  // no Content-Length to check up front
  });
  client(limits(256, 8, 4, 1000));
  get(server.url("/fits"));
  ASSERT_TRUE(results_.wait_size(1));
  ASSERT_TRUE(results_.at(0).ok()) << results_.at(0).status().to_string();
  EXPECT_EQ(results_.at(0)->body.size(), 1000u);
  get(server.url("/big"));
  ASSERT_TRUE(results_.wait_size(2));
  EXPECT_EQ(results_.at(1).status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(results_.at(1).status().message(), HasSubstr("response_bytes_max"));
  get(server.url("/chunked"));
  ASSERT_TRUE(results_.wait_size(3));
  EXPECT_EQ(results_.at(2).status().code(), StatusCode::kResourceExhausted);
}

// Past in_flight_max, a request fails at once with RESOURCE_EXHAUSTED; the others go on.
TEST_F(HttpClientTest, InFlightBound) {
  TestServer server;
  server.set_mode(TestServer::Mode::kHold);
  client(limits(2, 8, 4, 1 << 20));
  get(server.url("/a"));
  get(server.url("/b"));
  get(server.url("/c"));
  ASSERT_TRUE(results_.wait_size(1));
  EXPECT_EQ(results_.at(0).status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(results_.at(0).status().message(), HasSubstr("in_flight_max"));
  EXPECT_EQ(client_->in_flight(), 2u);
  server.release();
  ASSERT_TRUE(results_.wait_size(3));
  EXPECT_TRUE(results_.at(1).ok() && results_.at(2).ok());
  EXPECT_EQ(client_->in_flight(), 0u);
}

// At most connections_max connections per host: more requests wait for one.
TEST_F(HttpClientTest, ConnectionsPerHostBound) {
  TestServer server;
  hold_requests(server, limits(256, 2, 4, 1 << 20), 5, 2);
  EXPECT_EQ(stats().connections_open, 2u);
  EXPECT_EQ(client_->in_flight(), 5u);
  server.release();
  ASSERT_TRUE(results_.wait_size(5));
  for (size_t i = 0; i < 5; ++i)
    EXPECT_TRUE(results_.at(i).ok()) << results_.at(i).status().to_string();
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(server.max_open(), 2);
}

// Past idle_connections_max, a connection that finished its request is closed.
TEST_F(HttpClientTest, IdleConnectionsBound) {
  TestServer server;
  hold_requests(server, limits(256, 3, 1, 1 << 20), 3, 3);
  server.release();
  ASSERT_TRUE(results_.wait_size(3));
  EXPECT_TRUE(server.wait([](int, int closed, size_t) { return closed == 2; }));
  EXPECT_EQ(stats().connections_open, 1u);
  EXPECT_EQ(stats().connections_idle, 1u);
}

// cancel() calls back with CANCELLED once; a second cancel() finds nothing.
TEST_F(HttpClientTest, CancelCallsBackCancelled) {
  TestServer server;
  server.set_mode(TestServer::Mode::kSilent);
  const HttpRequestId id = get(server.url("/c"));
  ASSERT_TRUE(server.wait([](int, int, size_t requests) { return requests == 1; }));
  bool first = false;
  bool second = true;
  ASSERT_TRUE(executor_.run_sync([&] { first = client_->cancel(id); }, kWait).ok());
  ASSERT_TRUE(results_.wait_size(1));
  ASSERT_TRUE(executor_.run_sync([&] { second = client_->cancel(id); }, kWait).ok());
  EXPECT_TRUE(first);
  EXPECT_FALSE(second);
  EXPECT_EQ(results_.at(0).status().code(), StatusCode::kCancelled);
  EXPECT_TRUE(server.wait([](int, int closed, size_t) { return closed == 1; }));
}

// shutdown() (the plugin stopped) drops requests in flight without calling back, closes their
// connections, and ignores later requests.
TEST_F(HttpClientTest, ShutdownDropsCallbacks) {
  TestServer server;
  server.set_mode(TestServer::Mode::kSilent);
  get(server.url("/a"));
  ASSERT_TRUE(server.wait([](int, int, size_t requests) { return requests == 1; }));
  ASSERT_TRUE(executor_.run_sync([&] { client_->shutdown(); }, kWait).ok());
  EXPECT_TRUE(server.wait([](int, int closed, size_t) { return closed == 1; }));
  get(server.url("/b"));
  // Anything the client had posted has run once this task does.
  ASSERT_TRUE(executor_.run_sync([] {}, kWait).ok());
  EXPECT_EQ(results_.size(), 0u);
  EXPECT_EQ(client_->in_flight(), 0u);
  EXPECT_EQ(server.accepted(), 1);
}

// Malformed requests fail with INVALID_ARGUMENT, never inside request() itself.
TEST_F(HttpClientTest, BadRequestsAreInvalidArgument) {
  size_t inside = 99;
  ASSERT_TRUE(executor_
                  .run_sync(
                      [&] {
                        get("ftp://127.0.0.1:21/");
                        get("http://127.0.0.1/no port is fine but spaces are not");
                        HttpClientRequest r;
                        r.address = "127.0.0.1:1";
                        r.headers = {{"X-Evil", "a\r\nInjected: 1"}};
                        client().request(std::move(r), results_.callback(executor_));
                        inside = results_.size();
                      },
                      kWait)
                  .ok());
  EXPECT_EQ(inside, 0u);
  ASSERT_TRUE(results_.wait_size(3));
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(results_.at(i).status().code(), StatusCode::kInvalidArgument)
        << results_.at(i).status().to_string();
  EXPECT_THAT(results_.at(0).status().message(), HasSubstr("ftp://"));
  EXPECT_THAT(results_.at(2).status().message(), HasSubstr("X-Evil"));
}

class HttpClientTlsTest : public HttpClientTest {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(create_ca(dir_.path() / "ca", "test-ca", 1).ok());
    ASSERT_TRUE(issue_cert(dir_.path() / "ca", "server", {"server", {}, {"127.0.0.1"}, 1}).ok());
    server_.emplace(TestServer::Options{
        std::make_pair(dir_.path() / "ca" / "server.pem", dir_.path() / "ca" / "server.key")});
  }
  HttpClientRequest https(std::string ca_file, bool verify_peer = true,
                          std::string server_name = "") {
    HttpClientRequest r;
    r.url = server_->url("/secure");
    r.tls_options.ca_file = std::move(ca_file);
    r.tls_options.verify_peer = verify_peer;
    r.tls_options.server_name = std::move(server_name);
    return r;
  }
  std::string ca() const { return (dir_.path() / "ca" / "ca.pem").string(); }

  TempDir dir_;
  std::optional<TestServer> server_;
};

// https with the test CA verifies the server's certificate and keeps the connection alive.
TEST_F(HttpClientTlsTest, VerifiedWithCaFile) {
  client().request(https(ca()), results_.callback(executor_));
  ASSERT_TRUE(results_.wait_size(1));
  ASSERT_TRUE(results_.at(0).ok()) << results_.at(0).status().to_string();
  EXPECT_EQ(results_.at(0)->body, "GET /secure");
  client().request(https(ca()), results_.callback(executor_));
  ASSERT_TRUE(results_.wait_size(2));
  ASSERT_TRUE(results_.at(1).ok()) << results_.at(1).status().to_string();
  EXPECT_EQ(server_->accepted(), 1);
}

// A self-signed chain the client does not trust, or a name the certificate does not carry,
// fails the handshake; verify_peer = false accepts it.
TEST_F(HttpClientTlsTest, UntrustedOrWrongNameRefused) {
  client().request(https(""), results_.callback(executor_));  // system trust store
  client().request(https(ca(), true, "other.example"), results_.callback(executor_));
  client().request(https("", false), results_.callback(executor_));
  ASSERT_TRUE(results_.wait_size(3));
  std::vector<StatusCode> codes;
  for (size_t i = 0; i < 3; ++i)
    codes.push_back(results_.at(i).status().code());
  EXPECT_EQ(std::count(codes.begin(), codes.end(), StatusCode::kUnavailable), 2);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), StatusCode::kOk), 1);
  for (size_t i = 0; i < 3; ++i) {
    if (!results_.at(i).ok()) {
      EXPECT_THAT(results_.at(i).status().message(), HasSubstr("TLS handshake 127.0.0.1:"));
    }
  }
}

// A CA file that does not exist is INVALID_ARGUMENT naming it.
TEST_F(HttpClientTlsTest, MissingCaFile) {
  client().request(https("/nonexistent/ca.pem"), results_.callback(executor_));
  ASSERT_TRUE(results_.wait_size(1));
  EXPECT_EQ(results_.at(0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(results_.at(0).status().message(), HasSubstr("/nonexistent/ca.pem"));
}

}  // namespace
}  // namespace nodus::kernel
