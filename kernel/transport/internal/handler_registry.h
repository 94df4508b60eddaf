// transport/internal/handler_registry.h: the message and call handlers plugins registered.
//
// Shared (by shared_ptr) between the transport and the tasks it posts to the executor, so a
// task that runs after the transport stopped finds a closed registry instead of a dangling
// transport.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "nodus/services/transport.h"
#include "nodus/status.h"

namespace nodus::kernel::internal {

class HandlerRegistry {
 public:
  nodus::Status add_message_handler(std::string channel, nodus::MessageHandler handler) {
    if (!handler) return nodus::invalid_argument("on_message '" + channel + "': empty handler");
    std::lock_guard lock(mu_);
    if (message_handlers_.contains(channel)) {
      return nodus::already_exists("on_message '" + channel + "': channel already has a handler");
    }
    message_handlers_.emplace(std::move(channel),
                              std::make_shared<const nodus::MessageHandler>(std::move(handler)));
    return {};
  }

  nodus::Status add_call_handler(std::string method, nodus::CallHandler handler) {
    if (!handler) return nodus::invalid_argument("on_call '" + method + "': empty handler");
    std::lock_guard lock(mu_);
    if (call_handlers_.contains(method)) {
      return nodus::already_exists("on_call '" + method + "': method already has a handler");
    }
    call_handlers_.emplace(std::move(method),
                           std::make_shared<const nodus::CallHandler>(std::move(handler)));
    return {};
  }

  // nullptr when nobody registered `channel` or the registry is closed.
  std::shared_ptr<const nodus::MessageHandler> message_handler(std::string_view channel) const {
    std::lock_guard lock(mu_);
    if (closed_) return nullptr;
    auto it = message_handlers_.find(channel);
    return it == message_handlers_.end() ? nullptr : it->second;
  }

  // nullptr when nobody registered `method` or the registry is closed.
  std::shared_ptr<const nodus::CallHandler> call_handler(std::string_view method) const {
    std::lock_guard lock(mu_);
    if (closed_) return nullptr;
    auto it = call_handlers_.find(method);
    return it == call_handlers_.end() ? nullptr : it->second;
  }

  // After close() no handler runs again: the transport has stopped.
  void close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  mutable std::mutex mu_;
  bool closed_ = false;
  std::map<std::string, std::shared_ptr<const nodus::MessageHandler>, std::less<>>
      message_handlers_;
  std::map<std::string, std::shared_ptr<const nodus::CallHandler>, std::less<>> call_handlers_;
};

}  // namespace nodus::kernel::internal
