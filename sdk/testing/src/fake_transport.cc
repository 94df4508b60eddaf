#include "nodus/testing/fake_transport.h"

#include <algorithm>
#include <memory>

namespace nodus::testing {

FakeTransport::FakeTransport(PeerId self, std::vector<PeerInfo> peers, Executor& executor)
    : self_(self), peers_(std::move(peers)), executor_(executor) {}

Status FakeTransport::send(PeerId to, std::string_view channel, std::string payload) {
  const bool known =
      std::any_of(peers_.begin(), peers_.end(), [to](const PeerInfo& p) { return p.id == to; });
  if (!known) return not_found("unknown peer " + std::to_string(to));
  sent_.push_back({to, std::string(channel), std::move(payload)});
  return {};
}

void FakeTransport::call(PeerId to, std::string_view method, std::string request, Duration timeout,
                         CallCallback done) {
  calls_.push_back({to, std::string(method), std::move(request), timeout, std::move(done)});
}

Status FakeTransport::on_message(std::string channel, MessageHandler handler) {
  if (message_handlers_.count(channel)) {
    return already_exists("a handler for channel " + channel + " is already registered");
  }
  message_handlers_.emplace(std::move(channel), std::move(handler));
  return {};
}

Status FakeTransport::on_call(std::string method, CallHandler handler) {
  if (call_handlers_.count(method)) {
    return already_exists("a handler for method " + method + " is already registered");
  }
  call_handlers_.emplace(std::move(method), std::move(handler));
  return {};
}

void FakeTransport::forget_handlers() {
  message_handlers_.clear();
  call_handlers_.clear();
  for (auto& c : calls_) {
    c.completed = true;
    c.done = nullptr;
  }
}

void FakeTransport::complete_call(size_t i, Result<std::string> response) {
  if (i >= calls_.size() || calls_[i].completed) return;
  calls_[i].completed = true;
  executor_.post(
      [done = calls_[i].done, r = std::move(response)]() mutable { done(std::move(r)); });
}

Status FakeTransport::deliver(PeerId from, const std::string& channel, std::string payload) {
  auto it = message_handlers_.find(channel);
  if (it == message_handlers_.end()) return not_found("no handler for channel " + channel);
  executor_.post([handler = it->second, from, p = std::move(payload)]() mutable {
    handler(from, std::move(p));
  });
  return {};
}

std::optional<Result<std::string>> FakeTransport::invoke(PeerId from, const std::string& method,
                                                         std::string request) {
  auto it = call_handlers_.find(method);
  if (it == call_handlers_.end()) {
    return Result<std::string>(unimplemented("no handler for method " + method));
  }
  auto reply = std::make_shared<std::optional<Result<std::string>>>();
  it->second(from, std::move(request), [reply](Result<std::string> r) { *reply = std::move(r); });
  return *reply;
}

}  // namespace nodus::testing
