#include "nodus/testing/fake_membership.h"

namespace nodus::testing {

Status FakeMembership::add_static(uint32_t count, const std::string& address,
                                  const std::map<std::string, uint16_t>& ports, uint16_t stride) {
  for (uint32_t i = 0; i < count; ++i) {
    Member m;
    m.id = i;
    m.address = address;
    for (const auto& [name, port] : ports)
      m.ports[name] = static_cast<uint16_t>(port + i * stride);
    NODUS_RETURN_IF_ERROR(join(std::move(m)));
  }
  return {};
}

}  // namespace nodus::testing
