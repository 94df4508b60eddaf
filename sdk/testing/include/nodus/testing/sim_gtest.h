// nodus/testing/sim_gtest.h: the GoogleTest glue of the simulation seeds (header-only, so
// nodus::testing itself does not depend on GoogleTest).
//
//   for (uint64_t seed : nodus::testing::sim_seeds(50)) {
//     ...
//     ASSERT_TRUE(ok) << nodus::testing::replay_hint(seed);
//   }
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "nodus/testing/sim_seeds.h"

namespace nodus::testing {

// The replay line for the running test.
inline std::string replay_hint(uint64_t seed) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name;
  if (info) name = std::string(info->test_suite_name()) + "." + info->name();
  return replay_command(seed, name);
}

}  // namespace nodus::testing
