// config/node_util.h: small helpers to build and move ConfigNode subtrees.
//
// ConfigNode is immutable; the loader and the override logic rebuild subtrees when a value is
// copied to a new place (a YAML alias, a merge key, an override). These helpers keep key paths
// consistent with the node's new position.
//
//   auto copy = relocate(anchored, child_path("ports", "base"));
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "nodus/config.h"

namespace nodus::kernel {

// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string child_path(std::string_view parent, std::string_view key);
// "a" + 2 -> "a[2]".
std::string item_path(std::string_view parent, size_t index);

// A copy of `node` whose own path is `path` and whose descendants' paths follow from it.
// Marks are kept, except the top node's when `top_mark` is given and every node's when
// `all_marks` is given.
nodus::ConfigNode relocate(const nodus::ConfigNode& node, const std::string& path,
                           const nodus::SourceMark* top_mark = nullptr,
                           const nodus::SourceMark* all_marks = nullptr);

}  // namespace nodus::kernel
