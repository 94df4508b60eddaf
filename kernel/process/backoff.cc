#include "kernel/process/backoff.h"

#include <algorithm>

namespace nodus::kernel {

uint32_t Backoff::nominal_ms(uint32_t attempt) const {
  uint64_t d = initial_ms_;
  for (uint32_t i = 1; i < attempt && d < max_ms_; ++i)
    d *= 2;
  return static_cast<uint32_t>(std::min<uint64_t>(d, max_ms_));
}

uint32_t Backoff::delay_ms(uint32_t attempt, std::mt19937_64& rng) const {
  const uint32_t d = nominal_ms(std::max<uint32_t>(attempt, 1));
  std::uniform_int_distribution<uint32_t> jitter(d / 2, d);
  return jitter(rng);
}

bool CrashLoopBreaker::record_death(TimePoint now) {
  const auto window = std::chrono::seconds(window_s_);
  while (!times_.empty() && now - times_.front() >= window)
    times_.pop_front();
  times_.push_back(now);
  while (times_.size() > deaths_)
    times_.pop_front();
  return times_.size() >= deaths_;
}

}  // namespace nodus::kernel
