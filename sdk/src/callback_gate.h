// Internal to libnodus_sdk: the gate behind ScopedExecutor, ScopedTransport and ScopedEventBus.
// Callbacks pass it on their way in; close() shuts it and waits for the ones inside, so that
// once close() returns no callback of the owner runs, on any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace nodus::internal {

class CallbackGate {
 public:
  // Lets a callback in: false once closed (the callback must then do nothing).
  bool enter();
  // The callback that enter() let in has returned (or thrown).
  void leave();
  // Shuts the gate and waits until every callback inside has left, except those on the
  // calling thread: close() from inside a callback lets that callback finish. Returns true
  // when the caller was inside none (so no callback of the gate is running any more).
  bool close();
  bool closed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable left_;
  bool open_ = true;
  size_t inside_ = 0;
};

// Runs `fn` inside `gate` (nothing when it is closed); leaves even if `fn` throws.
template <class Fn>
bool run_gated(CallbackGate& gate, Fn&& fn) {
  if (!gate.enter()) return false;
  struct Leave {
    CallbackGate& gate;
    ~Leave() { gate.leave(); }
  } leave{gate};
  fn();
  return true;
}

}  // namespace nodus::internal
