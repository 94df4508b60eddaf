// runtime/event_bus.h: LocalEventBus, the in-process nodus::EventBus of one node instance.
//
// publish() matches subscriptions under a lock and posts one task per matching subscriber to
// the executor; handlers never run inside publish(). A subscription is an exact topic
// ("node.role"), a prefix ending in ".*" ("io.example.*" matches "io.example.a.b" but not
// "io.example"), or "*" for every topic. Each subscriber sees events in publish order.
// After unsubscribe() returns, the handler is not started again, even for events already
// queued, so unsubscribing from inside a handler is safe.
//
//   LocalEventBus bus(executor);
//   auto id = bus.subscribe("node.*", [](std::string_view topic, const std::string& p) {});
//   bus.publish("node.ready", "");
//   bus.unsubscribe(id);
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "nodus/services/event_bus.h"
#include "nodus/services/executor.h"

namespace nodus::kernel {

class LocalEventBus final : public nodus::EventBus {
 public:
  explicit LocalEventBus(nodus::Executor& executor);
  ~LocalEventBus() override;
  LocalEventBus(const LocalEventBus&) = delete;
  LocalEventBus& operator=(const LocalEventBus&) = delete;

  void publish(std::string_view topic, std::string payload) override;
  nodus::SubscriptionId subscribe(std::string topic, nodus::EventHandler handler) override;
  bool unsubscribe(nodus::SubscriptionId id) override;

  size_t subscription_count() const;

 private:
  struct Subscription {
    nodus::SubscriptionId id = 0;
    std::string pattern;
    nodus::EventHandler handler;
    std::atomic<bool> active{true};
  };

  nodus::Executor& executor_;
  mutable std::mutex mu_;
  nodus::SubscriptionId next_id_ = 1;
  std::map<nodus::SubscriptionId, std::shared_ptr<Subscription>> by_id_;
  std::multimap<std::string, std::shared_ptr<Subscription>, std::less<>> by_pattern_;
};

}  // namespace nodus::kernel
