// Data parallelism inside one process: the micro-batch is split into equal
// shards whose forward and backward passes run at the same time on as many
// threads, each with its share of torch's intra-op threads; their gradients
// are summed in shard order. The result is the unsplit batch's gradient
// within float tolerance (every objective is a mean over the batch's images),
// and a run repeats bit for bit with the same shards and threads.
//
// Why: on a few CPU cores, one pass over many small operators spends much of
// its time synchronising the cores at every operator; two one-thread shards
// do not, as two one-thread ranks do not (measured in the README's
// Performance section). CPU only; on a GPU one pass already fills the device.
#ifndef CHEXWORLD_TRAIN_SHARDED_STEP_H_
#define CHEXWORLD_TRAIN_SHARDED_STEP_H_

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "chexworld/data/batch.h"
#include "chexworld/objectives/objective.h"

namespace chexworld {

class ShardedStep {
 public:
  // `shards` >= 1 threads of `threads_per_shard` torch threads each; with one
  // shard the step runs on the calling thread with its threads. `bf16` turns
  // on autocast for the forward passes.
  ShardedStep(int shards, int threads_per_shard, torch::Device device, bool bf16);
  ~ShardedStep();
  ShardedStep(const ShardedStep&) = delete;
  ShardedStep& operator=(const ShardedStep&) = delete;

  int shards() const { return shards_; }

  // Computes the objective on `batch` (whose size the shards divide) and adds
  // the gradient of loss * grad_scale to the gradients of `params` (setting
  // those that are none). The returned loss is detached, float32; terms and
  // monitors are averaged over shards. libtorch errors in a shard are
  // rethrown here.
  ObjectiveOutput ForwardBackward(Objective& objective, Encoder& context_encoder, Encoder& target_encoder,
                                  Predictor& predictor, const WorldModelBatch& batch,
                                  const std::vector<torch::Tensor>& params, double grad_scale);

 private:
  // The objective under the step's autocast setting, its loss in float32.
  ObjectiveOutput Forward(Objective& objective, Encoder& context_encoder, Encoder& target_encoder,
                          Predictor& predictor, const WorldModelBatch& batch) const;
  void WorkerLoop(int index);
  // Runs task(i) for every shard i on the workers and waits for all of them.
  void RunOnWorkers(const std::function<void(int)>& task);

  const int shards_;
  const int threads_per_shard_;
  const torch::Device device_;
  const bool bf16_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  const std::function<void(int)>* task_ = nullptr;
  int64_t generation_ = 0;
  int pending_ = 0;
  int started_ = 0;
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_SHARDED_STEP_H_
