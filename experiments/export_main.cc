// Exports a training checkpoint for Python and other tools. A checkpoint
// (checkpoints/checkpoint-N.pt) is a libtorch archive that Python's torch.load
// does not read; this writes plain `torch.load`-able state dicts and
// safetensors files of every network and of the training state:
//
//   bazel run //experiments:export -- --run_dir=runs/pretrain_tiny/<stamp>      (newest good checkpoint)
//   bazel run //experiments:export -- --checkpoint=runs/.../checkpoint-0000000084.pt --out_dir=/tmp/x
//
// Into --out_dir (default <run folder>/export/):
//   model.pt                 {encoder.*, target_encoder.*, predictor.*}: the official `model` state dict
//                            (load_state_dict into the official PyTorch model)
//   encoder.pt, target_encoder.pt, predictor.pt   each network alone, official key names
//   training_state.pt        AdamW state per parameter ("encoder.blocks.0.attn.qkv.weight.exp_avg",
//                            ".exp_avg_sq", ".step"), the CPU RNG state (rng_cpu) and the position
//                            (epoch, batch, iteration, optimizer_steps) as 0-d tensors
//   training_state.json      the position, the parameter groups (decayed or not) and their members,
//                            the config (lr and weight decay follow its schedules at `iteration`)
//   *.safetensors            the same tensors (with --formats=pt,safetensors, the default)
//   preprocessing.json       how an image file becomes the encoder's input (chexworld/data/preprocessing.proto)
//   architecture.json        the resolved encoder and predictor options
//
// In Python (the project's .venv, or any torch >= 2.0), plain torch:
//   import torch; sd = torch.load("export/target_encoder.pt")
// or with the modules and the preprocessing (chexworld/python/chexworld_torch):
//   encoder, spec = chexworld_torch.load_encoder("export")
#include <iostream>
#include <sstream>
#include <type_traits>

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "chexworld/core/flags.h"
#include "chexworld/core/config.h"
#include "chexworld/core/durable_file.h"
#include "chexworld/core/paths.h"
#include "chexworld/core/status_macros.h"
#include "chexworld/data/preprocessing.h"
#include "chexworld/models/checkpoint/safetensors.h"
#include "chexworld/models/checkpoint/state_dict.h"
#include "chexworld/train/checkpoint_dir.h"
#include "chexworld/train/networks.h"
#include "chexworld/train/param_groups.h"
#include "chexworld/train/pretrainer.h"
#include "chexworld/train/schedules.h"
#include "experiments/export_spec.h"

DEFINE_string(checkpoint, "", "a training checkpoint (checkpoint-N.pt)");
DEFINE_string(run_dir, "", "or a run folder: its newest checkpoint that verifies");
DEFINE_string(out_dir, "", "where to write (default <run folder>/export)");
DEFINE_string(formats, "pt,safetensors", "pt and/or safetensors");

namespace chexworld {
namespace {

std::string Json(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

absl::Status Export(const std::string& checkpoint, const std::string& out_dir, bool pt, bool safetensors) {
  RETURN_IF_ERROR(VerifyDurableFile(checkpoint));
  torch::serialize::InputArchive archive;
  ExperimentConfig config;
  int64_t epoch = 0, batch = 0, iteration = 0, steps = 0;
  torch::Tensor rng;
  try {
    archive.load_from(checkpoint);
    c10::IValue v;
    archive.read("config", v);
    RETURN_IF_ERROR_CTX(ParseTextProto(v.toStringRef(), checkpoint + " (its config)", &config), "");
    archive.read("epoch", v);
    epoch = v.toInt();
    archive.read("batch", v);
    batch = v.toInt();
    archive.read("iteration", v);
    iteration = v.toInt();
    archive.read("optimizer_steps", v);
    steps = v.toInt();
    archive.read("rng_cpu", rng);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(checkpoint, " is not a chexworld training checkpoint: ",
                                            std::string(e.what()).substr(0, 200)));
  }
  RETURN_IF_ERROR(ResolveComponents(&config));
  ASSIGN_OR_RETURN(WorldModelNetworks nets, BuildWorldModelNetworks(config));
  RETURN_IF_ERROR(LoadCheckpointNetworks(checkpoint, nets.encoder.get(), nets.target.get(), nets.predictor.get()));
  ParamGroups groups = WorldModelParamGroups(*nets.encoder, *nets.predictor);
  ASSIGN_OR_RETURN(std::shared_ptr<TrainOptimizer> optimizer, CreateOptimizer(config.optimizer(), groups));
  try {
    torch::serialize::InputArchive opt;
    archive.read("optimizer", opt);
    optimizer->LoadState(opt);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(checkpoint, ": cannot read the optimizer state: ",
                                            std::string(e.what()).substr(0, 200)));
  }

