// ScopedTransport (nodus/services/transport.h): one owner's handlers and call callbacks, ended
// at close().
#include "nodus/services/transport.h"

#include <mutex>
#include <utility>
#include <vector>

#include "callback_gate.h"

namespace nodus {

struct ScopedTransport::State {
  internal::CallbackGate gate;
  std::mutex mu;  // guards the handler slots' closures when close() releases them
  // Each registered handler lives in a slot that close() empties, so that the closures (and
  // what they capture) go with the owner, although the inner transport keeps its wrappers.
  std::vector<std::shared_ptr<MessageHandler>> message_slots;
  std::vector<std::shared_ptr<CallHandler>> call_slots;
};

ScopedTransport::ScopedTransport(Transport& inner)
    : inner_(inner), state_(std::make_shared<State>()) {}

ScopedTransport::~ScopedTransport() {
  close();
}

PeerId ScopedTransport::self() const {
  return inner_.self();
}

std::vector<PeerInfo> ScopedTransport::peers() const {
  return inner_.peers();
}

Status ScopedTransport::send(PeerId to, std::string_view channel, std::string payload) {
  return inner_.send(to, channel, std::move(payload));
}

void ScopedTransport::call(PeerId to, std::string_view method, std::string request,
                           Duration timeout, CallCallback done) {
  inner_.call(to, method, std::move(request), timeout,
              [state = state_, done = std::move(done)](Result<std::string> response) {
                internal::run_gated(state->gate, [&] { done(std::move(response)); });
              });
}

Status ScopedTransport::on_message(std::string channel, MessageHandler handler) {
  if (state_->gate.closed()) {
    return failed_precondition("transport channel '" + channel + "': its plugin has stopped");
  }
  auto slot = std::make_shared<MessageHandler>(std::move(handler));
  NODUS_RETURN_IF_ERROR(
      inner_.on_message(channel, [state = state_, slot](PeerId from, std::string payload) {
        // After the gate let it in, close() waits for it before emptying the slot.
        internal::run_gated(state->gate, [&] { (*slot)(from, std::move(payload)); });
      }));
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->message_slots.push_back(std::move(slot));
  return {};
}

Status ScopedTransport::on_call(std::string method, CallHandler handler) {
  if (state_->gate.closed()) {
    return failed_precondition("transport method '" + method + "': its plugin has stopped");
  }
  auto slot = std::make_shared<CallHandler>(std::move(handler));
  NODUS_RETURN_IF_ERROR(inner_.on_call(
      method, [state = state_, slot, method](PeerId from, std::string request, CallReply reply) {
        const bool ran =
            internal::run_gated(state->gate, [&] { (*slot)(from, std::move(request), reply); });
        // The caller gets a prompt answer instead of waiting for its deadline.
        if (!ran) reply(unavailable("method '" + method + "': its plugin has stopped"));
      }));
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->call_slots.push_back(std::move(slot));
  return {};
}

void ScopedTransport::close() {
  // Called from inside one of its own handlers, that handler's closure is still running: keep
  // the closures then (they can no longer be called). Otherwise no handler runs any more.
  if (!state_->gate.close()) return;
  std::vector<std::shared_ptr<MessageHandler>> messages;
  std::vector<std::shared_ptr<CallHandler>> calls;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    messages.swap(state_->message_slots);
    calls.swap(state_->call_slots);
  }
  for (auto& slot : messages)
    *slot = nullptr;
  for (auto& slot : calls)
    *slot = nullptr;
}

bool ScopedTransport::closed() const {
  return state_->gate.closed();
}

}  // namespace nodus
