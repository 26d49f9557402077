#pragma once
// hakit.yaml(5), generated from the section parsers: they record every key they read
// (SchemaRecorder) while validating a document that has every section, mapping and action.
#include <string>
#include <vector>

#include "common/yaml_reader.hpp"

namespace hakit::hakit_config {

/// Every key of hakit.yaml with its type and default, as the parsers read them.
std::vector<config::SchemaKey> schema();

/// The man page (roff) for `keys`.
std::string render_man(const std::vector<config::SchemaKey>& keys, const std::string& version);

}  // namespace hakit::hakit_config
