// What the pretrainer records per micro-batch, without waiting for the device.
//
// Each micro-batch's loss, loss terms, collapse monitors and gradient norm
// stay on the device: Add() stacks them into one small tensor (one kernel,
// no host synchronisation). Drain() is the only place they are read: it
// averages the pending rows over ranks (one all-reduce, with the ranks'
// stop requests riding along), copies them to the host in one transfer, and
// writes them to metrics.csv and TensorBoard, one row per micro-batch as
// before. The pretrainer drains every trainer.log_every micro-batches, before
// every checkpoint and at the end, so on CUDA a step that does not log never
// synchronises with the host.
//
// metrics.csv on resume: the complete rows before the resumed micro-batch are
// kept (a kill can cut a row anywhere, even inside its iteration number, so
// only newline-terminated rows with the header's field count survive).
#ifndef CHEXWORLD_TRAIN_STEP_LOG_H_
#define CHEXWORLD_TRAIN_STEP_LOG_H_

#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "chexworld/objectives/objective.h"
#include "chexworld/train/cuda_util.h"
#include "chexworld/train/distributed.h"
#include "chexworld/train/tensorboard.h"

namespace chexworld {

// Host-side facts of one micro-batch (known without the device).
struct StepFacts {
  int64_t iteration = 0;  // micro-batch index of the whole run
  int64_t epoch = 0;
  int64_t steps = 0;      // optimizer steps after this micro-batch
  double lr = 0, weight_decay = 0;
  double ema = std::nan("");  // momentum, on micro-batches that stepped
  double images_per_s = 0, elapsed_s = 0, data_wait_s = 0;
  double tflops = 0;  // model FLOPs per second so far in this process (METHOD 9.1), all ranks, /1e12
};

// One drained row: the facts and the device statistics, read.
struct StepRow {
  StepFacts facts;
  double loss = 0;
  std::map<std::string, double> terms;
  double pred_std = 0, target_std = 0;
  double grad_norm = std::nan("");  // micro-batches that stepped
  CudaMemory memory;                // when the row was read (every field -1: not CUDA)
};

class StepLog {
 public:
  // Opens `metrics_path` (rank 0: metrics.csv; other ranks their own file)
  // and `events_dir`; with `resume_iteration` > 0 keeps the rows before it.
  // `device`: where training runs (and the statistics stay).
  static absl::StatusOr<std::unique_ptr<StepLog>> Open(const std::string& metrics_path, const std::string& events_dir,
                                                       int64_t resume_iteration, torch::Device device);

  // The loss of the run's first micro-batch when rows before a resume held it.
  std::optional<double> resumed_first_loss() const { return resumed_first_loss_; }

  // Records one micro-batch; `grad_norm` is undefined on micro-batches that
  // did not step. No host synchronisation.
  void Add(const StepFacts& facts, const ObjectiveOutput& out, const torch::Tensor& grad_norm);
  int64_t pending() const { return static_cast<int64_t>(facts_.size()); }

  // Reads the pending rows (averaged over the communicator's ranks), writes
  // them, and returns them. `*stop` becomes true when any rank's
  // `stop_requested` was set (every rank learns the same answer).
  // `memory` goes into every row read now (its -1s written as n/a).
  absl::StatusOr<std::vector<StepRow>> Drain(Communicator& communicator, bool stop_requested, bool* stop,
                                             const CudaMemory& memory = CudaMemory());
  // Makes what was written durable enough to read (flushes both files).
  void Flush();

 private:
  explicit StepLog(torch::Device device) : device_(device) {}
  absl::Status WriteRows(const std::vector<StepRow>& rows);

  torch::Device device_;
  std::string metrics_path_;
  std::ofstream metrics_;
  std::unique_ptr<EventWriter> events_;
  bool header_written_ = false;
  std::optional<double> resumed_first_loss_;
  std::vector<std::string> term_names_;
  std::vector<StepFacts> facts_;
  std::vector<torch::Tensor> device_rows_;  // (K,) float32 each, on the training device
  torch::Tensor nan_;                       // a 0-dim NaN on that device (no grad norm)
};

}  // namespace chexworld

#endif  // CHEXWORLD_TRAIN_STEP_LOG_H_
