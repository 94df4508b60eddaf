// The admin contract shared by every host (spec checks, argument typing, bounds), through the
// fake that plugin unit tests use.
#include "nodus/testing/fake_admin.h"

#include <gtest/gtest.h>

namespace nodus::testing {
namespace {

CommandSpec compact_spec() {
  return {"compact",
          "Compact the log.",
          {{"upto", ArgType::kInt, true, "", "last index"},
           {"dry-run", ArgType::kBool, false, "false", "only report"},
           {"pause", ArgType::kDuration, false, "250ms", "wait first"},
           {"note", ArgType::kString, false, "", "free text"}}};
}

CommandHandler echo_args() {
  return [](const CommandArgs& args, CommandReply reply) {
    reply(CommandResult::of_text(std::to_string(args.get_int("upto")) + " " +
                                 (args.get_bool("dry-run") ? "dry" : "wet") + " " +
                                 std::to_string(args.get_duration("pause").count()) + " " +
                                 (args.has("note") ? args.get_string("note") : "-")));
  };
}

// Goal: typed arguments arrive parsed, with defaults, and an optional one without a default
// is absent.
TEST(FakeAdminTest, ArgumentsAreTypedWithDefaults) {
  FakeAdmin admin("io.example.kv");
  ASSERT_TRUE(admin.add_command(compact_spec(), echo_args()).ok());
  auto r = admin.invoke("compact", {{"upto", "42"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->text, "42 wet 250000000 -");
  r = admin.invoke("compact", {{"upto", "-3"}, {"dry-run", ""}, {"pause", "2m"}, {"note", "x"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->text, "-3 dry 120000000000 x");
}

// Goal: each kind of bad argument is INVALID_ARGUMENT naming the argument.
TEST(FakeAdminTest, BadArgumentsNameTheArgument) {
  FakeAdmin admin("io.example.kv");
  ASSERT_TRUE(admin.add_command(compact_spec(), echo_args()).ok());
  struct Case {
    std::map<std::string, std::string> args;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{}, "argument --upto is required"},
      {{{"upto", "ten"}}, "argument --upto 'ten' is not a decimal integer"},
      {{{"upto", "1"}, {"dry-run", "maybe"}}, "argument --dry-run 'maybe' is not true or false"},
      {{{"upto", "1"}, {"pause", "5"}}, "argument --pause '5' is not a duration"},
      {{{"upto", "1"}, {"colour", "red"}}, "unknown argument --colour"},
      {{{"upto", "1"}, {"note", std::string(kCommandArgValueMaxBytes + 1, 'x')}},
       "argument --note is 4097 bytes"},
  };
  for (const auto& c : cases) {
    auto r = admin.invoke("compact", c.args);
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
}

// Goal: clashing names are ALREADY_EXISTS naming both owners, the CLI's verbs included.
TEST(FakeAdminTest, TakenNamesAreRefusedNamingBoth) {
  FakeAdmin admin("io.example.b");
  admin.take_name("compact", "io.example.a");
  Status st = admin.add_command(compact_spec(), echo_args());
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("io.example.b"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("already registered by plugin io.example.a"), std::string::npos);
  CommandSpec status_spec{"status", "Shadow the CLI.", {}};
  st = admin.add_command(status_spec, echo_args());
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("built-in command of the nodus CLI"), std::string::npos)
      << st.message();
}

// Goal: malformed specs are refused naming the field; the per-plugin bound holds.
TEST(FakeAdminTest, SpecsAreCheckedAndBounded) {
  FakeAdmin admin;
  EXPECT_EQ(admin.add_command({"Bad Name", "x", {}}, echo_args()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(admin.add_command({"ok", "", {}}, echo_args()).code(), StatusCode::kInvalidArgument);
  Status st = admin.add_command({"ok", "x", {{"n", ArgType::kInt, false, "abc", ""}}}, echo_args());
  EXPECT_NE(st.message().find("argument 'n': default 'abc' is not a decimal integer"),
            std::string::npos)
      << st.message();
  st = admin.add_command({"ok", "x", {{"instance", ArgType::kInt, false, "", ""}}}, echo_args());
  EXPECT_NE(st.message().find("reserved"), std::string::npos) << st.message();
  for (size_t i = 0; i < kCommandsPerPluginMax; ++i) {
    ASSERT_TRUE(admin.add_command({"cmd" + std::to_string(i), "x", {}}, echo_args()).ok());
  }
  EXPECT_EQ(admin.add_command({"one-more", "x", {}}, echo_args()).code(),
            StatusCode::kResourceExhausted);
  ASSERT_TRUE(admin.remove_command("cmd0").ok());
  EXPECT_TRUE(admin.add_command({"one-more", "x", {}}, echo_args()).ok());
  EXPECT_EQ(admin.remove_command("nope").code(), StatusCode::kNotFound);
}

// Goal: the status section is bounded: not an object or too large becomes an error object
// naming the plugin, and the column is cut to its width on one line.
TEST(FakeAdminTest, StatusSectionIsBounded) {
  FakeAdmin admin("io.example.kv");
  EXPECT_FALSE(admin.status().has_value());
  admin.set_status([] { return StatusSection{"{\"term\":3}", "term 3"}; });
  EXPECT_EQ(admin.status()->json, "{\"term\":3}");
  EXPECT_EQ(admin.status()->column, "term 3");
  admin.set_status([] {
    return StatusSection{"{\"x\":\"" + std::string(kStatusSectionMaxBytes, 'a') + "\"}",
                         std::string(100, 'c') + "\nsecond line"};
  });
  auto s = admin.status();
  EXPECT_NE(s->json.find("io.example.kv is 16392 bytes, over the limit of 16384"),
            std::string::npos)
      << s->json;
  EXPECT_EQ(s->column, std::string(kStatusColumnMaxChars - 1, 'c') + "~");
  admin.set_status([] { return StatusSection{"[1,2]", ""}; });
  EXPECT_NE(admin.status()->json.find("not a JSON object"), std::string::npos);
}

// Goal: a reply is delivered once, even when the handler answers twice, and a result over the
// bound is refused; a throwing handler is INTERNAL.
TEST(FakeAdminTest, RepliesOnceAndBounded) {
  FakeAdmin admin;
  ASSERT_TRUE(admin
                  .add_command({"twice", "x", {}},
                               [](const CommandArgs&, CommandReply reply) {
                                 reply(CommandResult::of_text("first"));
                                 reply(CommandResult::of_text("second"));
                               })
                  .ok());
  int answers = 0;
  admin.invoke("twice", {}, [&](Result<CommandResult> r) {
    ++answers;
    EXPECT_EQ(r->text, "first");
  });
  EXPECT_EQ(answers, 1);
  ASSERT_TRUE(admin
                  .add_command(
                      {"big", "x", {}},
                      [](const CommandArgs&, CommandReply reply) {
                        reply(CommandResult::of_text(std::string(kCommandResultMaxBytes + 1, 'b')));
                      })
                  .ok());
  EXPECT_EQ(admin.invoke("big").status().code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(admin
                  .add_command({"boom", "x", {}},
                               [](const CommandArgs&, CommandReply) -> void {
                                 throw std::runtime_error("kaput");
                               })
                  .ok());
  EXPECT_EQ(admin.invoke("boom").status().code(), StatusCode::kInternal);
  EXPECT_EQ(admin.invoke("unknown").status().code(), StatusCode::kNotFound);
  admin.clear();
  EXPECT_TRUE(admin.commands().empty());
}

}  // namespace
}  // namespace nodus::testing
