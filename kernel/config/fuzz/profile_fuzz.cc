// Fuzz target: the profile parser (YAML with positions, then the kernel's schema) must return
// a Status for any input, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernel/config/profile.h"
#include "kernel/config/yaml_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // larger inputs only slow the search down
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto root = nodus::kernel::load_yaml_string(text, "fuzz.yaml");
  if (!root.ok()) return 0;
  auto profile = nodus::kernel::parse_profile(*root, "fuzz.yaml");
  if (profile.ok()) (void)profile->ports_for(0);
  return 0;
}
