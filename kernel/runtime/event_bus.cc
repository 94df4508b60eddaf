#include "kernel/runtime/event_bus.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace nodus::kernel {

LocalEventBus::LocalEventBus(nodus::Executor& executor) : executor_(executor) {}

LocalEventBus::~LocalEventBus() {
  // Tasks already posted may outlive the bus; they hold their subscription, not the bus, and
  // are switched off here.
  std::lock_guard lock(mu_);
  for (auto& [id, sub] : by_id_)
    sub->active.store(false, std::memory_order_release);
}

void LocalEventBus::publish(std::string_view topic, std::string payload) {
  std::vector<std::shared_ptr<Subscription>> targets;
  {
    std::lock_guard lock(mu_);
    auto collect = [&](std::string_view pattern) {
      auto [begin, end] = by_pattern_.equal_range(pattern);
      for (auto it = begin; it != end; ++it)
        targets.push_back(it->second);
    };
    collect(topic);
    collect("*");
    // Every prefix that ends just before a dot: "a.b.c" matches "a.*" and "a.b.*".
    for (size_t dot = topic.find('.'); dot != std::string_view::npos;
         dot = topic.find('.', dot + 1)) {
      std::string pattern(topic.substr(0, dot + 1));
      pattern += '*';
      collect(pattern);
    }
  }
  if (targets.empty()) return;
  // Subscription order, so delivery order does not depend on pattern shape.
  std::sort(targets.begin(), targets.end(),
            [](const auto& a, const auto& b) { return a->id < b->id; });
  auto shared_topic = std::make_shared<const std::string>(topic);
  auto shared_payload = std::make_shared<const std::string>(std::move(payload));
  for (auto& sub : targets) {
    executor_.post([sub, shared_topic, shared_payload] {
      if (!sub->active.load(std::memory_order_acquire) || !sub->handler) return;
      sub->handler(*shared_topic, *shared_payload);
    });
  }
}

nodus::SubscriptionId LocalEventBus::subscribe(std::string topic, nodus::EventHandler handler) {
  auto sub = std::make_shared<Subscription>();
  sub->pattern = std::move(topic);
  sub->handler = std::move(handler);
  std::lock_guard lock(mu_);
  sub->id = next_id_++;
  by_pattern_.emplace(sub->pattern, sub);
  by_id_.emplace(sub->id, sub);
  return sub->id;
}

bool LocalEventBus::unsubscribe(nodus::SubscriptionId id) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  std::shared_ptr<Subscription> sub = std::move(it->second);
  by_id_.erase(it);
  sub->active.store(false, std::memory_order_release);
  auto [begin, end] = by_pattern_.equal_range(sub->pattern);
  for (auto pit = begin; pit != end; ++pit) {
    if (pit->second == sub) {
      by_pattern_.erase(pit);
      break;
    }
  }
  return true;
}

size_t LocalEventBus::subscription_count() const {
  std::lock_guard lock(mu_);
  return by_id_.size();
}

}  // namespace nodus::kernel
