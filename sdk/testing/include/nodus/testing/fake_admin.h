// nodus/testing/fake_admin.h: an Admin for plugin unit tests, without a node.
//
// It keeps the contract of the kernel's Admin (the same spec checks, argument typing, name
// clashes with the CLI's verbs and bounds, from nodus/services/admin.h), and lets a test
// invoke a command directly and read the status section. Handlers run on the calling thread,
// which plays the executor.
//
//   nodus::testing::FakeAdmin admin("io.example.kv");
//   MyPlugin plugin(ctx_with(admin));   // the plugin registers in start()
//   auto result = admin.invoke("compact", {{"upto", "10"}});
//   ASSERT_TRUE(result.ok()) << result.status();
//   EXPECT_NE(admin.status()->json.find("\"compacted\":10"), std::string::npos);
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "nodus/services/admin.h"

namespace nodus::testing {

class FakeAdmin final : public Admin {
 public:
  explicit FakeAdmin(std::string plugin = "test.plugin") : plugin_(std::move(plugin)) {}

  void set_status(StatusProvider provider) override;
  Status add_command(CommandSpec spec, CommandHandler handler) override;
  Status remove_command(std::string_view name) override;

  // Pretends that `owner` (another plugin) registered `name`, for clash tests.
  void take_name(const std::string& name, const std::string& owner);
  // Runs a command as a host would; `done` gets the answer once (now, or when the handler
  // replies later). A handler that throws is answered INTERNAL.
  void invoke(const std::string& name, const std::map<std::string, std::string>& args,
              CommandReply done);
  // The same, for handlers that answer at once; UNAVAILABLE when the handler has not answered
  // by the time it returned.
  Result<CommandResult> invoke(const std::string& name,
                               const std::map<std::string, std::string>& args = {});
  // The section as a host would show it (bounds applied); nullopt without a provider.
  std::optional<StatusSection> status() const;
  std::vector<CommandSpec> commands() const;
  // What a host does after the plugin's stop(): forgets its commands and provider.
  void clear();

 private:
  std::string plugin_;
  mutable std::mutex mu_;  // Admin calls come from the executor; tests may read from others
  StatusProvider provider_;
  std::map<std::string, CommandSpec> specs_;
  std::map<std::string, CommandHandler> handlers_;
  std::map<std::string, std::string> taken_;  // name -> owner
};

}  // namespace nodus::testing
