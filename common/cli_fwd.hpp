#pragma once
// CLI11's two classes, declared only. CLI11 (Debian's 2.1, header-only) defines its validators
// as global objects, so every file that includes <CLI/CLI.hpp> compiles ~100 KB of code for
// them: ~5-8 s a file. Headers declare with this; only the files that build a parser include
// <CLI/CLI.hpp>.
namespace CLI {
class App;
class Option;
}  // namespace CLI
