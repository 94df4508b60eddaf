// nodus/capability.h: how one plugin hands an interface to another, checked by name and
// revision instead of a bare `void*`.
//
// A capability interface is a C++ class that names itself and counts its revisions:
//
//   class Greeter {
//    public:
//     static constexpr std::string_view kCapability = "com.acme.greeter/v1";
//     // Bump with every change to this class's declaration (a virtual added, removed or
//     // reordered, a signature or a type it passes changed).
//     static constexpr uint32_t kRevision = 2;
//     virtual std::string greet(std::string_view who) = 0;
//    protected:
//     ~Greeter() = default;
//   };
//
// The provider lists the name in its descriptor's `provides` and hands itself out with
// offer<>(), which casts to the right base at compile time:
//
//   nodus::CapabilityRef provide(std::string_view capability) override {
//     if (capability == Greeter::kCapability) return nodus::offer<Greeter>(this);
//     return {};
//   }
//
// A consumer asks its context: `ctx.find<Greeter>()` is the provider's object, or nullptr
// when no plugin of the instance provides it or the provider was built against another
// revision of the header; `ctx.need<Greeter>()` says which in its error. The `/v1` in the
// name is the contract: an incompatible contract gets a new name (a provider may offer both).
// The revision is the C++ layout of one contract: a consumer and a provider built against
// different revisions would call through the wrong vtable slots, so they do not connect.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "nodus/status.h"

namespace nodus {

// What Plugin::provide() returns: the interface's name and revision as the provider was built,
// and the object (already cast to the interface). Empty (object null) when not provided.
struct CapabilityRef {
  std::string_view name;
  uint32_t revision = 0;
  void* object = nullptr;

  explicit operator bool() const { return object != nullptr; }
};

// `Interface` declares `static constexpr std::string_view kCapability` (or a `const char*`) and
// `static constexpr uint32_t kRevision`.
template <class Interface>
concept CapabilityInterface = requires {
  {std::string_view(Interface::kCapability)};
  { Interface::kRevision } -> std::convertible_to<uint32_t>;
};

// The provider's side: `impl` as `Interface`, stamped with the revision it was built against.
template <CapabilityInterface Interface, class Impl>
CapabilityRef offer(Impl* impl) {
  static_assert(std::is_base_of_v<Interface, Impl>,
                "offer<Interface>(impl): impl must derive from Interface");
  return {std::string_view(Interface::kCapability), Interface::kRevision,
          static_cast<Interface*>(impl)};
}

// The consumer's side: `ref` as `Interface` when its name and revision match the ones this
// code was built against, else an error that says which (FAILED_PRECONDITION) or that nothing
// provides it (NOT_FOUND).
template <CapabilityInterface Interface>
Result<Interface*> capability_cast(const CapabilityRef& ref) {
  const std::string_view name(Interface::kCapability);
  if (!ref) {
    return not_found("no plugin of this instance provides " + std::string(name) +
                     ": add one to the profile, and list it in `needs` or `uses`");
  }
  if (ref.name != name) {
    return failed_precondition("capability " + std::string(name) + ": the provider handed out " +
                               std::string(ref.name) + " instead");
  }
  if (ref.revision != Interface::kRevision) {
    return failed_precondition(
        "capability " + std::string(name) + ": the provider was built against revision " +
        std::to_string(ref.revision) + " of its header and this plugin against revision " +
        std::to_string(Interface::kRevision) + "; rebuild the older one against the newer header");
  }
  return static_cast<Interface*>(ref.object);
}

}  // namespace nodus
