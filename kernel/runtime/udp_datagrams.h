// runtime/udp_datagrams.h: the kernel's Datagrams, on real UDP sockets.
//
// One per node instance, shared by its plugins (the plugin host gives each plugin a view that
// closes that plugin's bindings at its stop()). Sockets are read on a thread of their own, so
// a flood never reaches the executor: each datagram goes into the binding's bounded queue (or
// is dropped and counted), and a drain task on the executor hands at most kDrainBatch of them
// to the handler before it yields to other tasks. Sends are non-blocking sendto() calls made
// directly on the executor.
//
//   UdpDatagrams dg("127.0.0.1", info.ports, executor, metrics, logger);
//   NODUS_RETURN_IF_ERROR(dg.bind("gossip", [](nodus::Datagram d) { ... }));
//   NODUS_RETURN_IF_ERROR(dg.send_to("gossip", "127.0.0.1:7946", "ping"));
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "nodus/services/datagram.h"
#include "nodus/services/executor.h"
#include "nodus/services/logger.h"

namespace nodus::kernel {

class UdpDatagrams final : public Datagrams {
 public:
  // Datagrams handed to the handler per executor task.
  static constexpr size_t kDrainBatch = 256;

  // `bind_host` is the IP address the sockets bind (the profile's `bind:`); `ports` the
  // instance's named ports (0 picks a free port).
  UdpDatagrams(std::string bind_host, std::map<std::string, uint16_t> ports, Executor& executor,
               Metrics& metrics, Logger& logger);
  // Closes every binding and joins the socket thread. Call after the executor stopped, or on it.
  ~UdpDatagrams() override;
  UdpDatagrams(const UdpDatagrams&) = delete;
  UdpDatagrams& operator=(const UdpDatagrams&) = delete;

  Status bind(std::string_view port, DatagramHandler handler,
              const DatagramOptions& options) override;
  using Datagrams::bind;
  Status send_to(std::string_view port, std::string_view address,
                 std::string_view payload) override;
  Status close(std::string_view port) override;
  Result<std::string> local_address(std::string_view port) const override;
  Result<DatagramStats> stats(std::string_view port) const override;

 private:
  struct Endpoint;
  void start_thread();
  // Waits for `fn` to have run on the socket thread (which never blocks).
  void run_on_socket_thread(const std::function<void()>& fn);
  void arm(const std::shared_ptr<Endpoint>& ep);
  void read_ready(const std::shared_ptr<Endpoint>& ep);
  static void drain(const std::shared_ptr<Endpoint>& ep);

  const std::string bind_host_;
  const std::map<std::string, uint16_t> ports_;
  Executor& executor_;
  Metrics& metrics_;
  Logger& logger_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
  std::string read_buffer_;                                                  // socket thread only
  std::map<std::string, std::shared_ptr<Endpoint>, std::less<>> endpoints_;  // executor only
};

}  // namespace nodus::kernel
