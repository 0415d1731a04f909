#include "chexworld/train/distributed.h"

#include <cstdlib>

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace chexworld {
namespace {

class Local : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void AllReduceMean(const std::vector<torch::Tensor>&) override {}
  void Barrier() override {}
};

class Gloo : public Communicator {
 public:
  Gloo(const DistributedEnv& env) : env_(env) {
    auto store = c10::make_intrusive<::c10d::FileStore>(env.store, env.world_size);
    auto options = ::c10d::ProcessGroupGloo::Options::create();
    options->devices.push_back(::c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    group_ = c10::make_intrusive<::c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
  }
  int rank() const override { return env_.rank; }
  int world_size() const override { return env_.world_size; }
  void AllReduceMean(const std::vector<torch::Tensor>& tensors) override {
    if (tensors.empty()) return;
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : tensors) flat_parts.push_back(t.detach().reshape({-1}).to(torch::kFloat32));
    std::vector<torch::Tensor> buffer = {torch::cat(flat_parts).cpu()};
    group_->allreduce(buffer)->wait();
    buffer[0].div_(env_.world_size);
    int64_t offset = 0;
    torch::NoGradGuard g;
    for (const auto& t : tensors) {
      const int64_t n = t.numel();
      t.copy_(buffer[0].slice(0, offset, offset + n).view(t.sizes()).to(t.device(), t.scalar_type()));
      offset += n;
    }
  }
  void Barrier() override { group_->barrier()->wait(); }

 private:
  DistributedEnv env_;
  c10::intrusive_ptr<::c10d::ProcessGroupGloo> group_;
};

}  // namespace

absl::StatusOr<DistributedEnv> DistributedFromEnvironment() {
  DistributedEnv env;
  const char* rank = std::getenv("CHEXWORLD_RANK");
  const char* world = std::getenv("CHEXWORLD_WORLD_SIZE");
  const char* store = std::getenv("CHEXWORLD_STORE");
  if (world == nullptr) return env;
  if (rank == nullptr || store == nullptr || !absl::SimpleAtoi(world, &env.world_size) ||
      !absl::SimpleAtoi(rank, &env.rank) || env.world_size < 1 || env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad distributed environment: CHEXWORLD_RANK=", rank ? rank : "(unset)", " CHEXWORLD_WORLD_SIZE=", world,
        " CHEXWORLD_STORE=", store ? store : "(unset); start ranks with //experiments:launch"));
  }
  env.store = store;
  return env;
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateCommunicator(const DistributedEnv& env) {
  if (!env.enabled()) return std::unique_ptr<Communicator>(new Local());
  try {
    return std::unique_ptr<Communicator>(new Gloo(env));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", env.rank, ": cannot join the process group: ", e.what()));
  }
}

}  // namespace chexworld
