#include "chexworld/models/checkpoint/state_dict.h"

#include <torch/csrc/jit/serialization/pickle.h>

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
  std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
  return WriteFileAtomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace chexworld
