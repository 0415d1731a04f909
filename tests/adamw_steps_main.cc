// The C++ half of //tests:adamw_parity_test: reads the inputs that
// tests/adamw_parity.py made (parameters, per-step gradients, lr and weight
// decay), runs the trainer's AdamW (MultiTensorAdamW) over them and writes the
// parameters and moments for the Python half to compare with
// torch.optim.AdamW. Also checks that saving the state halfway and loading it
// into a new optimizer (as a checkpoint and --resume do) continues
// bit-exactly.
//   adamw_steps INPUTS.pt OUT.pt
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/train/adamw.h"

namespace chexworld {
namespace {

constexpr int kSteps = 10;

struct Run {
  std::vector<torch::Tensor> params;
  std::unique_ptr<MultiTensorAdamW> adamw;
};

Run Start(const std::map<std::string, torch::Tensor>& in, int n, const std::vector<torch::Tensor>* from = nullptr) {
  Run r;
  ParamGroups groups;
  for (int i = 0; i < n; ++i) {
    torch::Tensor p = (from ? (*from)[i] : in.at(absl::StrCat("p", i))).detach().clone().requires_grad_(true);
    r.params.push_back(p);
    (in.at(absl::StrCat("decay", i)).item<int64_t>() ? groups.decay : groups.no_decay)
        .emplace_back(absl::StrCat("t", i), p);
  }
  r.adamw = std::make_unique<MultiTensorAdamW>(groups, 0.9, 0.999, 1e-8);
  return r;
}

void Steps(const std::map<std::string, torch::Tensor>& in, Run& r, int begin, int end) {
  for (int t = begin; t < end; ++t) {
    r.adamw->SetHyperparameters(in.at(absl::StrCat("lr", t)).item<double>(), in.at(absl::StrCat("wd", t)).item<double>());
    for (size_t i = 0; i < r.params.size(); ++i) r.params[i].mutable_grad() = in.at(absl::StrCat("g", t, "_", i)).clone();
    r.adamw->Step();
  }
}

int Main(const std::string& inputs, const std::string& out) {
  auto read = ReadTorchStateDict(inputs);
  if (!read.ok()) {
    std::fprintf(stderr, "%s\n", std::string(read.status().message()).c_str());
    return 1;
  }
  std::map<std::string, torch::Tensor> in(read->begin(), read->end());
  int n = 0;
  while (in.count(absl::StrCat("p", n))) ++n;
  Run full = Start(in, n);
  Steps(in, full, 0, kSteps);

  // Halfway: the state through an archive into a new optimizer over copies.
  Run first = Start(in, n);
  Steps(in, first, 0, kSteps / 2);
  std::stringstream archive;
  {
    torch::serialize::OutputArchive a;
    first.adamw->state().save(a);  // as a checkpoint
    a.save_to(archive);
  }
  Run second = Start(in, n, &first.params);
  {
    torch::serialize::InputArchive a;
    a.load_from(archive);
    second.adamw->LoadState(a);
  }
  Steps(in, second, kSteps / 2, kSteps);
  for (int i = 0; i < n; ++i) {
    if (!torch::equal(full.params[i], second.params[i])) {
      std::printf("FAIL: tensor %d after a save and load at step %d differs from the uninterrupted run\n", i, kSteps / 2);
      return 1;
    }
  }
  std::printf("ok: saving the state at step %d and loading it into a new optimizer continues bit-exactly\n", kSteps / 2);

  NamedTensors result;
  const auto& state = full.adamw->state();
  for (int i = 0; i < n; ++i) {
    auto& s = static_cast<torch::optim::AdamWParamState&>(*state.state().at(full.params[i].unsafeGetTensorImpl()));
    if (s.step() != kSteps) {
      std::printf("FAIL: the saved step count of tensor %d is %ld, not %d\n", i, static_cast<long>(s.step()), kSteps);
      return 1;
    }
    result.emplace_back(absl::StrCat("p", i), full.params[i].detach());
    result.emplace_back(absl::StrCat("m", i), s.exp_avg());
    result.emplace_back(absl::StrCat("v", i), s.exp_avg_sq());
  }
  auto saved = SaveStateDict(result, out);
  if (!saved.ok()) {
    std::fprintf(stderr, "%s\n", std::string(saved.message()).c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: adamw_steps INPUTS.pt OUT.pt\n");
    return 2;
  }
  return chexworld::Main(argv[1], argv[2]);
}
