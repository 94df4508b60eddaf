#include "kernel/config/node_util.h"

#include <utility>
#include <vector>

namespace nodus::kernel {

std::string child_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string item_path(std::string_view parent, size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

nodus::ConfigNode relocate(const nodus::ConfigNode& node, const std::string& path,
                           const nodus::SourceMark* top_mark, const nodus::SourceMark* all_marks) {
  using nodus::ConfigNode;
  nodus::SourceMark mark = node.mark();
  if (all_marks != nullptr) mark = *all_marks;
  if (top_mark != nullptr) mark = *top_mark;
  switch (node.kind()) {
    case ConfigNode::Kind::kNull:
      return ConfigNode::make_null(std::move(mark), path);
    case ConfigNode::Kind::kScalar:
      return ConfigNode::make_scalar(node.scalar(), std::move(mark), path);
    case ConfigNode::Kind::kSequence: {
      std::vector<ConfigNode> items;
      items.reserve(node.items().size());
      for (size_t i = 0; i < node.items().size(); ++i) {
        items.push_back(relocate(node.items()[i], item_path(path, i), nullptr, all_marks));
      }
      return ConfigNode::make_sequence(std::move(items), std::move(mark), path);
    }
    case ConfigNode::Kind::kMap: {
      std::vector<ConfigNode::Entry> entries;
      entries.reserve(node.entries().size());
      for (const auto& [key, value] : node.entries()) {
        entries.emplace_back(key, relocate(value, child_path(path, key), nullptr, all_marks));
      }
      return ConfigNode::make_map(std::move(entries), std::move(mark), path);
    }
  }
  return ConfigNode::make_null(std::move(mark), path);
}

}  // namespace nodus::kernel
