// config/yaml_loader.h: YAML text -> nodus::ConfigNode, with positions and key paths.
//
// Every node keeps its 1-based position: a map entry's value is positioned at its key (so
// errors point at the key the user wrote), a list item at the item. Key order is preserved.
// Duplicate keys and non-string keys are errors; anchors, aliases and `<<` merge keys work.
//
//   NODUS_ASSIGN_OR_RETURN(nodus::ConfigNode root, load_yaml_file("configs/aurigraph.yaml"));
//   // errors read "configs/aurigraph.yaml:7:3: ports.base: duplicate key 'base' (...)"
#pragma once

#include <filesystem>
#include <string>

#include "nodus/config.h"
#include "nodus/status.h"

namespace nodus::kernel {

// Parses one YAML document. An empty text yields a null root. Syntax errors are
// INVALID_ARGUMENT "SOURCE:LINE:COL: yaml: <parser message>".
nodus::Result<nodus::ConfigNode> load_yaml_string(const std::string& text,
                                                  const std::string& source_name);

// Reads and parses `file`; positions name the file as given. A missing file is NOT_FOUND, an
// unreadable one PERMISSION_DENIED, both naming the path.
nodus::Result<nodus::ConfigNode> load_yaml_file(const std::filesystem::path& file);

}  // namespace nodus::kernel
