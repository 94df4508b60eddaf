#include "kernel/runtime/udp_datagrams.h"

#include <pthread.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <exception>
#include <future>
#include <mutex>
#include <system_error>
#include <vector>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include "nodus/address.h"

namespace nodus::kernel {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// A kernel buffer that absorbs a burst while the socket thread is descheduled.
constexpr int kSocketBufferBytes = 4 << 20;
// Datagrams read per wake-up of one socket before the thread serves the others.
constexpr int kReadBatch = 256;

Result<asio::ip::address> parse_ip(std::string_view what, const std::string& host) {
  if (host == "localhost") return asio::ip::address(asio::ip::address_v4::loopback());
  if (host.empty()) return asio::ip::address(asio::ip::address_v4::any());
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    return invalid_argument(std::string(what) + ": '" + host +
                            "' is not an IP address (names are not resolved on the executor)");
  }
  return addr;
}

std::string port_label(std::string_view port) {
  return "datagram port '" + std::string(port) + "'";
}

}  // namespace

struct UdpDatagrams::Endpoint {
  Endpoint(asio::io_context& io, std::string n) : name(std::move(n)), socket(io) {}
  const std::string name;
  DatagramOptions options;
  DatagramHandler handler;  // executor only
  DatagramCounters counters;
  Executor* executor = nullptr;
  Logger* logger = nullptr;
  udp::socket socket;  // its async operations run on the socket thread
  int fd = -1;
  bool v6 = false;
  std::string local;
  std::atomic<bool> open{true};

  std::mutex mu;
  std::deque<Datagram> queue;  // guarded by mu
  bool drain_posted = false;   // guarded by mu
};

UdpDatagrams::UdpDatagrams(std::string bind_host, std::map<std::string, uint16_t> ports,
                           Executor& executor, Metrics& metrics, Logger& logger)
    : bind_host_(std::move(bind_host)),
      ports_(std::move(ports)),
      executor_(executor),
      metrics_(metrics),
      logger_(logger),
      read_buffer_(kDatagramBytesMax + 1, '\0') {}

UdpDatagrams::~UdpDatagrams() {
  while (!endpoints_.empty())
    (void)close(endpoints_.begin()->first);
  if (thread_.joinable()) {
    work_.reset();
    io_.stop();
    thread_.join();
  }
}

void UdpDatagrams::start_thread() {
  if (thread_.joinable()) return;
  work_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nodus-udp");
    io_.run();
  });
}

