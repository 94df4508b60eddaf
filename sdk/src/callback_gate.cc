#include "callback_gate.h"

#include <algorithm>
#include <vector>

namespace nodus::internal {
namespace {

// The gates this thread is inside, innermost last, so that close() does not wait for itself.
thread_local std::vector<const CallbackGate*> tl_inside;

size_t inside_on_this_thread(const CallbackGate* gate) {
  return static_cast<size_t>(std::count(tl_inside.begin(), tl_inside.end(), gate));
}

}  // namespace

bool CallbackGate::enter() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!open_) return false;
  ++inside_;
  tl_inside.push_back(this);
  return true;
}

void CallbackGate::leave() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --inside_;
    auto it = std::find(tl_inside.rbegin(), tl_inside.rend(), this);
    if (it != tl_inside.rend()) tl_inside.erase(std::next(it).base());
  }
  left_.notify_all();
}

bool CallbackGate::close() {
  std::unique_lock<std::mutex> lock(mu_);
  open_ = false;
  const size_t mine = inside_on_this_thread(this);
  left_.wait(lock, [&] { return inside_ <= mine; });
  return mine == 0;
}

bool CallbackGate::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !open_;
}

}  // namespace nodus::internal
