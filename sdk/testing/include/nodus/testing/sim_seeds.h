// nodus/testing/sim_seeds.h: which seeds a simulation test runs, and how a failure says how
// to replay it.
//
//   NODUS_SIM_SEED=N     run exactly seed N (the replay of a failure)
//   NODUS_SIM_SEEDS=K    run K seeds (default: the test's own small number, so ctest is fast;
//                        scripts/sim-long.sh runs thousands)
//   NODUS_SIM_SEED_BASE=B  first seed of the K (default 1), to split a long run into shards
//
//   for (uint64_t seed : sim_seeds(50)) {
//     Status st = run_one(seed);
//     ASSERT_TRUE(st.ok()) << replay_hint(seed) << st.to_string();
//   }
//
// replay_hint() prints "seed=N replay: NODUS_SIM_SEED=N <binary> --gtest_filter=<test>" when
// called from inside a GoogleTest test (see sim_gtest.h), or "seed=N" otherwise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nodus::testing {

// The seeds to run, from the environment (see above), `default_count` when it says nothing.
std::vector<uint64_t> sim_seeds(uint64_t default_count);

// "seed=N replay: NODUS_SIM_SEED=N /path/to/binary --gtest_filter=Suite.Name\n".
// `test_name` empty: "seed=N\n".
std::string replay_command(uint64_t seed, const std::string& test_name);

}  // namespace nodus::testing
