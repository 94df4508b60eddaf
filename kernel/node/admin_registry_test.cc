// The kernel's admin registry: names across plugins, the in-flight and time bounds, and the
// end of a plugin's registrations at its stop.
#include "kernel/node/admin_registry.h"

#include <gtest/gtest.h>

#include <optional>

#include "nodus/testing/manual_executor.h"

namespace nodus::kernel {
namespace {

using nodus::testing::ManualExecutor;
using std::chrono::milliseconds;

CommandHandler answer(std::string text) {
  return [text](const CommandArgs&, CommandReply reply) { reply(CommandResult::of_text(text)); };
}

struct Answer {
  std::shared_ptr<std::optional<Result<CommandResult>>> got =
      std::make_shared<std::optional<Result<CommandResult>>>();
  CommandReply reply() {
    return [got = got](Result<CommandResult> r) { *got = std::move(r); };
  }
};

// Goal: a name taken by another plugin is ALREADY_EXISTS naming both plugins, and the name is
// free again once the owner stopped.
TEST(AdminRegistryTest, NamesAreUniqueAcrossPluginsUntilStop) {
  ManualExecutor exec;
  AdminRegistry registry(exec, std::chrono::seconds(60));
  auto a = registry.for_plugin("io.example.a");
  auto b = registry.for_plugin("io.example.b");
  ASSERT_TRUE(a->add_command({"sync", "Sync now.", {}}, answer("a")).ok());
  Status st = b->add_command({"sync", "Sync now.", {}}, answer("b"));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("plugin io.example.b"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("already registered by plugin io.example.a"), std::string::npos);
  EXPECT_EQ(b->add_command({"scale", "Shadow.", {}}, answer("b")).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(b->remove_command("sync").code(), StatusCode::kNotFound);  // not b's

  a->set_status([] { return StatusSection{"{\"n\":1}", "n 1"}; });
  EXPECT_EQ(registry.sections().count("io.example.a"), 1u);
  registry.remove_plugin("io.example.a");
  EXPECT_TRUE(registry.sections().empty());
  EXPECT_TRUE(registry.commands().empty());
  EXPECT_TRUE(b->add_command({"sync", "Sync now.", {}}, answer("b")).ok());

  Answer r;
  registry.run("sync", {}, r.reply());
  ASSERT_TRUE(r.got->has_value());
  EXPECT_EQ((**r.got)->text, "b");
}

// Goal: a command its plugin had not answered when the plugin stopped is answered UNAVAILABLE
// at once (the plugin's timers never run after its stop, so it could not answer later), frees
// its slot, and is not answered again by the deadline; another plugin's call is untouched.
TEST(AdminRegistryTest, UnansweredCallsEndWithTheirPlugin) {
  ManualExecutor exec;
  AdminRegistry registry(exec, std::chrono::seconds(60));
  auto a = registry.for_plugin("io.example.a");
  auto b = registry.for_plugin("io.example.b");
  CommandReply kept_a;
  CommandReply kept_b;
  ASSERT_TRUE(a->add_command({"slow", "Later.", {}}, [&](const CommandArgs&, CommandReply r) {
                 kept_a = std::move(r);
               }).ok());
  ASSERT_TRUE(b->add_command({"other", "Later.", {}}, [&](const CommandArgs&, CommandReply r) {
                 kept_b = std::move(r);
               }).ok());
  Answer ra;
  Answer rb;
  registry.run("slow", {}, ra.reply());
  registry.run("other", {}, rb.reply());
  ASSERT_EQ(registry.in_flight(), 2u);
  registry.remove_plugin("io.example.a");
  ASSERT_TRUE(ra.got->has_value());
  EXPECT_EQ((*ra.got)->status().code(), StatusCode::kUnavailable);
  EXPECT_NE((*ra.got)->status().message().find("command 'slow' of plugin io.example.a"),
            std::string::npos)
      << (*ra.got)->status().message();
  EXPECT_FALSE(rb.got->has_value());
  EXPECT_EQ(registry.in_flight(), 1u);
  kept_a(CommandResult::of_text("too late"));  // a second answer is ignored
  exec.advance(std::chrono::seconds(61));
  EXPECT_EQ((*ra.got)->status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(rb.got->has_value());
  EXPECT_EQ((*rb.got)->status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(registry.in_flight(), 0u);
}

// Goal: an unknown command is NOT_FOUND listing the commands there are; bad arguments never
// reach the handler.
TEST(AdminRegistryTest, UnknownCommandAndBadArguments) {
  ManualExecutor exec;
  AdminRegistry registry(exec, std::chrono::seconds(60));
  auto a = registry.for_plugin("io.example.a");
  int calls = 0;
  ASSERT_TRUE(a->add_command({"wait", "Wait.", {{"for", ArgType::kDuration, true, "", ""}}},
                             [&calls](const CommandArgs&, CommandReply reply) {
                               ++calls;
                               reply(CommandResult::of_text("ok"));
                             })
                  .ok());
  Answer unknown;
  registry.run("wiat", {}, unknown.reply());
  EXPECT_EQ((*unknown.got)->status().code(), StatusCode::kNotFound);
  EXPECT_NE((*unknown.got)->status().message().find("unknown command 'wiat' (commands: wait)"),
            std::string::npos)
      << (*unknown.got)->status().message();
  Answer bad;
  registry.run("wait", {{"for", "soon"}}, bad.reply());
  EXPECT_EQ((*bad.got)->status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE((*bad.got)->status().message().find("--for 'soon'"), std::string::npos);
  EXPECT_EQ(calls, 0);
}

// Goal: a command that never answers is answered DEADLINE_EXCEEDED at the deadline and frees
// its slot; past kCommandsInFlightMax, more are refused at once.
TEST(AdminRegistryTest, InFlightAndDeadlineBounds) {
  ManualExecutor exec;
  AdminRegistry registry(exec, milliseconds(500));
  auto a = registry.for_plugin("io.example.a");
  std::vector<CommandReply> parked;
  ASSERT_TRUE(a->add_command({"hang", "Never answers.", {}}, [&parked](const CommandArgs&,
                                                                       CommandReply reply) {
                 parked.push_back(std::move(reply));
               }).ok());
  std::vector<Answer> answers(kCommandsInFlightMax + 1);
  for (auto& ans : answers)
    registry.run("hang", {}, ans.reply());
  EXPECT_EQ(registry.in_flight(), kCommandsInFlightMax);
  for (size_t i = 0; i < kCommandsInFlightMax; ++i)
    EXPECT_FALSE(answers[i].got->has_value());
  ASSERT_TRUE(answers.back().got->has_value());
  EXPECT_EQ((*answers.back().got)->status().code(), StatusCode::kResourceExhausted);

  exec.advance(milliseconds(499));
  EXPECT_FALSE(answers[0].got->has_value());
  exec.advance(milliseconds(1));
  ASSERT_TRUE(answers[0].got->has_value());
  EXPECT_EQ((*answers[0].got)->status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE((*answers[0].got)->status().message().find("'hang' of plugin io.example.a"),
            std::string::npos);
  EXPECT_EQ(registry.in_flight(), 0u);
  // A late answer is ignored: the operator already has one.
  parked[0](CommandResult::of_text("late"));
  EXPECT_EQ((*answers[0].got)->status().code(), StatusCode::kDeadlineExceeded);
}

// Goal: a throwing handler or status provider is reported, not propagated.
TEST(AdminRegistryTest, ThrowingPluginCodeIsContained) {
  ManualExecutor exec;
  AdminRegistry registry(exec, std::chrono::seconds(60));
  auto a = registry.for_plugin("io.example.a");
  ASSERT_TRUE(a->add_command({"boom", "Throws.", {}}, [](const CommandArgs&, CommandReply) -> void {
                 throw std::runtime_error("kaput");
               }).ok());
  a->set_status([]() -> StatusSection { throw std::runtime_error("no state"); });
  Answer r;
  registry.run("boom", {}, r.reply());
  EXPECT_EQ((*r.got)->status().code(), StatusCode::kInternal);
  EXPECT_NE((*r.got)->status().message().find("kaput"), std::string::npos);
  EXPECT_EQ(registry.in_flight(), 0u);
  EXPECT_NE(registry.sections().at("io.example.a").json.find("no state"), std::string::npos);
}

}  // namespace
}  // namespace nodus::kernel