  // Per-parameter optimizer state, named as the parameters are.
  NamedTensors state;
  std::vector<std::string> group_json;
  const auto& o = optimizer->state();
  NamedParameters all = groups.decay;
  all.insert(all.end(), groups.no_decay.begin(), groups.no_decay.end());
  for (const auto& [name, p] : all) {
    auto it = o.state().find(p.unsafeGetTensorImpl());
    if (it == o.state().end()) continue;  // no step taken yet
    if (auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(it->second.get())) {
      state.emplace_back(name + ".exp_avg", adamw->exp_avg());
      state.emplace_back(name + ".exp_avg_sq", adamw->exp_avg_sq());
      state.emplace_back(name + ".step", torch::tensor(static_cast<double>(adamw->step()), torch::kFloat64));
      if (adamw->max_exp_avg_sq().defined()) state.emplace_back(name + ".max_exp_avg_sq", adamw->max_exp_avg_sq());
    } else {
      LOG(WARNING) << "optimizer state of " << name << " is not AdamW's: left out";
    }
  }
  for (size_t g = 0; g < o.param_groups().size(); ++g) {
    const auto& group = o.param_groups()[g];
    std::vector<std::string> members;
    for (const auto& [name, p] : g == 0 ? groups.decay : groups.no_decay) members.push_back(Json(name));
    (void)group;  // lr and weight decay come from the schedules at `iteration`, set before every step
    group_json.push_back(absl::StrCat("{\"weight_decay\": ", g == 0 ? "\"scheduled\"" : "0", ", \"params\": [",
                                      absl::StrJoin(members, ", "), "]}"));
  }
  state.emplace_back("rng_cpu", rng);
  for (const auto& [k, v] : std::vector<std::pair<std::string, int64_t>>{
           {"epoch", epoch}, {"batch", batch}, {"iteration", iteration}, {"optimizer_steps", steps}}) {
    state.emplace_back(k, torch::tensor(v, torch::kInt64));
  }

  RETURN_IF_ERROR(MakeDirectories(out_dir));
  NamedTensors model = GetStateDict(*nets.encoder, "encoder.");
  for (auto& t : GetStateDict(*nets.target, "target_encoder.")) model.push_back(t);
  for (auto& t : GetStateDict(*nets.predictor, "predictor.")) model.push_back(t);
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"source", checkpoint},
                                                   {"iteration", absl::StrCat(iteration)}};
  const std::vector<std::pair<std::string, NamedTensors>> files = {
      {"model", model},
      {"encoder", GetStateDict(*nets.encoder)},
      {"target_encoder", GetStateDict(*nets.target)},
      {"predictor", GetStateDict(*nets.predictor)},
      {"training_state", state}};
  for (const auto& [stem, tensors] : files) {
    if (pt) RETURN_IF_ERROR(SaveStateDict(tensors, out_dir + "/" + stem + ".pt"));
    if (safetensors) RETURN_IF_ERROR(SaveSafetensors(tensors, out_dir + "/" + stem + ".safetensors", meta));
  }
  const std::string json = absl::StrCat(
      "{\n  \"checkpoint\": ", Json(checkpoint), ",\n  \"epoch\": ", epoch, ",\n  \"batch\": ", batch,
      ",\n  \"iteration\": ", iteration, ",\n  \"optimizer_steps\": ", steps, ",\n  \"param_groups\": [\n    ",
      absl::StrJoin(group_json, ",\n    "), "\n  ],\n  \"config\": ", Json(ToTextProto(config)), "\n}\n");
  RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/training_state.json", json));
  // What the weights need to be used elsewhere: the input pipeline and the
  // resolved architecture (experiments/export_spec.h).
  ASSIGN_OR_RETURN(PreprocessingSpec preprocessing, MakePreprocessingSpec(config));
  RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/preprocessing.json", PreprocessingSpecToJson(preprocessing)));
  ASSIGN_OR_RETURN(std::string architecture, ArchitectureJson(config));
  RETURN_IF_ERROR(WriteFileAtomically(out_dir + "/architecture.json", architecture));
  std::cout << "exported " << checkpoint << " (micro-batch " << iteration << ") to " << out_dir << ": "
            << absl::StrJoin(std::vector<std::string>{pt ? "*.pt" : "", safetensors ? "*.safetensors" : ""}, " ")
            << " training_state.json preprocessing.json architecture.json\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace chexworld

int main(int argc, char** argv) {
  chexworld::ParseFlags("--run_dir=DIR | --checkpoint=FILE [--out_dir=DIR] [--formats=pt,safetensors]", __FILE__, &argc, &argv);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  std::string checkpoint = chexworld::UserPath(FLAGS_checkpoint);
  std::string run_dir = chexworld::UserPath(FLAGS_run_dir);
  if (checkpoint.empty() == run_dir.empty()) {
    std::cerr << "error: give exactly one of --checkpoint and --run_dir\n";
    return 2;
  }
  if (checkpoint.empty()) {
    const auto all = chexworld::ListCheckpoints(run_dir + "/checkpoints");
    for (auto it = all.rbegin(); it != all.rend() && checkpoint.empty(); ++it) {
      if (chexworld::VerifyDurableFile(*it).ok()) checkpoint = *it;
      else LOG(WARNING) << *it << " does not verify; trying the previous checkpoint";
    }
    if (checkpoint.empty()) {
      std::cerr << "error: no checkpoint that verifies in " << run_dir << "/checkpoints\n";
      return 1;
    }
  } else {
    const size_t slash = checkpoint.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : checkpoint.substr(0, slash);
    run_dir = dir.size() >= 12 && dir.substr(dir.size() - 12) == "/checkpoints" ? dir.substr(0, dir.size() - 12) : dir;
  }
  bool pt = false, safetensors = false;
  for (absl::string_view f : absl::StrSplit(FLAGS_formats, ',', absl::SkipEmpty())) {
    if (f == "pt") pt = true;
    else if (f == "safetensors") safetensors = true;
    else {
      std::cerr << "error: --formats: '" << f << "' is not pt or safetensors\n";
      return 2;
    }
  }
  const std::string out = FLAGS_out_dir.empty() ? run_dir + "/export" : chexworld::UserPath(FLAGS_out_dir);
  absl::Status s = chexworld::Export(checkpoint, out, pt, safetensors);
  if (!s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  return 0;
}
