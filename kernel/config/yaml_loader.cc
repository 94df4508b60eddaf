#include "kernel/config/yaml_loader.h"

#include <array>
#include <cerrno>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "kernel/config/node_util.h"

namespace nodus::kernel {
namespace {

using nodus::ConfigNode;
using nodus::SourceMark;

// Thrown by the event handler to abandon the parse; caught in load_yaml_string.
struct BuildError {
  nodus::Status status;
};

// Builds a ConfigNode tree straight from the parser's events, which (unlike YAML::Node)
// exposes every key's position and every duplicate key.
class TreeBuilder final : public YAML::EventHandler {
 public:
  explicit TreeBuilder(std::string source) : source_(std::move(source)) {}

  std::optional<ConfigNode>& root() { return root_; }
  // An error found while parsing that only counts if the parser itself finds none.
  const std::optional<nodus::Status>& deferred_error() const { return deferred_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_++ > 0) {
      fail(mark, "", "yaml: only one document per file is supported");
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (in_key_position()) {
      defer(to_mark(mark), "map keys must be strings, got null");
      set_key(mark, "", /*plain=*/false);
      return;
    }
    Slot slot = next_slot(mark);
    complete(ConfigNode::make_null(std::move(slot.mark), std::move(slot.path)), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) fail(mark, "", "yaml: unknown alias");
    if (in_key_position()) {
      if (!it->second.is_scalar()) defer(to_mark(mark), "map keys must be strings");
      set_key(mark, it->second.scalar(), /*plain=*/false);
      return;
    }
    Slot slot = next_slot(mark);
    complete(relocate(it->second, slot.path, &slot.mark), 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (in_key_position()) {
      set_key(mark, value, /*plain=*/tag == "?");
      if (anchor != 0) anchors_[anchor] = ConfigNode::make_scalar(value, to_mark(mark), "");
      return;
    }
    Slot slot = next_slot(mark);
    complete(ConfigNode::make_scalar(value, std::move(slot.mark), std::move(slot.path)), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    push(mark, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { pop(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    push(mark, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { pop(); }

 private:
  struct Slot {
    SourceMark mark;
    std::string path;
  };
  struct Frame {
    bool is_map = false;
    SourceMark mark;
    std::string path;
    YAML::anchor_t anchor = 0;
    std::vector<ConfigNode> items;
    std::vector<ConfigNode::Entry> entries;
    std::vector<ConfigNode> merges;  // values of `<<` keys, in order
    std::optional<std::string> key;  // set between a key and its value
    SourceMark key_mark;
    bool key_is_merge = false;
  };

  SourceMark to_mark(const YAML::Mark& mark) const {
    return SourceMark{source_, mark.line + 1, mark.column + 1};
  }

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& path,
                         std::string_view message) const {
    throw BuildError{ConfigNode::make_null(to_mark(mark), path).error(message)};
  }

  Frame& top() { return stack_.back(); }
  bool in_key_position() const {
    return !stack_.empty() && stack_.back().is_map && !stack_.back().key.has_value();
  }

  // Where the value that starts at `mark` goes: map values sit at their key's position.
  Slot next_slot(const YAML::Mark& mark) {
    if (stack_.empty()) return {to_mark(mark), ""};
    Frame& f = top();
    if (!f.is_map) return {to_mark(mark), item_path(f.path, f.items.size())};
    if (!f.key.has_value()) return {to_mark(mark), f.path};  // a (bad) collection key
    return {f.key_mark, child_path(f.path, *f.key)};
  }

  // yaml-cpp reports a collection in key position before it knows whether the text is valid
  // at all ("[a," starts as a complex key), so such errors wait for the parser's verdict.
  void defer(SourceMark mark, std::string_view message) {
    if (!deferred_) deferred_ = ConfigNode::make_null(std::move(mark), top().path).error(message);
  }

  void set_key(const YAML::Mark& mark, const std::string& key, bool plain) {
    Frame& f = top();
    f.key_is_merge = plain && key == "<<";
    if (!f.key_is_merge && !deferred_) {
      for (const auto& [existing, value] : f.entries) {
        if (existing == key) {
          fail(mark, child_path(f.path, key),
               "duplicate key '" + key + "' (first defined at line " +
                   std::to_string(value.mark().line) + ")");
        }
      }
    }
    f.key = key;
    f.key_mark = to_mark(mark);
  }

  void push(const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    Slot slot = next_slot(mark);
    Frame f;
    f.is_map = is_map;
    f.mark = std::move(slot.mark);
    f.path = std::move(slot.path);
    f.anchor = anchor;
    stack_.push_back(std::move(f));
  }

  void pop() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (!f.is_map) {
      complete(ConfigNode::make_sequence(std::move(f.items), std::move(f.mark), f.path), f.anchor);
      return;
    }
    // Merge keys: explicit entries win, then earlier merge sources over later ones.
    for (const ConfigNode& source : f.merges) {
      for (const auto& [key, value] : source.entries()) {
        bool present = false;
        for (const auto& entry : f.entries)
          present = present || entry.first == key;
        if (!present) f.entries.emplace_back(key, relocate(value, child_path(f.path, key)));
      }
    }
    complete(ConfigNode::make_map(std::move(f.entries), std::move(f.mark), f.path), f.anchor);
  }

  void add_merge(Frame& f, const ConfigNode& value) {
    const auto bad = [&] {
      throw BuildError{value.error("a '<<' merge key needs a map or a list of maps")};
    };
    if (value.is_map()) {
      f.merges.push_back(value);
    } else if (value.is_sequence()) {
      for (const ConfigNode& item : value.items()) {
        if (!item.is_map()) bad();
        f.merges.push_back(item);
      }
    } else {
      bad();
    }
  }

  void complete(ConfigNode node, YAML::anchor_t anchor) {
    if (anchor != 0) anchors_[anchor] = node;
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& f = top();
    if (f.is_map && !f.key.has_value()) {  // a collection used as a key
      defer(node.mark(), "map keys must be strings");
      f.key = "";
      f.key_mark = node.mark();
      return;
    }
    if (!f.is_map) {
      f.items.push_back(std::move(node));
      return;
    }
    if (f.key_is_merge) {
      add_merge(f, node);
    } else {
      f.entries.emplace_back(std::move(*f.key), std::move(node));
    }
    f.key.reset();
    f.key_is_merge = false;
  }

  std::string source_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, ConfigNode> anchors_;
  std::optional<ConfigNode> root_;
  std::optional<nodus::Status> deferred_;
  int documents_ = 0;
};

}  // namespace

nodus::Result<nodus::ConfigNode> load_yaml_string(const std::string& text,
                                                  const std::string& source_name) {
  std::istringstream in(text);
  TreeBuilder builder(source_name);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const BuildError& e) {
    return e.status;
  } catch (const YAML::Exception& e) {
    std::string where = source_name;
    if (!e.mark.is_null()) {
      where = SourceMark{source_name, e.mark.line + 1, e.mark.column + 1}.to_string();
    }
    return nodus::invalid_argument(where + ": yaml: " + e.msg);
  }
  if (builder.deferred_error()) return *builder.deferred_error();
  if (!builder.root().has_value()) {
    return ConfigNode::make_null(SourceMark{source_name, 1, 1}, "");
  }
  return std::move(*builder.root());
}

nodus::Result<nodus::ConfigNode> load_yaml_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return nodus::invalid_argument(name + ": is a directory, not a YAML file");
  }
  // No gsl::owner in nodus: the one FILE* is closed on every path below.
  std::FILE* f = std::fopen(file.c_str(), "rb");  // NOLINT(cppcoreguidelines-owning-memory)
  if (f == nullptr) {
    const int err = errno;
    std::string message = name + ": cannot open: " + std::system_category().message(err);
    if (err == ENOENT || err == ENOTDIR) return nodus::not_found(std::move(message));
    if (err == EACCES || err == EPERM) return nodus::permission_denied(std::move(message));
    return nodus::unavailable(std::move(message));
  }
  std::string text;
  std::array<char, 8192> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), f)) > 0) {
    text.append(buffer.data(), n);
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);  // NOLINT(cppcoreguidelines-owning-memory)
  if (failed)
    return nodus::unavailable(name + ": cannot read: " + std::system_category().message(err));
  return load_yaml_string(text, name);
}

}  // namespace nodus::kernel
