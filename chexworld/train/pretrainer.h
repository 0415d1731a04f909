// The pretraining loop. It knows component interfaces only: an encoder (and
// its EMA target), a predictor, an objective, a loader, an optimizer and three
// schedules, all built from the config by the experiment driver.
//
// Per micro-batch `it` (= epoch * batches_per_epoch + batch): set lr and
// weight decay from their schedules, compute the objective and the gradient
// of loss / accum_iter (as trainer.concurrent_shards concurrent shards on
// CPU, see sharded_step.h); every accum_iter-th micro-batch clip, step, zero the
// gradients and update the target with momentum ema(it) (official order).
//
// Checkpoints (every checkpoint_every optimizer steps, on preemption and at
// the end; the last keep_last kept) hold the three networks, the optimizer,
// the schedule position, the RNG state, the loader position and the resolved
// config. They are written durably (temporary, fsync, CRC sidecar, rename), so
// a kill or a full disk never damages the previous one; --resume takes the
// newest one that verifies, moving damaged ones aside. Resuming on CPU with
// the same threads gives bit-identical parameters to an uninterrupted run.
//
// No host synchronisation in a micro-batch that does not log: the loss, its
// terms, the collapse monitors and the gradient norm stay on the device
// (step_log.h) and are read every trainer.log_every micro-batches, before
// every checkpoint and at the end; the non-finite check reads them there and
// stops the run before the next checkpoint, naming the first bad micro-batch.
//
// SIGTERM / SIGUSR1 (preemption.h): one process stops at the end of the
// optimizer step in progress; data-parallel ranks agree on the stop when
// they next read their statistics (the next log or checkpoint boundary) and
// stop at the end of that optimizer step; then a checkpoint is written and a
// Preempted status returned. A lost rank makes the collectives fail: the survivors stop with an
// error naming it and write nothing.
#ifndef CHEXWORLD_TRAIN_PRETRAINER_H_
#define CHEXWORLD_TRAIN_PRETRAINER_H_

#include <memory>
#include <string>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/data/loader.h"
#include "chexworld/models/encoder.h"
#include "chexworld/models/predictor.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/proto/experiment.pb.h"
#include "chexworld/train/checkpoint_dir.h"
#include "chexworld/train/cuda_util.h"
#include "chexworld/train/distributed.h"
#include "chexworld/train/schedules.h"

namespace chexworld {

struct PretrainComponents {
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Encoder> target;
  std::shared_ptr<Predictor> predictor;
  std::shared_ptr<Objective> objective;
  std::unique_ptr<PretrainLoader> loader;
  std::shared_ptr<TrainOptimizer> optimizer;
  std::shared_ptr<Schedule> lr, weight_decay, ema;
  // Data parallel: gradients (and logged losses) are averaged over ranks; only
  // rank 0 writes checkpoints, metrics and exports.
  std::shared_ptr<Communicator> communicator;
};

// What the whole run has done, over every segment a resume joined (this
// process's part): kept in each checkpoint, so the summary of a resumed run
// describes the run, not its last segment.
struct RunTotals {
  double images = 0;             // images of this process's micro-batches
  double model_flops = 0;        // of those micro-batches (METHOD 9.1)
  double train_seconds = 0;      // wall time of the training loops
  double data_wait_seconds = 0;  // of which the steps waited for their batches
  CudaMemory peak_memory;        // the largest figures read (-1s: not CUDA)
};

// Of the whole run, parts before a resume included (timings: this process).
struct PretrainSummary {
  int64_t micro_batches = 0;
  int64_t optimizer_steps = 0;
  double first_loss = 0, last_loss = 0;
  std::map<std::string, double> last_terms;
  double images_per_second = 0;
  double elapsed_seconds = 0;    // wall time of the training loops, every segment
  double data_wait_seconds = 0;  // of which the steps waited for their batches
  // Of this process's micro-batches (METHOD 9.1; mask lengths vary by batch):
  double model_flops_per_image = 0;  // forward + backward, all passes
  double achieved_tflops = 0;        // model FLOPs per second, all ranks, /1e12
  CudaMemory peak_memory;            // the largest figures read during the run (-1s: not CUDA)
  std::string last_checkpoint;
};

struct LoopState;  // pretrainer.cc

class Pretrainer {
 public:
  Pretrainer(ExperimentConfig config, std::string run_dir, PretrainComponents components, torch::Device device);
  // Trains to the configured end; with `resume`, continues the latest
  // checkpoint in the run folder first.
  absl::StatusOr<PretrainSummary> Run(bool resume);

 private:
  absl::StatusOr<PretrainSummary> RunLoop(bool resume);
  // The phases of RunLoop, in order.
  absl::Status Prepare(bool resume, LoopState& s);
  // One micro-batch: false at the end of the loader's epoch. No host sync.
  absl::StatusOr<bool> TrainMicroBatch(LoopState& s);
  // Model FLOPs per image of a micro-batch of `b`'s shapes (METHOD 9.1).
  double MicroBatchFlops(const WorldModelBatch& b) const;
  // After the backward of a step's last micro-batch: the gradients averaged
  // over ranks, clipped (the norm is returned), AdamW, gradients cleared, EMA.
  absl::StatusOr<torch::Tensor> UpdateParameters(LoopState& s);
  // Reads the pending statistics: rows, non-finite check, collapse watch, log.
  absl::Status ReadStatistics(LoopState& s);
  absl::Status CheckpointIfDue(LoopState& s);
  // A Preempted status once a stop was agreed and the step is on disk.
  absl::Status StopIfPreempted(LoopState& s);
  absl::StatusOr<PretrainSummary> Finish(LoopState& s);
  absl::Status SaveCheckpoint(int64_t epoch, int64_t batch, int64_t iteration, int64_t steps, const RunTotals& totals,
                              std::string* path);
  // The run's totals up to now: the resumed checkpoint's plus this segment's.
  RunTotals Totals(const LoopState& s) const;
  absl::Status LoadCheckpoint(const std::string& path, int64_t* epoch, int64_t* batch, int64_t* iteration,
                              int64_t* steps);
  // Loads the newest checkpoint that verifies against its sidecar and parses,
  // moving unusable newer ones aside; `loaded` stays "" when there is none.
  absl::Status ResumeLatestGood(int64_t* epoch, int64_t* batch, int64_t* iteration, int64_t* steps,
                                std::string* loaded);

  ExperimentConfig config_;
  std::string run_dir_;
  PretrainComponents c_;
  torch::Device device_;
  RunTotals resumed_;  // the totals of the checkpoint resumed from
  double logged_loss_ = 0;
};

// Loads the networks of a training checkpoint, strictly by name (any of them
// may be null). The trainer's resume and the analyses share it.
absl::Status LoadCheckpointNetworks(const std::string& path, torch::nn::Module* encoder,
                                    torch::nn::Module* target_encoder, torch::nn::Module* predictor);

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_PRETRAINER_H_
