// Goal: capability refs connect a consumer to a provider only when both were built against the
// same name and revision, and offer<>() hands out the interface's address, not the object's.
#include "nodus/capability.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace nodus {
namespace {

using ::testing::HasSubstr;

struct Greeter {
  static constexpr std::string_view kCapability = "com.example.greeter/v1";
  static constexpr uint32_t kRevision = 3;
  virtual ~Greeter() = default;
  virtual std::string greet() const = 0;
};

struct GreeterRev4 {  // the same contract, as a newer header declares it
  static constexpr std::string_view kCapability = "com.example.greeter/v1";
  static constexpr uint32_t kRevision = 4;
  virtual ~GreeterRev4() = default;
};

struct Other {
  static constexpr const char* kCapability = "com.example.other/v1";
  static constexpr uint32_t kRevision = 1;
  virtual ~Other() = default;
};

// Greeter is the second base: its subobject does not start at the object's address, which is
// what a hand-written static_cast to void* used to get wrong.
struct Impl final : Other, Greeter {
  std::string greet() const override { return "hej"; }
};

TEST(CapabilityTest, OfferCastsToTheInterfaceBase) {
  Impl impl;
  const CapabilityRef ref = offer<Greeter>(&impl);
  EXPECT_EQ(ref.name, "com.example.greeter/v1");
  EXPECT_EQ(ref.revision, 3u);
  EXPECT_EQ(ref.object, static_cast<void*>(static_cast<Greeter*>(&impl)));
  EXPECT_NE(ref.object, static_cast<void*>(&impl));
  auto found = capability_cast<Greeter>(ref);
  ASSERT_TRUE(found.ok()) << found.status().to_string();
  EXPECT_EQ((*found)->greet(), "hej");
}

TEST(CapabilityTest, AnEmptyRefIsNotFound) {
  auto found = capability_cast<Greeter>(CapabilityRef{});
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(found.status().message(), HasSubstr("no plugin of this instance provides "
                                                  "com.example.greeter/v1"));
}

TEST(CapabilityTest, AnotherRevisionIsRefusedNamingBoth) {
  Impl impl;
  auto found = capability_cast<GreeterRev4>(offer<Greeter>(&impl));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(found.status().message(),
              HasSubstr("built against revision 3 of its header and this plugin against "
                        "revision 4"));
}

TEST(CapabilityTest, ARefOfAnotherNameIsRefused) {
  Impl impl;
  auto found = capability_cast<Greeter>(offer<Other>(&impl));
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(found.status().message(), HasSubstr("handed out com.example.other/v1 instead"));
}

}  // namespace
}  // namespace nodus
