// compare A.pt B.pt TOLERANCE: max |a - b| over the tensors of two state
// dicts with the same keys; exits 1 above the tolerance.
#include <cstdio>
#include <cstdlib>

#include "chexworld/models/checkpoint/state_dict.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: compare A.pt B.pt TOLERANCE\n");
    return 2;
  }
  auto a = chexworld::ReadTorchStateDict(argv[1]);
  auto b = chexworld::ReadTorchStateDict(argv[2]);
  if (!a.ok() || !b.ok() || a->size() != b->size()) {
    std::fprintf(stderr, "cannot read or key counts differ\n");
    return 1;
  }
  double worst = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    if ((*a)[i].first != (*b)[i].first) return 1;
    worst = std::max(worst, ((*a)[i].second - (*b)[i].second).abs().max().item<double>());
  }
  std::printf("max |a - b| = %.3g\n", worst);
  return worst <= std::atof(argv[3]) ? 0 : 1;
}
