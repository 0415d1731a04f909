#include "chexworld/train/sharded_step.h"

#include <ATen/Parallel.h>

#include "chexworld/train/autocast.h"

namespace chexworld {

ShardedStep::ShardedStep(int shards, int threads_per_shard, torch::Device device, bool bf16)
    : shards_(std::max(1, shards)),
      threads_per_shard_(std::max(1, threads_per_shard)),
      device_(device),
      bf16_(bf16),
      errors_(shards_) {
  if (shards_ == 1) return;
  // at::set_num_threads sets the calling thread's OpenMP team size and a
  // process-wide default; start the workers one at a time, then restore the
  // calling thread's setting as the default.
  const int caller_threads = at::get_num_threads();
  for (int i = 0; i < shards_; ++i) {
    workers_.emplace_back(&ShardedStep::WorkerLoop, this, i);
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return started_ == i + 1; });
  }
  at::set_num_threads(caller_threads);
}

ShardedStep::~ShardedStep() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ShardedStep::WorkerLoop(int index) {
  at::internal::lazy_init_num_threads();
  at::set_num_threads(threads_per_shard_);
  int64_t seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  ++started_;
  done_cv_.notify_all();
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || generation_ > seen; });
    if (stop_) return;
    seen = generation_;
    const std::function<void(int)>* task = task_;
    lock.unlock();
    try {
      (*task)(index);
    } catch (...) {
      errors_[index] = std::current_exception();
    }
    lock.lock();
    if (--pending_ == 0) done_cv_.notify_all();
  }
}

void ShardedStep::RunOnWorkers(const std::function<void(int)>& task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = &task;
    pending_ = shards_;
    for (auto& e : errors_) e = nullptr;
    ++generation_;
  }
  work_cv_.notify_all();
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
  }
  for (const auto& e : errors_) {
    if (e) std::rethrow_exception(e);
  }
}

ObjectiveOutput ShardedStep::Forward(Objective& objective, Encoder& context_encoder, Encoder& target_encoder,
                                     Predictor& predictor, const WorldModelBatch& batch) const {
  ObjectiveOutput out;
  {
    AutocastGuard autocast(device_, bf16_);
    out = objective.Compute(context_encoder, target_encoder, predictor, batch);
  }
  out.loss = out.loss.to(torch::kFloat32);
  return out;
}

ObjectiveOutput ShardedStep::ForwardBackward(Objective& objective, Encoder& context_encoder,
                                             Encoder& target_encoder, Predictor& predictor,
                                             const WorldModelBatch& batch, const std::vector<torch::Tensor>& params,
                                             double grad_scale) {
  if (shards_ == 1) {
    ObjectiveOutput out = Forward(objective, context_encoder, target_encoder, predictor, batch);
    (out.loss * grad_scale).backward();
    out.loss = out.loss.detach();
    return out;
  }
  const int64_t n = batch.size();
  TORCH_CHECK(n % shards_ == 0, "a batch of ", n, " images does not split into ", shards_, " equal shards");
  std::vector<ObjectiveOutput> outs(shards_);
  std::vector<std::vector<torch::Tensor>> grads(shards_);
  // Each shard's loss is the mean over its images, so the batch's loss is the
  // mean of the shards' losses and its gradient the mean of theirs.
  const double shard_scale = grad_scale / shards_;
  const std::function<void(int)> task = [&](int i) {
    ObjectiveOutput out = Forward(objective, context_encoder, target_encoder, predictor,
                                  batch.Slice(i * n / shards_, (i + 1) * n / shards_));
    // Gradients are returned, not accumulated into the shared parameters'
    // .grad, so the shards never write the same tensor.
    grads[i] = torch::autograd::grad({out.loss * shard_scale}, params, /*grad_outputs=*/{}, /*retain_graph=*/false,
                                     /*create_graph=*/false, /*allow_unused=*/true);
    out.loss = out.loss.detach();
    outs[i] = std::move(out);
  };
  RunOnWorkers(task);

  torch::NoGradGuard no_grad;
  for (size_t j = 0; j < params.size(); ++j) {
    // Fixed order: reproducible sums. The first sum is a new tensor; autograd
    // may return a gradient that is an expanded view, which is never written.
    torch::Tensor sum;
    bool owned = false;
    for (int i = 0; i < shards_; ++i) {
      const torch::Tensor& g = grads[i][j];
      if (!g.defined()) continue;
      if (!sum.defined()) {
        sum = g;
      } else if (!owned) {
        sum = sum + g;
        owned = true;
      } else {
        sum.add_(g);
      }
    }
    if (!sum.defined()) continue;
    sum = sum.contiguous();
    torch::Tensor p = params[j];
    if (p.grad().defined()) {
      p.mutable_grad().add_(sum);
    } else {
      p.mutable_grad() = sum;
    }
  }
  ObjectiveOutput out = outs[0];
  for (int i = 1; i < shards_; ++i) {
    out.loss = out.loss + outs[i].loss;
    out.pred_std = out.pred_std + outs[i].pred_std;
    out.target_std = out.target_std + outs[i].target_std;
    for (auto& [k, v] : out.terms) v = v + outs[i].terms.at(k);
  }
  out.loss = out.loss / shards_;
  out.pred_std = out.pred_std / shards_;
  out.target_std = out.target_std / shards_;
  for (auto& [k, v] : out.terms) v = v / shards_;
  return out;
}

}  // namespace chexworld
