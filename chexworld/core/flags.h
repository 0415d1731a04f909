// Repeatable command-line flags that gflags cannot express.
#ifndef CHEXWORLD_CORE_FLAGS_H_
#define CHEXWORLD_CORE_FLAGS_H_

#include <string>
#include <vector>

namespace chexworld {

// Removes every `--<name>=V` / `--<name> V` from argv (before gflags parses
// it) and returns the values in order. For repeatable flags such as --set.
std::vector<std::string> ExtractRepeatedFlag(const std::string& name, int* argc, char*** argv);

}  // namespace chexworld

#endif  // CHEXWORLD_CORE_FLAGS_H_
