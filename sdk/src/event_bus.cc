// ScopedEventBus (nodus/services/event_bus.h): one owner's subscriptions, ended at close().
#include "nodus/services/event_bus.h"

#include <map>
#include <mutex>
#include <utility>

#include "callback_gate.h"

namespace nodus {

struct ScopedEventBus::State {
  internal::CallbackGate gate;
  std::mutex mu;  // guards the fields below
  SubscriptionId next_id = 1;
  std::map<SubscriptionId, SubscriptionId> subscriptions;  // view id -> inner id
};

ScopedEventBus::ScopedEventBus(EventBus& inner)
    : inner_(inner), state_(std::make_shared<State>()) {}

ScopedEventBus::~ScopedEventBus() {
  close();
}

void ScopedEventBus::publish(std::string_view topic, std::string payload) {
  inner_.publish(topic, std::move(payload));
}

SubscriptionId ScopedEventBus::subscribe(std::string topic, EventHandler handler) {
  std::lock_guard<std::mutex> lock(state_->mu);
  const SubscriptionId id = state_->next_id++;
  if (state_->gate.closed()) return id;  // never delivers; unsubscribe() answers false
  const SubscriptionId inner_id =
      inner_.subscribe(std::move(topic), [state = state_, handler = std::move(handler)](
                                             std::string_view t, const std::string& payload) {
        internal::run_gated(state->gate, [&] { handler(t, payload); });
      });
  state_->subscriptions.emplace(id, inner_id);
  return id;
}

bool ScopedEventBus::unsubscribe(SubscriptionId id) {
  SubscriptionId inner_id = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->subscriptions.find(id);
    if (it == state_->subscriptions.end()) return false;
    inner_id = it->second;
    state_->subscriptions.erase(it);
  }
  return inner_.unsubscribe(inner_id);
}

void ScopedEventBus::close() {
  state_->gate.close();
  std::map<SubscriptionId, SubscriptionId> subscriptions;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    subscriptions.swap(state_->subscriptions);
  }
  for (const auto& entry : subscriptions)
    (void)inner_.unsubscribe(entry.second);
}

bool ScopedEventBus::closed() const {
  return state_->gate.closed();
}

}  // namespace nodus
