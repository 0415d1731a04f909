#include "chexworld/core/flags.h"

namespace chexworld {

std::vector<std::string> ExtractRepeatedFlag(const std::string& name, int* argc, char*** argv) {
  std::vector<std::string> values;
  const std::string eq = "--" + name + "=", bare = "--" + name;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string arg = (*argv)[i];
    if (arg == "--") {  // leave the rest alone
      for (; i < *argc; ++i) (*argv)[out++] = (*argv)[i];
      break;
    }
    if (arg.compare(0, eq.size(), eq) == 0) {
      values.push_back(arg.substr(eq.size()));
    } else if (arg == bare && i + 1 < *argc) {
      values.push_back((*argv)[++i]);
    } else {
      (*argv)[out++] = (*argv)[i];
    }
  }
  *argc = out;
  return values;
}

}  // namespace chexworld
