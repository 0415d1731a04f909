#include "chexworld/models/checkpoint/state_dict.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chexworld/core/paths.h"

namespace chexworld {
namespace {

std::string Shape(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

}  // namespace

NamedTensors GetStateDict(const torch::nn::Module& module, const std::string& prefix) {
  NamedTensors out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(prefix + b.key(), b.value());
  return out;
}

NamedTensors SelectPrefix(const NamedTensors& tensors, const std::string& prefix) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) {
    if (name.compare(0, prefix.size(), prefix) == 0) out.emplace_back(name.substr(prefix.size()), t);
  }
  return out;
}

std::string LoadReport::ToString() const {
  return absl::StrCat(loaded.size(), " loaded; missing (", missing.size(), "): [", absl::StrJoin(missing, ", "),
                      "]; unexpected (", unexpected.size(), "): [", absl::StrJoin(unexpected, ", "), "]");
}

absl::StatusOr<LoadReport> LoadStateDict(torch::nn::Module& module, const NamedTensors& tensors, LoadMode mode) {
  NamedTensors targets = GetStateDict(module);
  std::map<std::string, torch::Tensor> given;
  for (const auto& [name, t] : tensors) {
    if (!given.emplace(name, t).second) {
      return absl::InvalidArgumentError(absl::StrCat("checkpoint has key '", name, "' twice"));
    }
  }
  LoadReport report;
  std::vector<std::string> mismatched;
  std::set<std::string> model_keys;
  for (const auto& [name, target] : targets) {
    model_keys.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      report.missing.push_back(name);
    } else if (it->second.sizes() != target.sizes()) {
      mismatched.push_back(absl::StrCat("'", name, "': checkpoint shape ", Shape(it->second), " vs model shape ",
                                        Shape(target)));
    }
  }
  for (const auto& [name, t] : tensors) {
    if (!model_keys.count(name)) report.unexpected.push_back(name);
  }
  if (!mismatched.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("shape mismatch for ", absl::StrJoin(mismatched, "; ")));
  }
  if (mode == LoadMode::kStrict && (!report.missing.empty() || !report.unexpected.empty())) {
    std::string msg = "strict load failed:";
    if (!report.missing.empty()) absl::StrAppend(&msg, " missing keys [", absl::StrJoin(report.missing, ", "), "]");
    if (!report.unexpected.empty()) {
      absl::StrAppend(&msg, " unexpected keys [", absl::StrJoin(report.unexpected, ", "), "]");
    }
    return absl::InvalidArgumentError(msg);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) {
    auto it = given.find(name);
    if (it == given.end()) continue;
    target.copy_(it->second.to(target.dtype()));
    report.loaded.push_back(name);
  }
  return report;
}

absl::Status SaveStateDict(const NamedTensors& tensors, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().to(torch::kCPU).contiguous());
  // The archive torch::pickle_save writes, but with the dict pickled as
  // torch.save pickles one: without TorchScript's type tag (a call of
  // torch.jit._pickle.restore_type_tag), which torch.load's weights_only mode
  // (the default since PyTorch 2.6) refuses.
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* b, size_t n) { pickle.insert(pickle.end(), b, b + n); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
                              /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(dict));
  pickler.stop();
  std::string bytes;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
      bytes.append(static_cast<const char*>(p), n);
      return n;
    });
    torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
    writer.writeEndOfFile();
  }
  return WriteFileAtomically(path, bytes);
}

}  // namespace chexworld
