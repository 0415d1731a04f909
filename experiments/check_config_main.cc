// check_config FILE...: loads and resolves each experiment config; exits 1 with
// the error (file:line:column, or the component path) on the first failure.
#include <iostream>

#include "chexworld/core/config.h"
#include "chexworld/train/experiment.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: check_config FILE...\n";
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    auto config = chexworld::LoadExperimentConfig(argv[i], {});
    absl::Status complete = config.ok() ? chexworld::CheckExperimentComplete(*config) : config.status();
    if (!complete.ok()) {
      std::cerr << "FAIL " << argv[i] << ": " << complete.message() << "\n";
      return 1;
    }
    if (!config.ok()) {
      std::cerr << "FAIL " << argv[i] << ": " << config.status().message() << "\n";
      return 1;
    }
    std::cout << "ok " << argv[i] << "\n";
  }
  return 0;
}
