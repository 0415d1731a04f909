#include "chexworld/train/schedules.h"

#include "chexworld/train/adamw.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "chexworld/train/schedules.pb.h"

namespace chexworld {
namespace {

constexpr double kPi = 3.14159265358979323846;

class CosineSchedule : public Schedule {
 public:
  CosineSchedule(const CosineScheduleOptions& o, ScheduleHorizon h) : o_(o) {
    total_ = h.epochs * h.iterations_per_epoch;
    warmup_ = static_cast<int64_t>(o.warmup_epochs() * h.iterations_per_epoch);
  }
  double Value(int64_t it) const override {
    it = std::clamp<int64_t>(it, 0, total_ - 1);
    if (it < warmup_) {
      // np.linspace(start, base, warmup): both ends included.
      if (warmup_ == 1) return o_.start_warmup_value();
      return o_.start_warmup_value() + (o_.base_value() - o_.start_warmup_value()) * it / (warmup_ - 1);
    }
    const double len = static_cast<double>(total_ - warmup_);
    const double i = static_cast<double>(it - warmup_);
    return o_.final_value() + 0.5 * (o_.base_value() - o_.final_value()) * (1 + std::cos(kPi * i / len));
  }

 private:
  CosineScheduleOptions o_;
  int64_t total_ = 1, warmup_ = 0;
};

absl::Status ValidateCosine(const CosineScheduleOptions& o) {
  if (o.warmup_epochs() < 0) return absl::InvalidArgumentError("CosineScheduleOptions.warmup_epochs must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Schedule>> CreateCosine(const CosineScheduleOptions& o, ScheduleHorizon h) {
  if (h.epochs < 1 || h.iterations_per_epoch < 1) return absl::InvalidArgumentError("empty schedule horizon");
  if (o.warmup_epochs() >= h.epochs) {
    return absl::InvalidArgumentError(absl::StrCat("CosineScheduleOptions.warmup_epochs = ", o.warmup_epochs(),
                                                   ": must be shorter than the ", h.epochs, " training epochs"));
  }
  return std::shared_ptr<Schedule>(std::make_shared<CosineSchedule>(o, h));
}

class ConstantSchedule : public Schedule {
 public:
  explicit ConstantSchedule(double v) : v_(v) {}
  double Value(int64_t) const override { return v_; }

 private:
  double v_;
};

absl::StatusOr<std::shared_ptr<Schedule>> CreateConstant(const ConstantScheduleOptions& o, ScheduleHorizon) {
  return std::shared_ptr<Schedule>(std::make_shared<ConstantSchedule>(o.value()));
}

class AdamWOptimizer : public TrainOptimizer {
 public:
  AdamWOptimizer(const AdamWOptions& o, const ParamGroups& g)
      : adamw_(g, o.beta1() == 0 ? 0.9 : o.beta1(), o.beta2() == 0 ? 0.999 : o.beta2(), o.eps() == 0 ? 1e-8 : o.eps()) {}
  const torch::optim::Optimizer& state() override { return adamw_.state(); }
  void LoadState(torch::serialize::InputArchive& archive) override { adamw_.LoadState(archive); }
  void Step() override { adamw_.Step(); }
  void SetHyperparameters(double lr, double wd) override { adamw_.SetHyperparameters(lr, wd); }

 private:
  MultiTensorAdamW adamw_;
};

absl::Status ValidateAdamW(const AdamWOptions& o) {
  if (o.beta1() < 0 || o.beta1() >= 1 || o.beta2() < 0 || o.beta2() >= 1) {
    return absl::InvalidArgumentError("AdamWOptions betas must be in [0, 1)");
  }
  if (o.eps() < 0) return absl::InvalidArgumentError("AdamWOptions.eps must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<TrainOptimizer>> CreateAdamW(const AdamWOptions& o, ParamGroups g) {
  return std::shared_ptr<TrainOptimizer>(std::make_shared<AdamWOptimizer>(o, g));
}

}  // namespace

CHEXWORLD_REGISTER_COMPONENT("schedule", "cosine", CosineScheduleOptions, Schedule,
                             "linear warm-up then half cosine, per micro-batch (official cosine_scheduler)",
                             &CreateCosine, &ValidateCosine);
CHEXWORLD_REGISTER_COMPONENT("schedule", "constant", ConstantScheduleOptions, Schedule, "a constant value",
                             &CreateConstant, nullptr);
CHEXWORLD_REGISTER_COMPONENT("optimizer", "adamw", AdamWOptions, TrainOptimizer,
                             "AdamW with the official groups (no decay on biases and 1-D tensors)", &CreateAdamW,
                             &ValidateAdamW);

}  // namespace chexworld
