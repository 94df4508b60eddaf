// nodus/services/event_bus.h: in-process publish/subscribe between plugins and the kernel.
//
// Topics are dotted names. The kernel publishes "node.ready", "node.stopping" and
// "node.role" (payload: the new role); plugins may publish their own under their name.
// Handlers run on the instance executor, never inside publish().
//
//   auto id = ctx.events().subscribe("node.role", [](std::string_view, const std::string& r) {
//     ...
//   });
//   ctx.events().publish("io.example.hello.greeted", "alice");
//   ctx.events().unsubscribe(id);
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace nodus {

using SubscriptionId = uint64_t;
using EventHandler = std::function<void(std::string_view topic, const std::string& payload)>;

class EventBus {
 public:
  virtual ~EventBus() = default;
  // Delivers `payload` to every subscriber of `topic` (exact match, or a subscription to a
  // prefix ending in ".*").
  virtual void publish(std::string_view topic, std::string payload) = 0;
  virtual SubscriptionId subscribe(std::string topic, EventHandler handler) = 0;
  virtual bool unsubscribe(SubscriptionId id) = 0;
};

// One owner's view of an event bus: its subscriptions end when it is closed. The kernel hands
// each plugin one as PluginContext::events() and closes it after the plugin's stop() (or a
// failed start()), so no handler of a stopped plugin runs again. close() unsubscribes every
// subscription of the view and makes later subscribe() calls return ids that never deliver;
// a handler of the view already running on another thread is waited for. unsubscribe()
// accepts only the view's own ids.
class ScopedEventBus final : public EventBus {
 public:
  explicit ScopedEventBus(EventBus& inner);
  ~ScopedEventBus() override;  // close()
  ScopedEventBus(const ScopedEventBus&) = delete;
  ScopedEventBus& operator=(const ScopedEventBus&) = delete;

  void publish(std::string_view topic, std::string payload) override;
  SubscriptionId subscribe(std::string topic, EventHandler handler) override;
  bool unsubscribe(SubscriptionId id) override;

  void close();
  bool closed() const;

 private:
  struct State;
  EventBus& inner_;
  std::shared_ptr<State> state_;
};

}  // namespace nodus
