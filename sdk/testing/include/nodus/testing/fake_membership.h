// nodus/testing/fake_membership.h: a membership the test drives: members join, are suspected,
// die and leave when the test says so. It is a nodus::MemberTable, so it keeps the interface's
// contract (ordering by incarnation, bounds, handlers on the executor, thread safety).
//
//   nodus::testing::ManualExecutor exec;
//   nodus::testing::FakeMembership members(/*self=*/0, exec);
//   members.add_static(3, "127.0.0.1", {{"peer", 9004}});  // 0, 1, 2 alive, ports strided
//   ... plugin under test subscribes ...
//   ASSERT_TRUE(members.set_state(2, nodus::MemberState::kLeft).ok());
//   exec.run_until_idle();                                 // the plugin sees member 2 leave
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "nodus/capabilities/membership.h"

namespace nodus::testing {

class FakeMembership final : public MemberTable {
 public:
  FakeMembership(PeerId self, Executor& executor) : MemberTable(self, executor) {}

  // Members 0..count-1, alive at incarnation 0, at `address`, member i's ports being `ports`
  // plus i * stride (the one-host layout of a profile).
  Status add_static(uint32_t count, const std::string& address,
                    const std::map<std::string, uint16_t>& ports, uint16_t stride = 10);
};

}  // namespace nodus::testing
