// Repeatable command-line flags that gflags cannot express.
#ifndef CHEXWORLD_CORE_FLAGS_H_
#define CHEXWORLD_CORE_FLAGS_H_

#include <string>
#include <vector>

namespace chexworld {

// Removes every `--<name>=V` / `--<name> V` from argv (before gflags parses
// it) and returns the values in order. For repeatable flags such as --set.
std::vector<std::string> ExtractRepeatedFlag(const std::string& name, int* argc, char*** argv);

// gflags' ParseCommandLineFlags with a help that starts with the binary:
// --help (-h, --helpshort) prints `usage` and the flags defined in
// `main_file` (pass __FILE__ from main) and exits 0; --helpfull lists every
// flag, gflags' and glog's included.
//   chexworld::ParseFlags("--config=FILE [--set path=value ...]", __FILE__, &argc, &argv);
void ParseFlags(const std::string& usage, const std::string& main_file, int* argc, char*** argv);

// The --help text ParseFlags prints (tests).
std::string OwnFlagsHelp(const std::string& program, const std::string& usage, const std::string& main_file);

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_FLAGS_H_