void UdpDatagrams::run_on_socket_thread(const std::function<void()>& fn) {
  std::promise<void> done;
  asio::post(io_, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

Status UdpDatagrams::bind(std::string_view port, DatagramHandler handler,
                          const DatagramOptions& options) {
  auto named = ports_.find(std::string(port));
  if (named == ports_.end()) {
    std::string known;
    for (const auto& [name, number] : ports_)
      known += (known.empty() ? "" : ", ") + name;
    return not_found(
        port_label(port) + ": the profile names no such port for this instance" +
        (known.empty() ? std::string(" (it names none)") : " (it names " + known + ")"));
  }
  if (endpoints_.count(port) > 0) return already_exists(port_label(port) + " is already bound");
  NODUS_RETURN_IF_ERROR(check_datagram_options(port, options));
  if (!handler) return invalid_argument(port_label(port) + ": no handler");
  NODUS_ASSIGN_OR_RETURN(auto addr, parse_ip(port_label(port), bind_host_));
  const udp::endpoint where(addr, named->second);
  const std::string where_text = format_host_port(addr.to_string(), named->second);

  auto ep = std::make_shared<Endpoint>(io_, std::string(port));
  boost::system::error_code ec;
  ep->socket.open(where.protocol(), ec);
  if (!ec) ep->socket.bind(where, ec);
  if (ec) {
    return unavailable(port_label(port) + " (" + where_text + "): cannot bind: " + ec.message());
  }
  // Best effort: a larger kernel buffer only makes drops rarer.
  ep->socket.set_option(asio::socket_base::receive_buffer_size(kSocketBufferBytes), ec);
  ep->socket.set_option(asio::socket_base::send_buffer_size(kSocketBufferBytes), ec);
  ep->socket.non_blocking(true, ec);
  const udp::endpoint bound = ep->socket.local_endpoint(ec);
  ep->local = format_host_port(bound.address().to_string(), bound.port());
  ep->fd = ep->socket.native_handle();
  ep->v6 = addr.is_v6();
  ep->options = options;
  ep->handler = std::move(handler);
  ep->counters = DatagramCounters::create(metrics_, port);
  ep->executor = &executor_;
  ep->logger = &logger_;
  endpoints_.emplace(std::string(port), ep);
  start_thread();
  asio::post(io_, [this, ep] { arm(ep); });
  return {};
}

void UdpDatagrams::arm(const std::shared_ptr<Endpoint>& ep) {
  if (!ep->open.load(std::memory_order_acquire)) return;
  ep->socket.async_wait(udp::socket::wait_read, [this, ep](const boost::system::error_code& ec) {
    if (ec) return;  // closed
    read_ready(ep);
  });
}

void UdpDatagrams::read_ready(const std::shared_ptr<Endpoint>& ep) {
  bool post_drain = false;
  for (int i = 0; i < kReadBatch && ep->open.load(std::memory_order_acquire); ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    // MSG_TRUNC: the datagram's real length even when it did not fit the buffer.
    const ssize_t n =
        ::recvfrom(ep->fd, read_buffer_.data(), read_buffer_.size(), MSG_DONTWAIT | MSG_TRUNC,
                   reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: drained; anything else is a per-datagram error that the next read skips
    }
    const auto size = static_cast<size_t>(n);
    if (size > ep->options.max_datagram_bytes) {
      ep->counters.dropped_oversize->inc();
      continue;
    }
    udp::endpoint sender;
    std::memcpy(sender.data(), &from, std::min<size_t>(from_len, sizeof(from)));
    std::lock_guard<std::mutex> lock(ep->mu);
    if (ep->queue.size() >= ep->options.receive_queue_max) {
      ep->counters.dropped_queue_full->inc();
      continue;
    }
    ep->queue.push_back({format_host_port(sender.address().to_string(), sender.port()),
                         std::string(read_buffer_.data(), size)});
    if (!ep->drain_posted) {
      ep->drain_posted = true;
      post_drain = true;
    }
  }
  if (post_drain) ep->executor->post([ep] { drain(ep); });
  arm(ep);
}

void UdpDatagrams::drain(const std::shared_ptr<Endpoint>& ep) {
  std::vector<Datagram> batch;
  {
    std::lock_guard<std::mutex> lock(ep->mu);
    while (!ep->queue.empty() && batch.size() < kDrainBatch) {
      batch.push_back(std::move(ep->queue.front()));
      ep->queue.pop_front();
    }
  }
  // A copy: the handler may close its own binding, which releases ep->handler.
  const DatagramHandler handler = ep->handler;
  for (auto& d : batch) {
    if (!ep->open.load(std::memory_order_acquire)) return;
    ep->counters.received->inc();
    try {
      handler(std::move(d));
    } catch (const std::exception& e) {
      ep->logger->error(port_label(ep->name) + ": handler threw: " + e.what());
    } catch (...) {
      ep->logger->error(port_label(ep->name) + ": handler threw a non-standard exception");
    }
  }
  std::lock_guard<std::mutex> lock(ep->mu);
  if (ep->queue.empty()) {
    ep->drain_posted = false;
  } else {
    // More waiting: yield to the executor's other tasks and continue in a new task.
    ep->executor->post([ep] { drain(ep); });
  }
}

Status UdpDatagrams::send_to(std::string_view port, std::string_view address,
                             std::string_view payload) {
  auto it = endpoints_.find(port);
  if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
  Endpoint& ep = *it->second;
  NODUS_RETURN_IF_ERROR(check_datagram_size(port, payload.size(), ep.options.max_datagram_bytes));
  NODUS_ASSIGN_OR_RETURN(HostPort hp, parse_datagram_address(port, address));
  NODUS_ASSIGN_OR_RETURN(auto ip, parse_ip(port_label(port) + ": send_to " + std::string(address),
                                           hp.host.empty() ? "localhost" : hp.host));
  if (ep.v6 && ip.is_v4()) ip = asio::ip::make_address_v6(asio::ip::v4_mapped, ip.to_v4());
  const udp::endpoint to(ip, hp.port);
  const ssize_t n =
      ::sendto(ep.fd, payload.data(), payload.size(), MSG_DONTWAIT, to.data(), to.size());
  if (n < 0) {
    const int err = errno;
    ep.counters.dropped_send->inc();
    // generic_category().message(): strerror() is not thread-safe.
    const std::string why = port_label(port) + ": send_to " + std::string(address) + ": " +
                            std::generic_category().message(err);
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) return resource_exhausted(why);
    return unavailable(why);
  }
  ep.counters.sent->inc();
  return {};
}

Status UdpDatagrams::close(std::string_view port) {
  auto it = endpoints_.find(port);
  if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
  std::shared_ptr<Endpoint> ep = it->second;
  endpoints_.erase(it);
  ep->open.store(false, std::memory_order_release);
  // The socket's pending wait belongs to the socket thread; close it there, so the port is
  // free again when close() returns (a plugin restarted at once can bind it).
  if (thread_.joinable() && !io_.stopped()) {
    run_on_socket_thread([&ep] {
      boost::system::error_code ec;
      ep->socket.close(ec);
    });
  } else {
    boost::system::error_code ec;
    ep->socket.close(ec);
  }
  {
    std::lock_guard<std::mutex> lock(ep->mu);
    ep->queue.clear();
  }
  // The handler holds plugin code: release it now, on the executor, not in a late task.
  ep->handler = nullptr;
  return {};
}

Result<std::string> UdpDatagrams::local_address(std::string_view port) const {
  auto it = endpoints_.find(port);
  if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
  return it->second->local;
}

Result<DatagramStats> UdpDatagrams::stats(std::string_view port) const {
  auto it = endpoints_.find(port);
  if (it == endpoints_.end()) return failed_precondition(port_label(port) + " is not bound");
  return it->second->counters.snapshot();
}

}  // namespace nodus::kernel
