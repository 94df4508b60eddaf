#include "node/supervisor_bus.h"

#include <unistd.h>

#include <zmq.hpp>

#include "nodus/v1/control.pb.h"

namespace nodus::kernel {

namespace {
// Heartbeats queued while the supervisor is not reading; older news is worthless anyway.
constexpr int kSendQueueMax = 8;
}  // namespace

struct SupervisorBus::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  uint32_t index = 0;
  uint64_t seq = 0;
};

SupervisorBus::SupervisorBus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SupervisorBus::~SupervisorBus() = default;

Result<std::unique_ptr<SupervisorBus>> SupervisorBus::connect(const std::string& endpoint,
                                                              uint32_t index) {
  auto impl = std::make_unique<Impl>();
  impl->index = index;
  try {
    impl->socket.set(zmq::sockopt::linger, 0);
    impl->socket.set(zmq::sockopt::sndhwm, kSendQueueMax);
    impl->socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    return unavailable("supervisor bus " + endpoint + ": " + e.what());
  }
  return std::unique_ptr<SupervisorBus>(new SupervisorBus(std::move(impl)));
}

bool SupervisorBus::send(bool ready, const std::string& role) {
  nodus::v1::Heartbeat hb;
  hb.set_index(impl_->index);
  hb.set_pid(::getpid());
  hb.set_ready(ready);
  hb.set_role(role);
  hb.set_seq(++impl_->seq);
  const std::string bytes = hb.SerializeAsString();
  try {
    return impl_->socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

}  // namespace nodus::kernel
