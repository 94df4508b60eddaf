// Tests of config/yaml_loader.h: positions, paths, key order, and every way a file can be bad.
#include "kernel/config/yaml_loader.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cstdlib>

#include <filesystem>
#include <fstream>

#include "kernel/runtime/temp_dir_for_test.h"

namespace nodus::kernel {
namespace {

ConfigNode load(const std::string& text) {
  auto r = load_yaml_string(text, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : ConfigNode();
}

std::string load_error(const std::string& text) {
  auto r = load_yaml_string(text, "t.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.ok() ? "" : r.status().message();
}

// Marks are 1-based, map values sit at their key, list items at the item; paths follow.
TEST(YamlLoaderTest, MarksAndPaths) {
  ConfigNode root = load(
      "ports:\n"
      "  base: 9003\n"
      "plugins:\n"
      "  - name: a.b.c\n"
      "    config: {x: 1}\n");
  ASSERT_TRUE(root.is_map());
  const ConfigNode base = root.at("ports").at("base");
  EXPECT_EQ(base.scalar(), "9003");
  EXPECT_EQ(base.path(), "ports.base");
  EXPECT_EQ(base.mark().to_string(), "t.yaml:2:3");
  const ConfigNode item = root.at("plugins").items().at(0);
  EXPECT_EQ(item.path(), "plugins[0]");
  EXPECT_EQ(item.mark().to_string(), "t.yaml:4:5");
  const ConfigNode x = item.at("config").at("x");
  EXPECT_EQ(x.path(), "plugins[0].config.x");
  EXPECT_EQ(x.mark().to_string(), "t.yaml:5:14");
}

// Keys keep the order in which they were written.
TEST(YamlLoaderTest, KeyOrderPreserved) {
  ConfigNode root = load("zeta: 1\nalpha: 2\nmid: 3\n");
  ASSERT_EQ(root.entries().size(), 3u);
  EXPECT_EQ(root.entries()[0].first, "zeta");
  EXPECT_EQ(root.entries()[1].first, "alpha");
  EXPECT_EQ(root.entries()[2].first, "mid");
}

// Null, quoted "null" and empty strings are told apart.
TEST(YamlLoaderTest, NullsAndScalars) {
  ConfigNode root = load("a:\nb: ~\nc: \"null\"\nd: ''\ne: null\n");
  EXPECT_TRUE(root.at("a").is_null());
  EXPECT_TRUE(root.at("b").is_null());
  EXPECT_TRUE(root.at("c").is_scalar());
  EXPECT_EQ(root.at("c").scalar(), "null");
  EXPECT_TRUE(root.at("d").is_scalar());
  EXPECT_TRUE(root.at("e").is_null());
  EXPECT_EQ(root.at("a").mark().to_string(), "t.yaml:1:1");
}

// An empty document is a null root positioned at the start of the file.
TEST(YamlLoaderTest, EmptyDocument) {
  ConfigNode root = load("# only a comment\n");
  EXPECT_TRUE(root.is_null());
  EXPECT_EQ(root.mark().to_string(), "t.yaml:1:1");
}

// A duplicate key is reported at its second occurrence.
TEST(YamlLoaderTest, DuplicateKey) {
  EXPECT_EQ(load_error("ports:\n  base: 1\n  stride: 2\n  base: 3\n"),
            "t.yaml:4:3: ports.base: duplicate key 'base' (first defined at line 2)");
}

// Syntax errors carry the parser's position (1-based) and message.
TEST(YamlLoaderTest, SyntaxError) {
  EXPECT_EQ(load_error("a: [1, 2\nb: 3\n"), "t.yaml:2:2: yaml: end of sequence flow not found");
  EXPECT_EQ(load_error("a: 1\n b: 2\n"), "t.yaml:2:3: yaml: illegal map value");
  // yaml-cpp first reads "[a," as a complex key; the syntax error must still win.
  EXPECT_EQ(load_error("[a,"), "t.yaml:1:1: yaml: end of sequence flow not found");
}

// Map and null keys are rejected; scalar keys of any spelling are strings.
TEST(YamlLoaderTest, NonStringKeys) {
  EXPECT_EQ(load_error("? [1, 2]\n: x\n"), "t.yaml:1:3: map keys must be strings");
  EXPECT_EQ(load_error("outer:\n  ~: x\n"),
            "t.yaml:2:3: outer: map keys must be strings, got null");
  EXPECT_EQ(load("1: x\n").entries().at(0).first, "1");
}

// Aliases copy the anchored value to the new path; merge keys fill in unset keys.
TEST(YamlLoaderTest, AnchorsAliasesAndMerge) {
  ConfigNode root = load(
      "base: &b {interval_ms: 1000, timeout_ms: 500}\n"
      "copy: *b\n"
      "merged:\n"
      "  <<: *b\n"
      "  timeout_ms: 900\n");
  const ConfigNode copy = root.at("copy");
  EXPECT_EQ(copy.path(), "copy");
  EXPECT_EQ(copy.mark().to_string(), "t.yaml:2:1");
  EXPECT_EQ(copy.at("interval_ms").path(), "copy.interval_ms");
  EXPECT_EQ(copy.at("interval_ms").scalar(), "1000");
  const ConfigNode merged = root.at("merged");
  ASSERT_EQ(merged.entries().size(), 2u);
  EXPECT_EQ(merged.at("timeout_ms").scalar(), "900");
  EXPECT_EQ(merged.at("interval_ms").scalar(), "1000");
  EXPECT_EQ(merged.at("interval_ms").path(), "merged.interval_ms");
  EXPECT_EQ(load_error("a:\n  <<: 3\n"),
            "t.yaml:2:3: a.<<: a '<<' merge key needs a map or a list of maps");
}

// Only one document per file.
TEST(YamlLoaderTest, MultipleDocuments) {
  EXPECT_EQ(load_error("a: 1\n---\nb: 2\n"),
            "t.yaml:2:1: yaml: only one document per file is supported");
}

// A quoted key "<<" is an ordinary key, not a merge.
TEST(YamlLoaderTest, QuotedMergeKeyIsPlainKey) {
  ConfigNode root = load("\"<<\": 1\n");
  EXPECT_EQ(root.entries().at(0).first, "<<");
}

class YamlFileTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return dir_ / name;
  }
  TempDir temp_;
  const std::filesystem::path dir_ = temp_.path();
};

// Positions of a file name the file as given.
TEST_F(YamlFileTest, LoadsFile) {
  auto path = write("ok.yaml", "a:\n  b: 1\n");
  auto r = load_yaml_file(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->at("a").at("b").mark().to_string(), path.string() + ":2:3");
}

// A missing file is NOT_FOUND naming the path.
TEST_F(YamlFileTest, MissingFile) {
  auto r = load_yaml_file(dir_ / "nope.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(),
            (dir_ / "nope.yaml").string() + ": cannot open: No such file or directory");
}

// An unreadable file is PERMISSION_DENIED. Root reads anything, so the check runs in a child
// process that first drops to the unprivileged user "nobody" when started as root.
TEST_F(YamlFileTest, UnreadableFile) {
  auto path = write("secret.yaml", "a: 1\n");
  ::chmod(path.c_str(), 0);
  ::chmod(dir_.c_str(), 0755);
  EXPECT_EXIT(
      {
        if (::geteuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) std::_Exit(3);
        auto r = load_yaml_file(path);
        const bool as_expected =
            !r.ok() && r.status().code() == StatusCode::kPermissionDenied &&
            r.status().message() == path.string() + ": cannot open: Permission denied";
        std::_Exit(as_expected ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// A directory is not a YAML file.
TEST_F(YamlFileTest, Directory) {
  auto r = load_yaml_file(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), dir_.string() + ": is a directory, not a YAML file");
}

// A syntax error in a file names the file.
TEST_F(YamlFileTest, SyntaxErrorNamesFile) {
  auto path = write("bad.yaml", "a: b: c\n");
  auto r = load_yaml_file(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path.string() + ":1:5: yaml: illegal map value");
}

}  // namespace
}  // namespace nodus::kernel
