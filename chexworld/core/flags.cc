#include "chexworld/core/flags.h"

#include <cstdlib>
#include <iostream>

#include <gflags/gflags.h>

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

std::string OwnFlagsHelp(const std::string& program, const std::string& usage, const std::string& main_file) {
  std::vector<gflags::CommandLineFlagInfo> flags;
  gflags::GetAllFlags(&flags);
  std::string out = "usage: " + program + " " + usage + "\n\nflags:\n";
  for (const auto& f : flags) {
    if (f.filename != main_file) continue;
    out += "  --" + f.name + " (" + f.description + ") type: " + f.type + " default: " +
           (f.type == "string" ? "\"" + f.default_value + "\"" : f.default_value) + "\n";
  }
  out += "\n--helpfull lists every flag, gflags' and glog's included.\n";
  return out;
}

void ParseFlags(const std::string& usage, const std::string& main_file, int* argc, char*** argv) {
  gflags::SetUsageMessage(usage);
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = (*argv)[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-help" || arg == "-h" || arg == "--helpshort") {
      std::string program = (*argv)[0];
      program = program.substr(program.rfind('/') + 1);
      std::cout << OwnFlagsHelp(program, usage, main_file);
      std::exit(0);
    }
  }
  gflags::ParseCommandLineFlags(argc, argv, true);
}

}  // namespace chexworld
