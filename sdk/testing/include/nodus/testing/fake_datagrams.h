// nodus/testing/fake_datagrams.h: Datagrams that record what a plugin sends and let the test
// play the senders.
//
// It keeps the interface's contract: the same checks and messages as the kernel (unknown or
// doubly bound port, options out of range, oversize sends, addresses that are not IP
// addresses), the same counters and metrics, and the same bounded receive queue between
// deliver() and the handler, which runs on the executor. deliver() is safe from any thread.
//
//   ManualExecutor exec;
//   FakeDatagrams dg({{"gossip", 7946}}, exec, metrics);   // metrics: any nodus::Metrics
//   (TestNode has one: TestNodeOptions::ports, then node.datagrams())
//   ... plugin binds "gossip" and sends ...
//   ASSERT_EQ(dg.sent().size(), 1u);                       // {port, to, payload}
//   dg.deliver("gossip", "10.0.0.2:7946", "ack");          // a peer's datagram arrives
//   exec.run_until_idle();                                 // the handler runs
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nodus/services/datagram.h"
#include "nodus/services/executor.h"

namespace nodus::testing {

class FakeDatagrams final : public Datagrams {
 public:
  struct Sent {
    std::string port;
    std::string to;
    std::string payload;
  };

  // `ports`: the instance's named ports; `host`: the address local_address() reports.
  FakeDatagrams(std::map<std::string, uint16_t> ports, Executor& executor, Metrics& metrics,
                std::string host = "127.0.0.1");
  ~FakeDatagrams() override;
  FakeDatagrams(const FakeDatagrams&) = delete;
  FakeDatagrams& operator=(const FakeDatagrams&) = delete;

  using Datagrams::bind;
  Status bind(std::string_view port, DatagramHandler handler,
              const DatagramOptions& options) override;
  Status send_to(std::string_view port, std::string_view address,
                 std::string_view payload) override;
  Status close(std::string_view port) override;
  Result<std::string> local_address(std::string_view port) const override;
  Result<DatagramStats> stats(std::string_view port) const override;

  // A datagram from `from` arrives on `port`. As on a real socket, an unbound port or a full
  // queue loses it (FAILED_PRECONDITION / RESOURCE_EXHAUSTED tell the test so) and an oversize
  // one is dropped (INVALID_ARGUMENT); the last two are counted.
  Status deliver(std::string_view port, std::string from, std::string payload);
  // Makes the next send_to() calls fail as a full socket buffer does.
  void fail_sends(bool fail) { fail_sends_ = fail; }
  // Sent datagrams, oldest first.
  std::vector<Sent> sent() const;
  bool bound(std::string_view port) const;

 private:
  struct Binding;
  static void drain(const std::shared_ptr<Binding>& b);

  const std::map<std::string, uint16_t> ports_;
  Executor& executor_;
  Metrics& metrics_;
  const std::string host_;
  bool fail_sends_ = false;
  mutable std::mutex mu_;  // guards bindings_ and sent_: deliver() comes from any thread
  std::map<std::string, std::shared_ptr<Binding>, std::less<>> bindings_;
  std::vector<Sent> sent_;
};

}  // namespace nodus::testing
