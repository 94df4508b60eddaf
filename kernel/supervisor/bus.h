// supervisor/bus.h: the supervisor's end of the instance bus (internal to the supervisor).
#pragma once

#include <string>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "kernel/supervisor/supervisor.h"

namespace nodus::kernel {

// A ROUTER socket bound at ipc://<run_dir>/bus.sock; instances connect DEALER sockets.
struct Supervisor::Bus {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::router};
  std::string endpoint;
};

}  // namespace nodus::kernel
